// Every file action raqib records, done for real by a child process, and
// reported as info records (--events all) with canonical absolute paths.
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mman.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <climits>
#include <cstring>
#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <thread>

#include "records.hpp"
#include "shared_daemon.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;

class FileActions : public SharedDaemonTest {
 protected:
  void SetUp() override {
    // Resolve the temporary directory itself, so expectations are canonical.
    dir_ = fs::canonical(fs::temp_directory_path()) /
           ("raqib-fa-" + std::to_string(getpid()) + "-" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
    fs::create_directories(dir_ / "real");
    std::ofstream(dir_ / "real" / "f") << "data";
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The records of act, run in a child, from an attempt the daemon lost
  // nothing of (losslessRecordsOfChild): before each further attempt dir_
  // is put back as it was before the first.
  std::vector<json> run(const std::function<void()> &act) {
    fs::path before = dir_.string() + ".before";
    fs::remove_all(before);
    fs::copy(dir_, before, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    auto records = losslessRecordsOfChild(*daemon_, act, (dir_ / "marker").string(), [&] {
      fs::remove_all(dir_);
      fs::copy(before, dir_, fs::copy_options::recursive | fs::copy_options::copy_symlinks);
    });
    fs::remove_all(before);
    EXPECT_FALSE(records.empty()) << "no marker record; stderr:\n" << daemon_->stderrText();
    if (getenv("RAQIB_TEST_DEBUG"))
      for (const auto &r : records) std::cerr << r.dump() << "\n";
    return records;
  }
  // The set of action lists recorded for path.
  std::set<std::vector<std::string>> actionsOn(const std::vector<json> &records,
                                               const fs::path &path) {
    std::set<std::vector<std::string>> out;
    for (const auto &r : fileRecords(records, path.string()))
      out.insert(r["file"]["actions"].get<std::vector<std::string>>());
    return out;
  }

  fs::path dir_;
};

TEST_F(FileActions, EveryWayOfNamingAnOpenYieldsTheCanonicalPath) {
  fs::create_directory_symlink(dir_ / "real", dir_ / "link");
  fs::path canonical = dir_ / "real" / "f";
  std::string d = dir_.string();
  auto records = run([&] {
    if (chdir(d.c_str()) != 0) _exit(3);
    int dirfd = open("real", O_RDONLY | O_DIRECTORY);
    int fds[] = {
        open("real/f", O_RDONLY),                                     // relative
        openat(dirfd, "f", O_RDONLY),                                 // dirfd
        open("real/../real/./f", O_RDONLY),                           // ..
        open("link/f", O_RDONLY),                                     // through a symlink
        open(("/proc/self/root" + d + "/real/f").c_str(), O_RDONLY),  // a /proc detour
    };
    for (int fd : fds)
      if (fd < 0) _exit(4);
  });
  auto opens = fileRecords(records, canonical.string());
  ASSERT_EQ(opens.size(), 1u) << "one entry per (process, path, actions)";
  EXPECT_EQ(opens[0]["file"]["actions"], json::array({"open", "read"}));
  EXPECT_EQ(opens[0]["count"], 5);
  EXPECT_FALSE(opens[0]["file"].contains("path_lexical"));
}

TEST_F(FileActions, OpensAfterADirectoryRenameCarryTheNewPath) {
  // Repeated opens of a file are counted from a cache of its path; renaming
  // a directory above it must not leave the old path in use.
  fs::path before = dir_ / "real" / "f", after = dir_ / "moved" / "f";
  auto records = run([&] {
    for (int i = 0; i < 3; i++) close(open(before.c_str(), O_RDONLY));
    if (rename((dir_ / "real").c_str(), (dir_ / "moved").c_str()) != 0) _exit(3);
    for (int i = 0; i < 2; i++) close(open(after.c_str(), O_RDONLY));
  });
  auto old_path = fileRecords(records, before.string());
  auto new_path = fileRecords(records, after.string());
  ASSERT_EQ(old_path.size(), 1u);
  ASSERT_EQ(new_path.size(), 1u);
  EXPECT_EQ(old_path[0]["count"], 3);
  EXPECT_EQ(new_path[0]["count"], 2);
}

TEST_F(FileActions, CreateWriteTruncateAndFailedOpen) {
  fs::path created = dir_ / "new";
  auto records = run([&] {
    int fd = open(created.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0 || write(fd, "x", 1) != 1) _exit(3);
    close(fd);
    if (truncate(created.c_str(), 0) != 0) _exit(4);
    fd = open(created.c_str(), O_RDWR);
    if (fd < 0 || ftruncate(fd, 0) != 0) _exit(5);
    open("/nonexistent-raqib/x", O_RDONLY);
  });
  auto actions = actionsOn(records, created);
  EXPECT_TRUE(actions.count({"open", "write", "create", "truncate"}));
  EXPECT_TRUE(actions.count({"open", "read", "write"}));
  EXPECT_TRUE(actions.count({"truncate"}));  // truncate(2) and ftruncate(2): same key
  auto failed = fileRecords(records, "/nonexistent-raqib/x");
  ASSERT_EQ(failed.size(), 1u);
  EXPECT_EQ(failed[0]["file"]["error"], -ENOENT);
  EXPECT_EQ(failed[0]["file"]["path_unresolved"], true);
}

TEST_F(FileActions, UnlinkRenameLinkSymlink) {
  fs::path a = dir_ / "a", b = dir_ / "b", hard = dir_ / "hard", soft = dir_ / "soft";
  std::ofstream(a) << "x";
  std::string d = dir_.string();
  auto records = run([&] {
    if (chdir(d.c_str()) != 0) _exit(3);
    if (rename("a", "b") != 0) _exit(4);  // relative names
    if (link(b.c_str(), hard.c_str()) != 0) _exit(5);
    if (symlink("b", "soft") != 0) _exit(6);
    if (unlink("./real/../hard") != 0) _exit(7);  // folded
    int dirfd = open(d.c_str(), O_RDONLY | O_DIRECTORY);
    if (unlinkat(dirfd, "soft", 0) != 0) _exit(8);
  });
  auto renamed = fileRecords(records, a.string());
  ASSERT_EQ(renamed.size(), 1u);
  EXPECT_EQ(renamed[0]["file"]["actions"], json::array({"rename"}));
  EXPECT_EQ(renamed[0]["file"]["other_path"], b.string());
  auto linked = fileRecords(records, hard.string());
  ASSERT_EQ(linked.size(), 2u);
  EXPECT_EQ(actionsOn(records, hard), (std::set<std::vector<std::string>>{{"link"}, {"unlink"}}));
  for (const auto &r : linked)
    if (r["file"]["actions"][0] == "link") {
      EXPECT_EQ(r["file"]["other_path"], b.string());
    }
  EXPECT_EQ(actionsOn(records, soft),
            (std::set<std::vector<std::string>>{{"symlink"}, {"unlink"}}));
  for (const auto &r : fileRecords(records, soft.string()))
    if (r["file"]["actions"][0] == "symlink") {
      EXPECT_EQ(r["file"]["other_path"], "b");
    }
}

TEST_F(FileActions, ChmodChownSetcapMmapExec) {
  fs::path f = dir_ / "real" / "f";
  // A v2 file-capability value granting cap_net_raw (bit 13), effective.
  const uint32_t caps[5] = {0x02000001, 1u << 13, 0, 0, 0};
  auto records = run([&] {
    if (chmod(f.c_str(), 0640) != 0) _exit(3);
    int fd = open(f.c_str(), O_RDONLY);
    if (fd < 0 || fchmod(fd, 0600) != 0) _exit(4);
    if (chown(f.c_str(), 0, 0) != 0 || fchown(fd, 0, 0) != 0) _exit(5);
    if (setxattr(f.c_str(), "security.capability", caps, sizeof caps, 0) != 0) _exit(6);
    if (setxattr(f.c_str(), "user.raqib", "x", 1, 0) != 0) _exit(7);  // not recorded
    void *m = mmap(nullptr, 4, PROT_READ | PROT_EXEC, MAP_PRIVATE, fd, 0);
    if (m == MAP_FAILED) _exit(8);
    void *plain = mmap(nullptr, 4, PROT_READ, MAP_PRIVATE, fd, 0);  // not recorded
    if (plain == MAP_FAILED) _exit(9);
  });
  auto actions = actionsOn(records, f);
  EXPECT_TRUE(actions.count({"chmod"}));
  EXPECT_TRUE(actions.count({"chown"}));
  EXPECT_TRUE(actions.count({"setcap"}));
  EXPECT_TRUE(actions.count({"mmap_exec"}));
  EXPECT_EQ(actions.size(), 5u) << "open, chmod, chown, setcap, mmap_exec and nothing else";
  int chmods = 0;  // chmod by name (path_lexical) and fchmod by fd: two keys
  for (const auto &r : fileRecords(records, f.string()))
    if (r["file"]["actions"][0] == "chmod") chmods += r["count"].get<int>();
  EXPECT_EQ(chmods, 2);
}

// setxattrat(2) (Linux 6.13): the attribute's name is its fourth argument,
// the value comes in a struct xattr_args.
long setxattrat(const char *path, const char *name, const void *value, uint32_t size) {
  struct {
    uint64_t value;
    uint32_t size;
    uint32_t flags;
  } args{reinterpret_cast<uintptr_t>(value), size, 0};
  constexpr long kSetxattrat = 463;
  return syscall(kSetxattrat, AT_FDCWD, path, 0, name, &args, sizeof args);
}

TEST_F(FileActions, SetxattratOfTheCapabilityIsRecorded) {
  fs::path f = dir_ / "real" / "f";
  const uint32_t caps[5] = {0x02000001, 1u << 13, 0, 0, 0};
  auto records = run([&] {
    if (setxattrat(f.c_str(), "security.capability", caps, sizeof caps) != 0) _exit(3);
    if (setxattrat(f.c_str(), "user.raqib", "x", 1) != 0) _exit(4);  // not recorded
  });
  EXPECT_EQ(actionsOn(records, f), (std::set<std::vector<std::string>>{{"setcap"}}));
  int setcaps = 0;
  for (const auto &r : fileRecords(records, f.string())) setcaps += r["count"].get<int>();
  EXPECT_EQ(setcaps, 1);
}

// Mounts and unmounts are file actions on their target; unshare and setns
// are events of the process, whose record then carries its new namespaces.
TEST_F(FileActions, MountsUnmountsAndNamespaceChangesAreRecorded) {
  fs::path mnt = dir_ / "mnt";
  fs::create_directory(mnt);
  auto records = run([&] {
    if (unshare(CLONE_NEWNS) != 0) _exit(3);
    if (mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) _exit(4);
    if (mount("raqibfs", mnt.c_str(), "tmpfs", 0, nullptr) != 0) _exit(5);
    if (umount(mnt.c_str()) != 0) _exit(6);
    int ns = open("/proc/self/ns/net", O_RDONLY | O_CLOEXEC);
    if (ns < 0 || setns(ns, CLONE_NEWNET) != 0) _exit(7);
  });
  EXPECT_EQ(actionsOn(records, mnt), (std::set<std::vector<std::string>>{{"mount"}, {"umount"}}));
  for (const auto &r : fileRecords(records, mnt.string())) {
    if (r["file"]["actions"][0] == "mount") {
      EXPECT_EQ(r["file"]["other_path"], "raqibfs");
    }
  }
  EXPECT_EQ(actionsOn(records, "/"), (std::set<std::vector<std::string>>{{"mount"}}));

  char own_mnt_ns[64] = "";
  ASSERT_GT(readlink("/proc/self/ns/mnt", own_mnt_ns, sizeof own_mnt_ns - 1), 0);
  std::set<std::string> events;
  for (const auto &r : records) {
    if (r.value("type", "") != "exec") continue;
    for (const auto &e : r["exec"]["events"]) events.insert(e.get<std::string>());
    bool unshared = std::find(r["exec"]["events"].begin(), r["exec"]["events"].end(), "unshare") !=
                    r["exec"]["events"].end();
    if (unshared) {
      EXPECT_NE("mnt:[" + std::to_string(r["process"]["namespaces"]["mnt"].get<uint64_t>()) + "]",
                own_mnt_ns)
          << r.dump();
    }
  }
  EXPECT_TRUE(events.count("unshare")) << "events seen: " << json(events).dump();
  EXPECT_TRUE(events.count("setns")) << "events seen: " << json(events).dump();
}

// A page of this process that userfaultfd holds back: a thread touching it
// (or the kernel reading it for a syscall) waits until the page is supplied
// through uffd. Exits the test's child with a code when a step fails.
struct HeldPage {
  int uffd;
  void *page;
  uffdio_range range;
};
HeldPage holdPage() {
  long size = sysconf(_SC_PAGESIZE);
  int uffd = static_cast<int>(syscall(SYS_userfaultfd, O_CLOEXEC));
  if (uffd < 0) _exit(20);
  uffdio_api api{};
  api.api = UFFD_API;
  if (ioctl(uffd, UFFDIO_API, &api) != 0) _exit(21);
  void *page = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (page == MAP_FAILED) _exit(22);
  uffdio_register reg{};
  reg.range = {reinterpret_cast<uintptr_t>(page), static_cast<uint64_t>(size)};
  reg.mode = UFFDIO_REGISTER_MODE_MISSING;
  if (ioctl(uffd, UFFDIO_REGISTER, &reg) != 0) _exit(23);
  return {uffd, page, reg.range};
}

// setxattr copies the attribute's name and then its value; with the value
// in a page userfaultfd holds back, a second thread rewrites the name after
// the kernel copied it and before the syscall returns. raqib must record
// the name the kernel used (read at the entry), not the one left at the exit.
TEST_F(FileActions, ANameRewrittenDuringTheSyscallIsNotWhatIsRecorded) {
  fs::path f = dir_ / "real" / "f";
  auto records = run([&] {
    static char name[] = "security.capability";
    HeldPage held = holdPage();
    std::thread rewriter([&] {
      uffd_msg msg{};
      if (read(held.uffd, &msg, sizeof msg) != sizeof msg) _exit(7);
      std::memcpy(name, "user.raqib.renamed", sizeof "user.raqib.renamed");
      // The value: a v2 file capability granting cap_net_raw.
      static uint32_t caps[1024] = {0x02000001, 1u << 13};
      uffdio_copy copy{};
      copy.dst = held.range.start;
      copy.src = reinterpret_cast<uintptr_t>(caps);
      copy.len = held.range.len;
      if (ioctl(held.uffd, UFFDIO_COPY, &copy) != 0) _exit(8);
    });
    if (setxattr(f.c_str(), name, held.page, 20, 0) != 0) _exit(9);
    rewriter.join();
  });
  EXPECT_EQ(actionsOn(records, f), (std::set<std::vector<std::string>>{{"setcap"}}));
  std::vector<char> value(64);
  EXPECT_EQ(getxattr(f.c_str(), "security.capability", value.data(), value.size()), 20)
      << "the kernel set the capability";
}

// Thread tid of this process waits in the kernel, uninterruptibly (state
// D), inside syscall nr.
bool blockedIn(pid_t tid, long nr) {
  std::string task = "/proc/self/task/" + std::to_string(tid);
  std::ifstream stat(task + "/stat");
  std::string line;
  std::getline(stat, line);
  auto end = line.rfind(')');  // the name in parentheses may hold spaces
  if (end == std::string::npos || end + 2 >= line.size() || line[end + 2] != 'D') return false;
  long in = -1;
  std::ifstream(task + "/syscall") >> in;
  return in == nr;
}

// In the test's child: run call (syscall nr, taking names in dir) while
// dir's lock is held, and rewrite its names in user memory while it waits in
// the kernel with them already copied. A second thread lists dir into a page
// userfaultfd holds back, which keeps dir's lock taken (shared) until that
// page is supplied; unlink, rename and an O_CREAT open need the lock
// exclusively, after copying their names, so they wait in state D. Exits the
// child with a code (no marker record) when a step fails.
void rewriteWhileHeld(const fs::path &dir, long nr, const std::function<void()> &call,
                      const std::function<void()> &rewrite) {
  HeldPage held = holdPage();
  int dirfd = open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dirfd < 0) _exit(24);
  std::thread lister([&] { syscall(SYS_getdents64, dirfd, held.page, held.range.len); });
  uffd_msg msg{};
  if (read(held.uffd, &msg, sizeof msg) != sizeof msg) _exit(25);  // the lister holds dir's lock
  std::atomic<pid_t> caller{0};
  std::thread calling([&] {
    caller = gettid();
    call();
  });
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  while (caller == 0 || !blockedIn(caller, nr)) {
    if (std::chrono::steady_clock::now() > deadline) _exit(26);
    std::this_thread::yield();
  }
  rewrite();
  uffdio_zeropage zero{};
  zero.range = held.range;
  if (ioctl(held.uffd, UFFDIO_ZEROPAGE, &zero) != 0) _exit(27);
  lister.join();
  calling.join();
  close(dirfd);
  close(held.uffd);
}

// The names an unlink, a rename and a failed open passed, rewritten while
// the kernel works on the copies it made: the record names what the kernel
// acted on (read at the entry), not what the memory holds at the exit. The
// unlinked name is longer than raqib keeps beside the syscall's arguments
// (256 bytes), so both places a name is kept are tried.
TEST_F(FileActions, APathRewrittenDuringTheSyscallIsNotWhatIsRecorded) {
  fs::path victim = dir_ / std::string(250, 'v'), moved = dir_ / "moved",
           taken = dir_ / "real" / "f";
  std::ofstream(victim) << "x";
  std::ofstream(dir_ / "renamed") << "x";
  auto records = run([&] {
    static char from[PATH_MAX], to[PATH_MAX];
    auto set = [](char *buf, const fs::path &p) { std::strcpy(buf, p.c_str()); };
    set(from, dir_ / "renamed");
    set(to, moved);
    rewriteWhileHeld(
        dir_, SYS_rename, [] { syscall(SYS_rename, from, to); },
        [&] {
          set(from, dir_ / "decoy");
          set(to, dir_ / "decoy2");
        });
    set(from, victim);
    rewriteWhileHeld(
        dir_, SYS_unlink, [] { syscall(SYS_unlink, from); }, [&] { set(from, dir_ / "decoy"); });
    set(from, taken);  // exists: an exclusive create fails
    rewriteWhileHeld(
        dir_ / "real", SYS_openat,
        [] { syscall(SYS_openat, AT_FDCWD, from, O_WRONLY | O_CREAT | O_EXCL, 0600); },
        [&] { set(from, dir_ / "real" / "decoy"); });
  });
  EXPECT_FALSE(fs::exists(victim)) << "the kernel removed the name it copied";
  EXPECT_TRUE(fs::exists(moved)) << "and renamed the names it copied";
  auto renamed = fileRecords(records, (dir_ / "renamed").string());
  EXPECT_EQ(renamed.size(), 1u);
  for (const auto &r : renamed) {
    EXPECT_EQ(r["file"]["actions"], json::array({"rename"}));
    EXPECT_EQ(r["file"]["other_path"], moved.string());
  }
  EXPECT_EQ(actionsOn(records, victim), (std::set<std::vector<std::string>>{{"unlink"}}));
  auto failed = fileRecords(records, taken.string());
  EXPECT_EQ(failed.size(), 1u);
  for (const auto &r : failed) {
    EXPECT_EQ(r["file"]["error"], -EEXIST);
    EXPECT_EQ(r["file"]["path_unresolved"], true);
  }
  for (const char *decoy : {"decoy", "decoy2", "real/decoy"})
    EXPECT_TRUE(fileRecords(records, (dir_ / decoy).string()).empty()) << decoy;
}

// A name in a page the program has not touched yet cannot be read at the
// syscall's entry (a BPF program cannot fault it in), only at its exit,
// after the kernel used it: the record says so. A name in memory the
// program just wrote is read at the entry, and its record carries no mark.
TEST_F(FileActions, ANameReadOnlyAtTheExitIsMarked) {
  fs::path untouched = dir_ / "named-from-an-untouched-page", resident = dir_ / "named-as-usual",
           names = dir_ / "names";
  std::ofstream(untouched) << "x";
  std::ofstream(resident) << "x";
  std::ofstream(names) << untouched.string() << '\0';
  auto records = run([&] {
    int fd = open(names.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) _exit(30);
    // A fresh file mapping has no page table entries until it is touched.
    void *name = mmap(nullptr, sysconf(_SC_PAGESIZE), PROT_READ, MAP_PRIVATE, fd, 0);
    if (name == MAP_FAILED) _exit(31);
    if (unlink(static_cast<const char *>(name)) != 0) _exit(32);
    if (unlink(resident.c_str()) != 0) _exit(33);
  });
  EXPECT_FALSE(fs::exists(untouched)) << "the kernel read the name from the page";
  auto late = fileRecords(records, untouched.string());
  ASSERT_EQ(late.size(), 1u);
  EXPECT_EQ(late[0]["file"]["actions"], json::array({"unlink"}));
  EXPECT_EQ(late[0]["file"]["path_read_at_exit"], true) << late[0].dump();
  auto usual = fileRecords(records, resident.string());
  ASSERT_EQ(usual.size(), 1u);
  EXPECT_FALSE(usual[0]["file"].contains("path_read_at_exit")) << usual[0].dump();
}

}  // namespace
}  // namespace raqib::test
