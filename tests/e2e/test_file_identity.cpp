// A watched file is recognised by what it is, not by the name used: a hard
// link to it, a bind mount of its directory or an overlay over it in a
// private mount namespace, and /proc/PID/root all reach its recipe, and the record carries both the
// name the process used (file.path) and the watched file's (file.watched_path).
// A watched file replaced after raqib started is known by its new inode once
// opened by its name.
// The hard link is made to a file this test owns (a recipe of its own
// configuration watches it): no link to a system file is ever made; the bind
// mount and the overlays of /etc live in a child's private namespace and end
// with it (an overlay's writes go to its upper layer, the test's).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <cstring>
#include <fstream>
#include <functional>
#include <memory>

#include "records.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

class FileIdentity : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/raqib-identity-XXXXXX";
    ASSERT_TRUE(mkdtemp(tmpl));
    dir_ = tmpl;
    layers_ = dir_ + "-layers";
    secret_ = dir_ + "/secret";
    std::ofstream(secret_) << "s3cret\n";
    marker_ = dir_ + "/marker";
    config_ = std::make_unique<TempFile>(
        "raqib.toml",
        fileRecipeConfig("test_secret_access",
                         R"(["open", "chmod", "chown", "truncate", "unlink", "rename", "link"])",
                         secret_,
                         "[[plugins.file.recipe]]\nname = \"test_marker\"\n"
                         "description = \"The test's marker\"\ntactic = \"discovery\"\n"
                         "technique = \"T1083\"\nimportance = \"low\"\nactions = [\"open\"]\n"
                         "paths = [\"" +
                             marker_ + "\", \"" + marker_ + ".end\"]\n"));
    daemon_ =
        std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config_->path()});
    ASSERT_TRUE(daemon_->waitReady()) << daemon_->stderrText();
  }
  void TearDown() override {
    daemon_.reset();
    fs::remove_all(dir_);
    fs::remove_all(layers_);
  }

  // The detection named name about pid, or null.
  json detection(const std::string &name, pid_t pid) {
    auto line = daemon_->waitForStdout(
        [&](const std::string &l) {
          json j = json::parse(l, nullptr, false);
          return j.is_object() && j["name"] == name && j["process"]["pid"] == pid;
        },
        15s);
    return line ? json::parse(*line) : json();
  }

  // The watched file's detection about pid names the file by as, the name
  // the process used, and by its watched name.
  void expectWatchedAs(pid_t pid, const std::string &as) {
    json d = detection("test_secret_access", pid);
    ASSERT_FALSE(d.is_null()) << daemon_->stdoutText() << daemon_->stderrText();
    EXPECT_EQ(d["file"]["path"], as);
    EXPECT_EQ(d["file"]["watched_path"], secret_);
  }

  // A child that runs act and exits with its result; its pid.
  static pid_t child(const std::function<bool()> &act) {
    pid_t pid = fork();
    if (pid == 0) _exit(act() ? 0 : 1);
    int status = 0;
    waitpid(pid, &status, 0);
    EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "the child's act failed";
    return pid;
  }

  // In a private mount namespace: dir bound onto a fresh directory of the
  // test's, then act on view/name.
  static bool throughBind(const std::string &dir, const std::string &view, const std::string &name,
                          const std::function<bool(const std::string &)> &act) {
    if (unshare(CLONE_NEWNS) != 0) return false;
    if (mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) return false;
    if (mount(dir.c_str(), view.c_str(), nullptr, MS_BIND, nullptr) != 0) return false;
    return act(view + "/" + name);
  }
  static bool openThroughBind(const std::string &dir, const std::string &view,
                              const std::string &name) {
    return throughBind(dir, view, name,
                       [](const std::string &path) { return open(path.c_str(), O_RDONLY) >= 0; });
  }

  // secret_ was removed (its inode number st_ino): new files in its
  // directory, until one gets that number, are not the watched file.
  void expectItsInodeNumberIsNotWatchedOnReuse(ino_t ino) {
    std::string reused;
    for (int i = 0; i < 4096 && reused.empty(); i++) {
      std::string path = dir_ + "/new" + std::to_string(i);
      std::ofstream(path) << "new\n";
      struct stat st {};
      if (stat(path.c_str(), &st) == 0 && st.st_ino == ino) reused = path;
    }
    if (reused.empty()) GTEST_SKIP() << "the filesystem gave the number to none of 4096 new files";
    std::vector<json> records = recordsOfChild(
        *daemon_, [&] { close(open(reused.c_str(), O_RDONLY)); }, marker_);
    ASSERT_FALSE(records.empty()) << daemon_->stderrText();
    for (const json &r : records)
      EXPECT_NE(r["name"], "test_secret_access") << "a new file taken for the removed one\n"
                                                 << r.dump();
  }

  // In a child's private mount namespace: an overlay whose lower layer is
  // lower, its upper layer and work directory under layers_ (beside dir_,
  // not inside a lower layer), mounted on layers_/view; then name opened
  // under it with flags (a write copies the file up). The name opened.
  std::string openThroughOverlay(const std::string &lower, const std::string &name, int flags,
                                 pid_t *pid) {
    std::string view = layers_ + "/view";
    for (const char *d : {"/upper", "/work", "/view"}) fs::create_directories(layers_ + d);
    std::string options =
        "lowerdir=" + lower + ",upperdir=" + layers_ + "/upper,workdir=" + layers_ + "/work";
    *pid = child([&] {
      return unshare(CLONE_NEWNS) == 0 &&
             mount("none", "/", nullptr, MS_REC | MS_PRIVATE, nullptr) == 0 &&
             mount("overlay", view.c_str(), "overlay", 0, options.c_str()) == 0 &&
             open((view + "/" + name).c_str(), flags) >= 0;
    });
    return view + "/" + name;
  }

  std::string dir_;
  std::string layers_;
  std::string secret_;
  std::string marker_;  // watched by test_marker, as is marker_ + ".end" (recordsOfChild)
  std::unique_ptr<TempFile> config_;
  std::unique_ptr<DaemonProcess> daemon_;
};

TEST_F(FileIdentity, HardLinkReachesTheWatchedFile) {
  std::string alias = dir_ + "/alias";
  ASSERT_EQ(link(secret_.c_str(), alias.c_str()), 0) << std::strerror(errno);
  expectWatchedAs(child([&] { return open(alias.c_str(), O_RDONLY) >= 0; }), alias);
}

// passwd and editors replace a file with a new one (a new inode): once the
// watched name is opened, the kernel knows the new inode too.
TEST_F(FileIdentity, AFileReplacedAfterTheStartIsKnownFromItsFirstOpenByName) {
  std::string fresh = dir_ + "/secret.new", alias = dir_ + "/alias";
  std::ofstream(fresh) << "new\n";
  ASSERT_EQ(rename(fresh.c_str(), secret_.c_str()), 0) << std::strerror(errno);
  pid_t by_name = child([&] { return open(secret_.c_str(), O_RDONLY) >= 0; });
  ASSERT_FALSE(detection("test_secret_access", by_name).is_null()) << daemon_->stderrText();
  ASSERT_EQ(link(secret_.c_str(), alias.c_str()), 0) << std::strerror(errno);
  expectWatchedAs(child([&] { return open(alias.c_str(), O_RDONLY) >= 0; }), alias);
}

TEST_F(FileIdentity, BindMountInAPrivateNamespaceReachesTheWatchedFile) {
  std::string view = dir_ + "/view";
  fs::create_directory(view);
  expectWatchedAs(child([&] { return openThroughBind(dir_, view, "secret"); }), view + "/secret");
}

TEST_F(FileIdentity, EtcShadowThroughABindMountOfEtc) {
  std::string view = dir_ + "/etc-view";
  fs::create_directory(view);
  pid_t pid = child([&] { return openThroughBind("/etc", view, "shadow"); });
  json d = detection("credentials_files_access", pid);
  ASSERT_FALSE(d.is_null()) << daemon_->stdoutText() << daemon_->stderrText();
  EXPECT_EQ(d["file"]["path"], view + "/shadow");
  EXPECT_EQ(d["file"]["watched_path"], "/etc/shadow");
}

// Acts by name (no fd: chmod, chown, truncate, rename, link, unlink) on a
// watched file through another name are known by the inode they change.
TEST_F(FileIdentity, ChmodThroughAHardLinkReachesTheWatchedFile) {
  std::string alias = dir_ + "/alias";
  ASSERT_EQ(link(secret_.c_str(), alias.c_str()), 0) << std::strerror(errno);
  expectWatchedAs(child([&] { return chmod(alias.c_str(), 0600) == 0; }), alias);
}

TEST_F(FileIdentity, ActsByNameThroughABindMountReachTheWatchedFile) {
  std::string view = dir_ + "/view";
  fs::create_directory(view);
  std::vector<std::pair<const char *, std::function<bool(const std::string &)>>> acts = {
      {"chown", [](const std::string &p) { return chown(p.c_str(), 0, 0) == 0; }},
      {"truncate", [](const std::string &p) { return truncate(p.c_str(), 0) == 0; }},
      {"link", [](const std::string &p) { return link(p.c_str(), (p + ".linked").c_str()) == 0; }},
      {"rename",
       [](const std::string &p) { return rename(p.c_str(), (p + ".moved").c_str()) == 0; }},
  };
  for (const auto &[what, act] : acts) {
    SCOPED_TRACE(what);
    expectWatchedAs(child([&] { return throughBind(dir_, view, "secret", act); }),
                    view + "/secret" + (std::string_view(what) == "link" ? ".linked" : ""));
    if (std::string_view(what) == "rename")
      ASSERT_EQ(rename((secret_ + ".moved").c_str(), secret_.c_str()), 0);
  }
}

TEST_F(FileIdentity, UnlinkThroughABindMountReachesTheWatchedFileAndForgetsIt) {
  std::string view = dir_ + "/view";
  fs::create_directory(view);
  struct stat st {};
  ASSERT_EQ(stat(secret_.c_str(), &st), 0);
  expectWatchedAs(child([&] {
                    return throughBind(dir_, view, "secret",
                                       [](const std::string &p) { return unlink(p.c_str()) == 0; });
                  }),
                  view + "/secret");
  expectItsInodeNumberIsNotWatchedOnReuse(st.st_ino);
}

// passwd's way: a new file renamed over the watched one, whose inode is gone.
TEST_F(FileIdentity, AWatchedFileReplacedByARenameIsForgottenByItsOldInode) {
  struct stat st {};
  ASSERT_EQ(stat(secret_.c_str(), &st), 0);
  std::string fresh = dir_ + "/secret.new";
  std::ofstream(fresh) << "new\n";
  ASSERT_EQ(rename(fresh.c_str(), secret_.c_str()), 0) << std::strerror(errno);
  expectItsInodeNumberIsNotWatchedOnReuse(st.st_ino);
}

// An overlay's files have the overlay's device: each is known by the file
// it stands for in the layer below.
TEST_F(FileIdentity, EtcShadowThroughAnOverlayOfEtc) {
  pid_t pid = 0;
  std::string as = openThroughOverlay("/etc", "shadow", O_RDONLY, &pid);
  json d = detection("credentials_files_access", pid);
  ASSERT_FALSE(d.is_null()) << daemon_->stdoutText() << daemon_->stderrText();
  EXPECT_EQ(d["file"]["path"], as);
  EXPECT_EQ(d["file"]["watched_path"], "/etc/shadow");
}

// Opened for writing, the file is copied up into the upper layer first: its
// origin in the lower layer still says what it is.
TEST_F(FileIdentity, AWriteThroughAnOverlayCopiesUpAndStillReachesTheWatchedFile) {
  pid_t pid = 0;
  std::string as = openThroughOverlay(dir_, "secret", O_WRONLY | O_APPEND, &pid);
  EXPECT_TRUE(fs::exists(layers_ + "/upper/secret")) << "no copy-up";
  expectWatchedAs(pid, as);
}

TEST_F(FileIdentity, ProcRootPathIsTheFileItself) {
  pid_t pid = child([] { return open("/proc/self/root/etc/shadow", O_RDONLY) >= 0; });
  json d = detection("credentials_files_access", pid);
  ASSERT_FALSE(d.is_null()) << daemon_->stdoutText() << daemon_->stderrText();
  EXPECT_EQ(d["file"]["path"], "/etc/shadow");
}

}  // namespace
}  // namespace raqib::test
