// Other entries to the same file action: a read of /etc/shadow through the
// 32-bit `int $0x80` syscall ABI, through io_uring, and through
// open_by_handle_at must each be detected as credentials_files_access,
// naming the process that did it.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <linux/io_uring.h>
#include <linux/openat2.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>

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

constexpr uint8_t kOpFtruncate = 55;  // IORING_OP_FTRUNCATE (6.9): newer than these headers

constexpr int kRingFailed = -100000;

// An io_uring ring made by the raw syscalls, for a child: no allocation
// (the parent has threads), and nothing freed before the child exits. A
// fixed-file table of one slot is registered, holding fixed_fd or empty.
class Ring {
 public:
  // entries submission slots and cq_entries completion slots (0: the
  // kernel's default, twice entries).
  explicit Ring(unsigned entries, unsigned cq_entries = 0, int fixed_fd = -1) {
    if (cq_entries) {
      params_.flags = IORING_SETUP_CQSIZE;
      params_.cq_entries = cq_entries;
    }
    fd_ = static_cast<int>(syscall(SYS_io_uring_setup, entries, &params_));
    if (fd_ < 0) return;
    sq_ = map(params_.sq_off.array + params_.sq_entries * sizeof(uint32_t), IORING_OFF_SQ_RING);
    cq_ = map(params_.cq_off.cqes + params_.cq_entries * sizeof(io_uring_cqe), IORING_OFF_CQ_RING);
    sqes_ = reinterpret_cast<io_uring_sqe *>(
        map(params_.sq_entries * sizeof(io_uring_sqe), IORING_OFF_SQES));
    ok_ = sq_ && cq_ && sqes_ &&
          syscall(SYS_io_uring_register, fd_, IORING_REGISTER_FILES, &fixed_fd, 1) == 0;
  }
  bool ok() const { return ok_; }

  // Queue sqe for the next enter.
  void push(const io_uring_sqe &sqe) {
    uint32_t at = (sqTail()->load() + queued_) & (params_.sq_entries - 1);
    sqes_[at] = sqe;
    reinterpret_cast<uint32_t *>(sq_ + params_.sq_off.array)[at] = at;
    queued_++;
  }
  // Submit what is queued and wait until wait completions are posted;
  // false when not all were submitted.
  bool enter(unsigned wait) {
    sqTail()->store(sqTail()->load() + queued_, std::memory_order_release);
    long n = syscall(SYS_io_uring_enter, fd_, queued_, wait, wait ? IORING_ENTER_GETEVENTS : 0,
                     nullptr, 0);
    bool all = n == long(queued_);
    queued_ = 0;
    return all;
  }
  // The result of the first completion posted with user_data, else nullopt.
  std::optional<int> result(uint64_t user_data) const {
    for (uint32_t at = cqHead()->load(); at != cqTail()->load(); at++) {
      const io_uring_cqe &c = cqes()[at & (params_.cq_entries - 1)];
      if (c.user_data == user_data) return c.res;
    }
    return std::nullopt;
  }
  // Whether a completion posted with user_data succeeded.
  bool succeeded(uint64_t user_data) const {
    for (uint32_t at = cqHead()->load(); at != cqTail()->load(); at++) {
      const io_uring_cqe &c = cqes()[at & (params_.cq_entries - 1)];
      if (c.user_data == user_data && c.res >= 0) return true;
    }
    return false;
  }
  // Take every completion posted: the queue has room again.
  void reap() { cqHead()->store(cqTail()->load(), std::memory_order_release); }

 private:
  char *map(size_t bytes, off_t what) const {
    void *p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd_, what);
    return p == MAP_FAILED ? nullptr : static_cast<char *>(p);
  }
  std::atomic<uint32_t> *sqTail() const {
    return reinterpret_cast<std::atomic<uint32_t> *>(sq_ + params_.sq_off.tail);
  }
  std::atomic<uint32_t> *cqHead() const {
    return reinterpret_cast<std::atomic<uint32_t> *>(cq_ + params_.cq_off.head);
  }
  std::atomic<uint32_t> *cqTail() const {
    return reinterpret_cast<std::atomic<uint32_t> *>(cq_ + params_.cq_off.tail);
  }
  const io_uring_cqe *cqes() const {
    return reinterpret_cast<const io_uring_cqe *>(cq_ + params_.cq_off.cqes);
  }

  io_uring_params params_{};
  int fd_ = -1;
  char *sq_ = nullptr, *cq_ = nullptr;
  io_uring_sqe *sqes_ = nullptr;
  unsigned queued_ = 0;
  bool ok_ = false;
};

// Submit sqe through a new ring (its fixed-file slot holding fixed_fd or
// empty) and wait for its completion: its result (0 without waiting for an
// IOSQE_CQE_SKIP_SUCCESS one), or kRingFailed when the ring could not be
// used.
int uringSubmit(io_uring_sqe sqe, int fixed_fd = -1) {
  Ring ring(1, 0, fixed_fd);
  if (!ring.ok()) return kRingFailed;
  sqe.user_data = 1;
  ring.push(sqe);
  // A success of IOSQE_CQE_SKIP_SUCCESS posts no completion: none is waited for.
  bool skip = sqe.flags & IOSQE_CQE_SKIP_SUCCESS;
  if (!ring.enter(skip ? 0 : 1)) return kRingFailed;
  if (skip) return 0;
  return ring.result(1).value_or(kRingFailed);
}

// An SQE of opcode on (dfd, path), with addr2 and len as the op takes them.
io_uring_sqe uringSqe(uint8_t opcode, int dfd, const char *path, uint64_t addr2 = 0,
                      uint32_t len = 0) {
  io_uring_sqe sqe{};
  sqe.opcode = opcode;
  sqe.fd = dfd;
  sqe.addr = reinterpret_cast<uintptr_t>(path);
  sqe.addr2 = addr2;
  sqe.len = len;
  return sqe;
}

// One open of path through a new io_uring ring.
int uringOpen(uint8_t opcode, const char *path) {
  open_how how{};
  how.flags = O_RDONLY;
  io_uring_sqe sqe = uringSqe(opcode, AT_FDCWD, path);
  if (opcode == IORING_OP_OPENAT2) {
    sqe.len = sizeof how;
    sqe.addr2 = reinterpret_cast<uintptr_t>(&how);
  } else {
    sqe.open_flags = O_RDONLY;
  }
  return uringSubmit(sqe) >= 0 ? 0 : 5;
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

// io_uring file operations on files a recipe of the test's watches, in a
// directory of its own: each is detected as its syscall would be, naming
// the action, the path and the process (bpf/abi.bpf.h).
class IoUringFileOps : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    char tmpl[] = "/tmp/raqib-uring-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_ = std::make_unique<TempFile>(
        "raqib.toml",
        fileRecipeConfig("test_uring_watched",
                         R"(["open", "truncate", "unlink", "rename", "link", "symlink", "setcap"])",
                         dir_ + "/", "failed_attempts = true\n"));
    daemon_ =
        std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config_->path()});
    ASSERT_TRUE(daemon_->waitReady()) << daemon_->stderrText();
  }
  static void TearDownTestSuite() {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(std::chrono::seconds(60)), 0) << daemon_->stderrText();
    }
    daemon_.reset();
    config_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static std::string path(const std::string &name) { return dir_ + "/" + name; }
  static void create(const std::string &name) {
    std::ofstream(path(name)) << "x\n";
    ASSERT_TRUE(std::filesystem::exists(path(name)));
  }

  // The child's act succeeded (exit status 0); then the recipe's detection
  // about the child names actions on file, with other_path when given, and
  // the test's executable.
  static void expectDetected(const ChildResult &child, const std::string &file, const json &actions,
                             const std::string &other = "") {
    ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0)
        << "the child's act failed: status " << child.status;
    auto line = daemon_->waitForStdout(
        [&](const std::string &l) {
          json j = json::parse(l, nullptr, false);
          return j.is_object() && j["kind"] == "detection" && j["name"] == "test_uring_watched" &&
                 j["process"]["pid"] == child.pid && j["file"]["path"] == file &&
                 j["file"]["actions"] == actions;
        },
        15s);
    ASSERT_TRUE(line) << "no detection of " << actions << " on " << file << " by pid " << child.pid
                      << "\nstdout:\n"
                      << daemon_->stdoutText() << "\nstderr:\n"
                      << daemon_->stderrText();
    json d = json::parse(*line);
    if (!other.empty()) {
      EXPECT_EQ(d["file"]["other_path"], other);
    }
    char self_exe[4096] = "";
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    ASSERT_GT(n, 0);
    EXPECT_EQ(d["process"]["exe"], std::string(self_exe, n));
  }

  // The child submits sqe and exits 0 when its result is as want says.
  static ChildResult submitInChild(const io_uring_sqe &sqe, const std::function<bool(int)> &want) {
    return inChild([&] {
      int res = uringSubmit(sqe);
      return res != kRingFailed && want(res) ? 0 : 2;
    });
  }
  static bool ok(int res) { return res >= 0; }

  // An open of path (O_RDONLY) with user_data.
  static io_uring_sqe openSqe(const char *path, uint64_t user_data) {
    io_uring_sqe sqe = uringSqe(IORING_OP_OPENAT, AT_FDCWD, path);
    sqe.open_flags = O_RDONLY;
    sqe.user_data = user_data;
    return sqe;
  }

  // The child fills its ring's completion queue with NOPs, then opens file
  // (user_data 7) and, when decoy is given, opens decoy with the same
  // user_data in the same submission: their completions go to the
  // overflow list, where io_uring_complete does not run. Exits 0 when
  // file's open succeeded.
  static ChildResult openWithAFullCompletionQueue(const std::string &file,
                                                  const char *decoy = nullptr) {
    return inChild([&] {
      constexpr unsigned kSlots = 8;
      Ring ring(kSlots, kSlots);
      if (!ring.ok()) return 2;
      io_uring_sqe nop{};
      nop.opcode = IORING_OP_NOP;
      for (unsigned i = 0; i < kSlots; i++) ring.push(nop);
      if (!ring.enter(kSlots)) return 3;
      ring.push(openSqe(file.c_str(), 7));
      if (decoy) ring.push(openSqe(decoy, 7));
      if (!ring.enter(0)) return 4;
      ring.reap();
      if (!ring.enter(1)) return 5;      // takes the overflow list into the queue
      return ring.succeeded(7) ? 0 : 6;  // file's open (the decoy fails: ENOENT)
    });
  }

  static inline std::string dir_;
  static inline std::unique_ptr<TempFile> config_;
  static inline std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(IoUringFileOps, UnlinkatRelativeToADirectoryFdIsDetected) {
  create("unlinked");
  int dir = open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  ASSERT_GE(dir, 0);
  expectDetected(submitInChild(uringSqe(IORING_OP_UNLINKAT, dir, "unlinked"), ok), path("unlinked"),
                 json::array({"unlink"}));
  close(dir);
  EXPECT_FALSE(std::filesystem::exists(path("unlinked")));
}

TEST_F(IoUringFileOps, RmdirThroughUnlinkatIsDetected) {
  ASSERT_TRUE(std::filesystem::create_directory(path("removed-dir")));
  std::string removed = path("removed-dir");
  io_uring_sqe sqe = uringSqe(IORING_OP_UNLINKAT, AT_FDCWD, removed.c_str());
  sqe.unlink_flags = AT_REMOVEDIR;
  expectDetected(submitInChild(sqe, ok), removed, json::array({"unlink"}));
  EXPECT_FALSE(std::filesystem::exists(removed));
}

// Its success posts no completion: recorded at its submission.
TEST_F(IoUringFileOps, AnUnlinkWhoseSuccessPostsNoCompletionIsDetected) {
  create("skipped");
  std::string victim = path("skipped");
  io_uring_sqe sqe = uringSqe(IORING_OP_UNLINKAT, AT_FDCWD, victim.c_str());
  sqe.flags = IOSQE_CQE_SKIP_SUCCESS;
  expectDetected(inChild([&] {
                   if (uringSubmit(sqe) != 0) return 2;
                   // The unlink runs in an io-wq worker: wait (5 s at most) until it is done.
                   for (int i = 0; i < 5000 && access(victim.c_str(), F_OK) == 0; i++) usleep(1000);
                   return access(victim.c_str(), F_OK) == 0 ? 3 : 0;
                 }),
                 victim, json::array({"unlink"}));
}

TEST_F(IoUringFileOps, RenameatIsDetectedWithTheNewName) {
  create("renamed-from");
  std::string to = path("renamed-to");
  expectDetected(submitInChild(uringSqe(IORING_OP_RENAMEAT, AT_FDCWD, path("renamed-from").c_str(),
                                        reinterpret_cast<uintptr_t>(to.c_str()), AT_FDCWD),
                               ok),
                 path("renamed-from"), json::array({"rename"}), to);
}

TEST_F(IoUringFileOps, LinkatIsDetectedOnTheNewName) {
  create("link-target");
  std::string link = path("hard-link");
  expectDetected(submitInChild(uringSqe(IORING_OP_LINKAT, AT_FDCWD, path("link-target").c_str(),
                                        reinterpret_cast<uintptr_t>(link.c_str()), AT_FDCWD),
                               ok),
                 link, json::array({"link"}), path("link-target"));
}

TEST_F(IoUringFileOps, SymlinkatIsDetectedWithItsText) {
  std::string link = path("sym-link");
  // SYMLINKAT: addr the link's text, addr2 the new name, fd its directory.
  expectDetected(submitInChild(uringSqe(IORING_OP_SYMLINKAT, AT_FDCWD, "/etc/shadow",
                                        reinterpret_cast<uintptr_t>(link.c_str())),
                               ok),
                 link, json::array({"symlink"}), "/etc/shadow");
}

TEST_F(IoUringFileOps, AFailedOpenIsDetectedWithItsName) {
  std::string missing = path("missing");
  io_uring_sqe sqe = uringSqe(IORING_OP_OPENAT, AT_FDCWD, missing.c_str());
  sqe.open_flags = O_RDONLY;
  expectDetected(submitInChild(sqe, [](int res) { return res == -ENOENT; }), missing,
                 json::array({"open", "read"}));
}

// The slot's file names it: opened by a symlink, the path is the target's.
TEST_F(IoUringFileOps, AnOpenIntoAFixedFileSlotIsDetected) {
  create("fixed");
  std::filesystem::create_symlink(path("fixed"), path("fixed-link"));
  std::string link = path("fixed-link");
  io_uring_sqe sqe = uringSqe(IORING_OP_OPENAT, AT_FDCWD, link.c_str());
  sqe.open_flags = O_RDWR;
  sqe.file_index = 1;  // slot 0 of the ring's table: no fd is installed
  expectDetected(submitInChild(sqe, [](int res) { return res == 0; }), path("fixed"),
                 json::array({"open", "read", "write"}));
}

// A fixed file truncated with IOSQE_CQE_SKIP_SUCCESS: no completion, and no
// fd names it.
TEST_F(IoUringFileOps, AFixedFileTruncatedWithoutCompletionIsDetected) {
  create("fixed-truncated");
  std::string file = path("fixed-truncated");
  int fd = open(file.c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  io_uring_sqe sqe = uringSqe(kOpFtruncate, 0, nullptr);  // slot 0
  sqe.flags = IOSQE_FIXED_FILE | IOSQE_CQE_SKIP_SUCCESS;
  expectDetected(inChild([&] {
                   if (uringSubmit(sqe, fd) != 0) return 2;
                   // It runs in an io-wq worker: wait (5 s at most) until it is done.
                   struct stat st {};
                   for (int i = 0; i < 5000 && stat(file.c_str(), &st) == 0 && st.st_size != 0; i++)
                     usleep(1000);
                   return stat(file.c_str(), &st) == 0 && st.st_size == 0 ? 0 : 3;
                 }),
                 file, json::array({"truncate"}));
  close(fd);
}

// File capabilities set by a path and by an fd: a version 2 value granting
// CAP_NET_RAW (struct vfs_cap_data).
TEST_F(IoUringFileOps, SettingFileCapabilitiesIsDetected) {
  const uint32_t cap[5] = {0x02000000, 1u << 13, 0, 0, 0};
  const char *name = "security.capability";
  create("capped-by-path");
  std::string by_path = path("capped-by-path");
  io_uring_sqe sqe =
      uringSqe(IORING_OP_SETXATTR, 0, name, reinterpret_cast<uintptr_t>(cap), sizeof cap);
  sqe.addr3 = reinterpret_cast<uintptr_t>(by_path.c_str());
  expectDetected(submitInChild(sqe, ok), by_path, json::array({"setcap"}));

  create("capped-by-fd");
  int fd = open(path("capped-by-fd").c_str(), O_RDONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  sqe = uringSqe(IORING_OP_FSETXATTR, fd, name, reinterpret_cast<uintptr_t>(cap), sizeof cap);
  expectDetected(submitInChild(sqe, ok), path("capped-by-fd"), json::array({"setcap"}));
  close(fd);
}

TEST_F(IoUringFileOps, FtruncateIsDetected) {
  create("truncated");
  int fd = open(path("truncated").c_str(), O_WRONLY | O_CLOEXEC);
  ASSERT_GE(fd, 0);
  io_uring_sqe sqe = uringSqe(kOpFtruncate, fd, nullptr);
  sqe.off = 0;  // the new length
  expectDetected(submitInChild(sqe, ok), path("truncated"), json::array({"truncate"}));
  close(fd);
}

// io_uring_complete does not run for a completion that overflowed: the
// request is found by its ring and user_data (bpf/abi.bpf.h).
TEST_F(IoUringFileOps, AnOpenWhoseCompletionOverflowsIsDetected) {
  create("overflowed");
  expectDetected(openWithAFullCompletionQueue(path("overflowed")), path("overflowed"),
                 json::array({"open", "read"}));
}

// user_data is the submitter's: a decoy in flight with the open's user_data
// cannot take the open's place when both completions overflow.
TEST_F(IoUringFileOps, AnOpenSharingItsUserDataWhoseCompletionOverflowsIsDetected) {
  create("shared-user-data");
  std::string decoy = path("no-such-file");
  expectDetected(openWithAFullCompletionQueue(path("shared-user-data"), decoy.c_str()),
                 path("shared-user-data"), json::array({"open", "read"}));
}

// Through a symlink, with a decoy in flight holding its user_data: the open
// is recorded at its submission by the link's name, and again at its
// completion from the file it opened, the watched one.
TEST_F(IoUringFileOps, AnOpenThroughASymlinkSharingItsUserDataIsDetectedByItsTarget) {
  create("symlinked");
  std::string link = dir_ + "-link";  // outside the watched directory
  std::filesystem::remove(link);
  std::filesystem::create_symlink(path("symlinked"), link);
  expectDetected(inChild([&] {
                   Ring ring(4);
                   if (!ring.ok()) return 2;
                   __kernel_timespec delay{0, 200'000'000};
                   io_uring_sqe timeout{};
                   timeout.opcode = IORING_OP_TIMEOUT;
                   timeout.addr = reinterpret_cast<uintptr_t>(&delay);
                   timeout.len = 1;
                   timeout.flags = IOSQE_IO_HARDLINK;  // runs the decoy when it expires
                   ring.push(timeout);
                   ring.push(openSqe("/nonexistent-raqib-decoy", 7));
                   ring.push(openSqe(link.c_str(), 7));
                   if (!ring.enter(3)) return 3;
                   return ring.succeeded(7) ? 0 : 4;
                 }),
                 path("symlinked"), json::array({"open", "read"}));
  std::filesystem::remove(link);
}

// With IOSQE_CQE_SKIP_SUCCESS an open's success posts no completion, and
// nothing names the file it opened (through a symlink, its record names the
// link): the submission itself is reported.
TEST_F(IoUringFileOps, AnOpenWhoseSuccessPostsNoCompletionIsReported) {
  create("unnamed");
  std::string link = dir_ + "-unnamed-link";
  std::filesystem::remove(link);
  std::filesystem::create_symlink(path("unnamed"), link);
  io_uring_sqe sqe = openSqe(link.c_str(), 1);
  sqe.flags = IOSQE_CQE_SKIP_SUCCESS;
  ChildResult child = inChild([&] { return uringSubmit(sqe) == 0 ? 0 : 2; });
  std::filesystem::remove(link);
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0);
  auto line = daemon_->waitForStdout(
      [&](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["kind"] == "tamper" && j["move"] == "uring_unnamed_open" &&
               j["process"]["pid"] == child.pid;
      },
      15s);
  ASSERT_TRUE(line) << daemon_->stdoutText() << daemon_->stderrText();
  EXPECT_EQ(json::parse(*line)["importance"], "high");
}

// An open linked behind a 200 ms timeout, then more file requests in flight
// than uring_requests holds (1024), each behind its own timeout: when the
// map was an LRU, they evicted the open's entry before it ran.
TEST_F(IoUringFileOps, AnOpenBehindAFloodOfRequestsInFlightIsDetected) {
  create("behind-a-flood");
  std::string file = path("behind-a-flood");
  expectDetected(inChild([&] {
                   constexpr unsigned kFlood = 1500;
                   Ring ring(4096, 8192);
                   if (!ring.ok()) return 2;
                   __kernel_timespec delay{0, 200'000'000};
                   auto behindATimeout = [&](const io_uring_sqe &sqe) {
                     io_uring_sqe timeout{};
                     timeout.opcode = IORING_OP_TIMEOUT;
                     timeout.addr = reinterpret_cast<uintptr_t>(&delay);
                     timeout.len = 1;
                     timeout.flags = IOSQE_IO_HARDLINK;  // runs sqe when it expires
                     ring.push(timeout);
                     ring.push(sqe);
                   };
                   behindATimeout(openSqe(file.c_str(), 1));
                   for (unsigned i = 0; i < kFlood; i++)  // missing files: no fd taken
                     behindATimeout(openSqe("/nonexistent-raqib-flood", 2 + i));
                   if (!ring.enter(2 * (kFlood + 1))) return 3;
                   return ring.succeeded(1) ? 0 : 4;
                 }),
                 file, json::array({"open", "read"}));
}

}  // namespace
}  // namespace raqib::test
