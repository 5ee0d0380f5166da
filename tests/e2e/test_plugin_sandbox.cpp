// Least privilege once running: every plugin thread has its own seccomp
// filter (Seccomp: 2) and no capability; the core keeps only the configured
// capabilities, sets no_new_privs and can run as an unprivileged user while
// still draining the kernel maps through the fds it opened as root.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "records.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

std::string configWith(const std::string &core) {
  return fmt::format(R"([core]
{}
[exec]
cadence = "100ms"
[file_access]
cadence = "100ms"
[plugins.file]
[printers.stdout]
format = "json"
)",
                     core);
}

// Checks every thread; returns how many plugin threads ("raqib:NAME") it saw.
int checkThreads(pid_t pid, const std::string &core_cap_eff) {
  int plugin_threads = 0;
  for (const auto &task : std::filesystem::directory_iterator(fmt::format("/proc/{}/task", pid))) {
    auto s = procStatus(task.path() / "status");
    SCOPED_TRACE(task.path().string() + " (" + s["Name"] + ")");
    EXPECT_EQ(s["NoNewPrivs"], "1");
    EXPECT_EQ(s["CapAmb"], "0000000000000000");
    EXPECT_EQ(s["CapInh"], "0000000000000000");
    if (s["Name"].rfind("raqib:", 0) == 0) {
      plugin_threads++;
      EXPECT_EQ(s["Seccomp"], "2");
      EXPECT_EQ(s["CapEff"], "0000000000000000");
      EXPECT_EQ(s["CapPrm"], "0000000000000000");
    } else {
      EXPECT_EQ(s["CapEff"], core_cap_eff);
    }
  }
  return plugin_threads;
}

void expectDetection(DaemonProcess &daemon) {
  ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
  EXPECT_TRUE(waitForDetection(daemon, reader.pid, 10s)) << daemon.stderrText();
}

TEST(PluginSandbox, EveryPluginThreadIsFilteredAndHoldsNoCapability) {
  TempFile config("raqib.toml", configWith(""));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  EXPECT_EQ(checkThreads(daemon.pid(), "0000000000000000"), 2);  // file and stdout
  expectDetection(daemon);
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

TEST(PluginSandbox, CoreRunsAsAnUnprivilegedUserWithOnlyTheKeptCapability) {
  TempFile config("raqib.toml",
                  configWith("user = \"nobody\"\nkeep_capabilities = [\"cap_net_bind_service\"]"));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  auto s = procStatus(fmt::format("/proc/{}/status", daemon.pid()));
  EXPECT_EQ(s["Uid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(s["Gid"], "65534\t65534\t65534\t65534");
  EXPECT_EQ(s["CapBnd"], "0000000000000400");  // CAP_NET_BIND_SERVICE only
  EXPECT_EQ(checkThreads(daemon.pid(), "0000000000000400"), 2);
  expectDetection(daemon);  // the drain still reads the maps
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

TEST(PluginSandbox, UnknownUserIsRefusedAtStart) {
  TempFile config("raqib.toml", configWith("user = \"no-such-user-raqib\""));
  DaemonProcess daemon({"--config", config.path()});
  EXPECT_EQ(daemon.wait(30s), 1);
  EXPECT_NE(daemon.stderrText().find("[core] user: no user \"no-such-user-raqib\""),
            std::string::npos)
      << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
