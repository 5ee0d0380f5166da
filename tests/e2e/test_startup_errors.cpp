// Bad configuration, a missing privilege or an incompatible plugin: a clear
// one-line message, a non-zero exit, and nothing started.
#include <gtest/gtest.h>
#include <grp.h>
#include <sys/wait.h>
#include <unistd.h>

#include <raqib/plugin_api.h>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;

// Run the daemon to completion; its exit code.
int runToExit(DaemonProcess &d) {
  auto code = d.wait(30s);
  EXPECT_TRUE(code) << "raqib did not exit";
  return code.value_or(-100);
}

void expectNotStarted(const DaemonProcess &d) {
  EXPECT_EQ(d.stderrText().find("raqib ready"), std::string::npos) << d.stderrText();
  EXPECT_EQ(d.stdoutText(), "");
}

TEST(StartupErrors, UnknownKeyIsRefusedWithFileLineColumn) {
  TempFile f("raqib.toml", "[core]\nlog_level = \"info\"\nverbose = true\n");
  DaemonProcess d({"--config", f.path()});
  EXPECT_EQ(runToExit(d), 2);
  EXPECT_EQ(d.stderrText(), f.path() +
                                ":3:1: unknown key \"verbose\" in [core]; allowed: \"log_level\", "
                                "\"plugin_dirs\", \"queue_capacity\", \"user\", "
                                "\"keep_capabilities\", \"plugin_restart_limit\", "
                                "\"plugin_restart_backoff\", \"plugin_call_timeout\"\n");
  expectNotStarted(d);
}

TEST(StartupErrors, WrongTypeIsRefused) {
  TempFile f("raqib.toml", "[exec]\nmap_entries = true\n");
  DaemonProcess d({"--config", f.path()});
  EXPECT_EQ(runToExit(d), 2);
  EXPECT_NE(d.stderrText().find(f.path() + ":2:15: [exec] map_entries must be an integer"),
            std::string::npos)
      << d.stderrText();
  expectNotStarted(d);
}

TEST(StartupErrors, OutOfRangeCadenceIsRefused) {
  TempFile f("raqib.toml", "[file_access]\ncadence = \"0s\"\n");
  DaemonProcess d({"--config", f.path()});
  EXPECT_EQ(runToExit(d), 2);
  EXPECT_EQ(d.stderrText(), f.path() +
                                ":2:11: [file_access] cadence must be a duration between 10ms "
                                "and 60s such as \"250ms\", got \"0s\"\n");
  expectNotStarted(d);
}

TEST(StartupErrors, UnreadableFileIsRefused) {
  DaemonProcess d({"--config", "/nonexistent/raqib.toml"});
  EXPECT_EQ(runToExit(d), 2);
  EXPECT_EQ(d.stderrText(),
            "/nonexistent/raqib.toml: cannot read the configuration: No such file or directory\n");
  DaemonProcess dir({"--config", "/etc"});
  EXPECT_EQ(runToExit(dir), 2);
  EXPECT_EQ(dir.stderrText(), "/etc: cannot read the configuration: Is a directory\n");
}

TEST(StartupErrors, CheckConfigValidatesWithoutStarting) {
  TempFile good("raqib.toml", "[exec]\ncadence = \"1s\"\n");
  DaemonProcess ok({"--check-config", good.path()});
  EXPECT_EQ(runToExit(ok), 0);
  EXPECT_EQ(ok.stdoutText(), good.path() + ": valid\n");
  TempFile bad("raqib.toml", "[exec]\ncadence = \"1h\"\n");
  DaemonProcess refused({"--check-config", bad.path()});
  EXPECT_EQ(runToExit(refused), 2);
  EXPECT_NE(refused.stderrText().find(bad.path() + ":2:11:"), std::string::npos);
}

TEST(StartupErrors, PluginOfAnotherMajorVersionIsRefused) {
  TempFile f("raqib.toml", std::string("[core]\nplugin_dirs = [\"") + RAQIB_TEST_PLUGIN_DIR +
                               "\"]\n[plugins.badmajor]\n[printers.stdout]\n");
  DaemonProcess d({"--config", f.path()});
  EXPECT_EQ(runToExit(d), 1);
  EXPECT_NE(d.stderrText().find("raqib-badmajor.so refused: it was built for plugin API " +
                                std::to_string(RAQIB_PLUGIN_API_VERSION_MAJOR + 99) +
                                ".0.0, but this raqib provides"),
            std::string::npos)
      << d.stderrText();
  expectNotStarted(d);
}

TEST(StartupErrors, NotRootGetsOneLineExplanation) {
  // An unprivileged user (nobody) runs the daemon.
  int err[2];
  ASSERT_EQ(pipe(err), 0);
  pid_t pid = fork();
  if (pid == 0) {
    dup2(err[1], STDERR_FILENO);
    if (setgroups(0, nullptr) != 0 || setresgid(65534, 65534, 65534) != 0 ||
        setresuid(65534, 65534, 65534) != 0)
      _exit(99);
    std::string bin = raqibBinary();
    execl(bin.c_str(), bin.c_str(), static_cast<char *>(nullptr));
    _exit(98);
  }
  close(err[1]);
  std::string text;
  char buf[4096];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) text.append(buf, n);
  close(err[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1) << text;
  EXPECT_NE(text.find("raqib must run as root"), std::string::npos) << text;
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1) << text;
}

}  // namespace
}  // namespace raqib::test
