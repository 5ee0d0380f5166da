// Once running, the daemon and every one of its threads hold no capability,
// have no_new_privs set, run under a seccomp filter and as the unprivileged
// raqib user, and the daemon still drains, detects and prints as that user.
#include <gtest/gtest.h>

#include <pwd.h>

#include <filesystem>
#include <map>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;

TEST(Privileges, EveryThreadIsConfinedUnprivilegedAndTheDaemonStillDetects) {
  const passwd *raqib = getpwnam("raqib");
  ASSERT_NE(raqib, nullptr) << "./test.sh creates the raqib user";
  std::string uid = std::to_string(raqib->pw_uid);
  DaemonProcess daemon({"--format", "json"});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  std::string proc = "/proc/" + std::to_string(daemon.pid());
  int threads = 0;
  for (const auto &task : std::filesystem::directory_iterator(proc + "/task")) {
    auto s = procStatus(task.path() / "status");
    SCOPED_TRACE(task.path().string() + " (" + s["Name"] + ")");
    EXPECT_EQ(s["CapEff"], "0000000000000000");
    EXPECT_EQ(s["CapPrm"], "0000000000000000");
    EXPECT_EQ(s["CapInh"], "0000000000000000");
    EXPECT_EQ(s["CapBnd"], "0000000000000000");
    EXPECT_EQ(s["CapAmb"], "0000000000000000");
    EXPECT_EQ(s["NoNewPrivs"], "1");
    EXPECT_EQ(s["Seccomp"], "2");  // a filter of its own
    EXPECT_EQ(s["Uid"], uid + "\t" + uid + "\t" + uid + "\t" + uid);
    threads++;
  }
  EXPECT_GE(threads, 4);  // main, the watchdog, the file plugin and the stdout printer
  ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
  auto detection = daemon.waitForStdout(
      [&](const std::string &l) {
        auto j = nlohmann::json::parse(l, nullptr, false);
        return j.is_object() && j["name"] == "credentials_files_access" &&
               j["process"]["pid"] == reader.pid;
      },
      10s);
  EXPECT_TRUE(detection) << daemon.stdoutText() << daemon.stderrText();
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
