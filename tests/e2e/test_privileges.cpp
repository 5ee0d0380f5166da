// Once running, the daemon and every one of its threads hold no capability
// and have no_new_privs set.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

TEST(Privileges, EveryThreadHasDroppedCapabilitiesAndNoNewPrivs) {
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
    threads++;
  }
  EXPECT_GE(threads, 3);  // main, the file plugin and the stdout printer
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
