// Other entries to the same file action: a read of /etc/shadow through the
// 32-bit `int $0x80` syscall ABI, through io_uring, and through
// open_by_handle_at must each be detected as credentials_files_access,
// naming the process that did it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstring>
#include <functional>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "records.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char *kConfig = R"([exec]
cadence = "100ms"
[file_access]
cadence = "100ms"
[plugins.file]
[printers.stdout]
format = "json"
)";

// Run act in a forked child (only syscalls there: the parent has threads);
// its return value is the child's exit status.
ChildResult inChild(const std::function<int()> &act) {
  pid_t pid = fork();
  if (pid == 0) _exit(act());
  int status = -1;
  waitpid(pid, &status, 0);
  return {pid, status};
}

// The detection credentials_files_access names pid with /etc/shadow.
void expectShadowDetected(DaemonProcess &daemon, const ChildResult &child) {
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0)
      << "the child's act failed: status " << child.status;
  auto found = waitForDetection(daemon, child.pid, 10s, "credentials_files_access");
  ASSERT_TRUE(found) << "no detection for pid " << child.pid << "\nstdout:\n"
                     << daemon.stdoutText() << "\nstderr:\n"
                     << daemon.stderrText();
  const json &d = *found;
  EXPECT_EQ(d["file"]["path"], "/etc/shadow");
  EXPECT_EQ(d["file"]["actions"], json::array({"open", "read"}));
  char self_exe[4096] = "";
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(d["process"]["exe"], std::string(self_exe, n));
}

// open(path, O_RDONLY) through the ia32 entry: 32-bit syscall numbers, the
// arguments in ebx/ecx, and the path below 4 GiB (MAP_32BIT).
int int80Open(const char *path) {
  void *low =
      mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_32BIT, -1, 0);
  if (low == MAP_FAILED) return 2;
  std::strcpy(static_cast<char *>(low), path);
  long ret = 5;  // ia32 open
  asm volatile("int $0x80"
               : "+a"(ret)
               : "b"(reinterpret_cast<uintptr_t>(low)), "c"(O_RDONLY), "d"(0)
               : "memory");
  return ret >= 0 ? 0 : 3;
}

TEST(OtherEntries, Int80OpenOfShadowIsDetected) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  expectShadowDetected(daemon, inChild([] { return int80Open("/etc/shadow"); }));
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

// One open of path through a new io_uring ring, by the raw syscalls.
int uringOpen(uint8_t opcode, const char *path) {
  io_uring_params params{};
  int ring = static_cast<int>(syscall(SYS_io_uring_setup, 1, &params));
  if (ring < 0) return 2;
  size_t sq_bytes = params.sq_off.array + params.sq_entries * sizeof(uint32_t);
  size_t cq_bytes = params.cq_off.cqes + params.cq_entries * sizeof(io_uring_cqe);
  auto *sq = static_cast<char *>(
      mmap(nullptr, sq_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQ_RING));
  auto *cq = static_cast<char *>(
      mmap(nullptr, cq_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_CQ_RING));
  auto *sqes = static_cast<io_uring_sqe *>(mmap(
      nullptr, sizeof(io_uring_sqe), PROT_READ | PROT_WRITE, MAP_SHARED, ring, IORING_OFF_SQES));
  if (sq == MAP_FAILED || cq == MAP_FAILED || sqes == MAP_FAILED) return 3;
  open_how how{};
  how.flags = O_RDONLY;
  io_uring_sqe &sqe = sqes[0];
  std::memset(&sqe, 0, sizeof sqe);
  sqe.opcode = opcode;
  sqe.fd = AT_FDCWD;
  sqe.addr = reinterpret_cast<uintptr_t>(path);
  if (opcode == IORING_OP_OPENAT2) {
    sqe.len = sizeof how;
    sqe.addr2 = reinterpret_cast<uintptr_t>(&how);
  } else {
    sqe.open_flags = O_RDONLY;
  }
  auto *array = reinterpret_cast<uint32_t *>(sq + params.sq_off.array);
  auto *tail = reinterpret_cast<std::atomic<uint32_t> *>(sq + params.sq_off.tail);
  array[0] = 0;
  tail->store(tail->load() + 1, std::memory_order_release);
  if (syscall(SYS_io_uring_enter, ring, 1, 1, IORING_ENTER_GETEVENTS, nullptr, 0) != 1) return 4;
  auto *head = reinterpret_cast<std::atomic<uint32_t> *>(cq + params.cq_off.head);
  auto *cqes = reinterpret_cast<io_uring_cqe *>(cq + params.cq_off.cqes);
  int res = cqes[head->load() & (params.cq_entries - 1)].res;
  return res >= 0 ? 0 : 5;
}

TEST(OtherEntries, IoUringOpenatOfShadowIsDetected) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  expectShadowDetected(daemon, inChild([] { return uringOpen(IORING_OP_OPENAT, "/etc/shadow"); }));
  expectShadowDetected(daemon, inChild([] { return uringOpen(IORING_OP_OPENAT2, "/etc/shadow"); }));
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

TEST(OtherEntries, OpenByHandleAtOfShadowIsDetected) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  // The handle is taken here (no open); only the child opens by it.
  struct {
    file_handle h;
    unsigned char bytes[MAX_HANDLE_SZ];
  } handle{};
  handle.h.handle_bytes = MAX_HANDLE_SZ;
  int mount_id = 0;
  ASSERT_EQ(name_to_handle_at(AT_FDCWD, "/etc/shadow", &handle.h, &mount_id, 0), 0)
      << std::strerror(errno);
  int mount_fd = open("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(mount_fd, 0);
  expectShadowDetected(daemon, inChild([&] {
                         return open_by_handle_at(mount_fd, &handle.h, O_RDONLY) >= 0 ? 0 : 2;
                       }));
  close(mount_fd);
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
