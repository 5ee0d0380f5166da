// Processes: a short-lived process with its parent chain, argv truncation,
// and where an executable came from (memfd, deleted, hidden, the loader).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/mman.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <set>

#include "records.hpp"
#include "shared_daemon.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;

class Exec : public SharedDaemonTest {
 protected:
  void SetUp() override {
    dir_ = fs::canonical(fs::temp_directory_path()) / ("raqib-exec-" + std::to_string(getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // Fork; the child runs exec (which execs), then end(pid) ends it (waits
  // for it, or kills it first). Returns the first record about the child
  // that take accepts (it sees each one, in order; null when none came
  // within 20 s). As in losslessRecordsOfChild, an attempt during which the
  // daemon reported a loss (another process's storm can fill the exec map)
  // is made again, for up to a minute.
  json recordOfChild(const std::function<void()> &exec, const std::function<void(pid_t)> &end,
                     const std::function<bool(json &)> &take) {
    auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
    for (;;) {
      size_t losses = lossReports(*daemon_);
      pid_t pid = fork();
      if (pid == 0) {
        exec();
        _exit(127);
      }
      end(pid);
      json found;
      daemon_->waitForStdout(
          [&](const std::string &line) {
            json j = json::parse(line, nullptr, false);
            if (!j.is_object() || !j.contains("process") || j["process"]["pid"] != pid)
              return false;
            if (!take(j)) return false;
            found = std::move(j);
            return true;
          },
          std::chrono::seconds(20));
      if (lossReports(*daemon_) == losses || std::chrono::steady_clock::now() > deadline) {
        EXPECT_FALSE(found.is_null()) << "no such record\n" << daemon_->stderrText();
        return found;
      }
    }
  }

  // The exec info record of the child's exit, with "events" the union of
  // what every record of the child said (fork, exec and exit may fall in
  // different drains).
  json execRecord(const std::function<void()> &exec, int expected_exit = 0) {
    std::set<std::string> events;
    return recordOfChild(
        exec,
        [&](pid_t pid) {
          events.clear();
          int status = 0;
          waitpid(pid, &status, 0);
          EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == expected_exit)
              << "status " << status;
        },
        [&](json &j) {
          if (j["type"] != "exec") return false;
          for (const auto &e : j["exec"]["events"]) events.insert(e.get<std::string>());
          if (!events.count("exit")) return false;
          j["exec"]["events"] = events;
          return true;
        });
  }

  fs::path dir_;
};

std::string selfExe() {
  return fs::read_symlink("/proc/self/exe").string();
}

TEST_F(Exec, ShortLivedProcessIsReportedWithItsParentChain) {
  json r = execRecord([] { execl("/bin/true", "true", static_cast<char *>(nullptr)); });
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["exec"]["events"], json::array({"exec", "exit", "fork"}));
  EXPECT_EQ(r["exec"]["exit_code"], 0);
  EXPECT_EQ(r["process"]["exe"], "/usr/bin/true");
  EXPECT_EQ(r["process"]["args"], json::array({"true"}));
  EXPECT_EQ(r["process"]["ppid"], getpid());
  ASSERT_GE(r["ancestry"].size(), 2u);
  EXPECT_EQ(r["ancestry"][0]["pid"], getpid());
  EXPECT_EQ(r["ancestry"][0]["exe"], selfExe());
  EXPECT_EQ(r["ancestry"].back()["pid"], 1);
  EXPECT_FALSE(r["process"].contains("args_truncated"));
}

TEST_F(Exec, ExitCodeAndSignalAreReported) {
  json r = execRecord([] { execl("/bin/false", "false", static_cast<char *>(nullptr)); }, 1);
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["exec"]["exit_code"], 1);
  json killed = recordOfChild(
      [] { execl("/bin/sleep", "sleep", "30", static_cast<char *>(nullptr)); },
      [](pid_t pid) {
        kill(pid, SIGKILL);
        waitpid(pid, nullptr, 0);
      },
      [](json &j) { return j["type"] == "exec" && j["exec"].contains("exit_signal"); });
  ASSERT_FALSE(killed.is_null());
  EXPECT_EQ(killed["exec"]["exit_signal"], SIGKILL);
}

TEST_F(Exec, ArgvBeyondSixteenArgumentsIsTruncatedAndFlagged) {
  json r = execRecord([] {
    std::vector<std::string> args{"true"};
    for (int i = 1; i < 20; i++) args.push_back("arg" + std::to_string(i));
    std::vector<char *> argv;
    for (auto &a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv("/bin/true", argv.data());
  });
  ASSERT_FALSE(r.is_null());
  ASSERT_EQ(r["process"]["args"].size(), 16u);
  EXPECT_EQ(r["process"]["args"][15], "arg15");
  EXPECT_EQ(r["process"]["args_truncated"], true);
}

TEST_F(Exec, LongArgvIsTruncatedAndFlagged) {
  json r = execRecord([] {
    std::string big(2000, 'x');
    execl("/bin/true", "true", big.c_str(), static_cast<char *>(nullptr));
  });
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["process"]["args_truncated"], true);
  EXPECT_EQ(r["process"]["args"][0], "true");
}

// Copy /usr/bin/true to path.
void copyTrue(const fs::path &path) {
  fs::create_directories(path.parent_path());
  fs::copy_file("/usr/bin/true", path, fs::copy_options::overwrite_existing);
  fs::permissions(path, fs::perms::owner_all);
}

TEST_F(Exec, MemfdExecutableIsFlagged) {
  json r = execRecord([] {
    int mem = memfd_create("raqib-payload", 0);
    int src = open("/usr/bin/true", O_RDONLY);
    char buf[65536];
    for (ssize_t n; (n = read(src, buf, sizeof buf)) > 0;)
      if (write(mem, buf, n) != n) _exit(3);
    char *argv[] = {const_cast<char *>("payload"), nullptr};
    fexecve(mem, argv, environ);
  });
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["process"]["exe"], "/memfd:raqib-payload");
  EXPECT_EQ(r["process"]["exe_flags"], json::array({"deleted", "memfd"}));
}

TEST_F(Exec, DeletedExecutableIsFlagged) {
  fs::path bin = dir_ / "gone";
  copyTrue(bin);
  json r = execRecord([&] {
    int fd = open(bin.c_str(), O_RDONLY | O_CLOEXEC);
    unlink(bin.c_str());
    char *argv[] = {const_cast<char *>("gone"), nullptr};
    fexecve(fd, argv, environ);
  });
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["process"]["exe"], bin.string());
  EXPECT_EQ(r["process"]["exe_flags"], json::array({"deleted"}));
}

TEST_F(Exec, HiddenPathIsFlagged) {
  fs::path bin = dir_ / ".hidden" / "true";
  copyTrue(bin);
  json r = execRecord([&] { execl(bin.c_str(), "true", static_cast<char *>(nullptr)); });
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["process"]["exe"], bin.string());
  EXPECT_EQ(r["process"]["exe_flags"], json::array({"hidden"}));
}

TEST_F(Exec, DynamicLoaderRunAsAProgramIsFlagged) {
  json r = execRecord([] {
    execl("/lib64/ld-linux-x86-64.so.2", "ld.so", "/usr/bin/true", static_cast<char *>(nullptr));
  });
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["process"]["exe"], fs::canonical("/lib64/ld-linux-x86-64.so.2").string());
  EXPECT_EQ(r["process"]["exe_flags"], json::array({"loader"}));
  EXPECT_EQ(r["process"]["args"], json::array({"ld.so", "/usr/bin/true"}));
}

TEST_F(Exec, ExecIsAlsoAFileAction) {
  json r = recordOfChild(
      [] { execl("/bin/true", "true", static_cast<char *>(nullptr)); },
      [](pid_t pid) { waitpid(pid, nullptr, 0); },
      [](json &j) { return j["type"] == "file" && j["file"]["actions"] == json::array({"exec"}); });
  ASSERT_FALSE(r.is_null());
  EXPECT_EQ(r["file"]["path"], "/usr/bin/true");
}

}  // namespace
}  // namespace raqib::test
