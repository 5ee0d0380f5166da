// A hostile third-party detector (tests/plugins/hostile/), built out of tree
// against the installed SDK alone, runs next to the real file detector and
// tries, one after another, everything a plugin must not do. Each attempt is
// refused or contained and reported as a health record naming it; the
// daemon keeps running and detecting, and stops cleanly at the end.
#include <gtest/gtest.h>

#include <filesystem>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

struct Attempt {
  const char *name;    // the plugin makes it on a path with raqib-hostile-<name>
  const char *fault;   // the health record's "fault"
  const char *detail;  // part of its "detail"
};

constexpr Attempt kAttempts[] = {
    {"thread", "seccomp", "clone"},
    {"sigblock-segv", "crash", "SIGSEGV"},
    {"exit", "crash", "called exit(3)"},
    {"abort", "crash", "called abort()"},
    {"stack", "crash", "SIGSEGV"},
    {"exec-memory", "seccomp", "forbidden syscall mmap"},
    {"kill", "seccomp", "forbidden syscall kill"},
    {"open", "seccomp", "forbidden syscall openat"},
    {"execve", "seccomp", "forbidden syscall execve"},
    {"fork", "seccomp", "clone"},
    {"connect", "seccomp", "forbidden syscall socket"},
    {"bpf", "seccomp", "forbidden syscall bpf"},
    {"ptrace", "seccomp", "forbidden syscall ptrace"},
    {"io-uring", "seccomp", "forbidden syscall io_uring_setup"},
    {"write-fd", "seccomp", "forbidden syscall write"},
    {"log-flood", "log_flood", "suppressed"},
    // Last: what it allocated stays charged to it after the restart.
    {"allocate", "memory", "memory limit of 64 MiB reached"},
};

// Every stdout JSON record so far that matches.
size_t countJson(const DaemonProcess &d, const std::function<bool(const json &)> &match) {
  size_t n = 0;
  std::istringstream lines(d.stdoutText());
  for (std::string l; std::getline(lines, l);) {
    json j = json::parse(l, nullptr, false);
    if (j.is_object() && match(j)) n++;
  }
  return n;
}

// Wait until more than `before` records match.
bool waitMore(DaemonProcess &d, const std::function<bool(const json &)> &match, size_t before,
              std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (countJson(d, match) <= before) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    d.waitForStdout([](const std::string &) { return false; }, 50ms);  // read more
  }
  return true;
}

class HostilePlugin : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    scratch_ = new TempFile("README", "");
    fs::path dir = fs::path(scratch_->path()).parent_path();
    InstalledSdk sdk = installSdk((dir / "root").string());
    ASSERT_TRUE(sdk.ok) << sdk.log;
    plugins_ = (dir / "plugins").string();
    fs::create_directories(plugins_);
    std::string log;
    ASSERT_EQ(shell(fmt::format("g++ -std=c++20 -shared -fPIC -fvisibility=hidden "
                                "$({} pkg-config --cflags raqib-sdk) -o '{}/raqib-hostile.so' "
                                "'{}/tests/plugins/hostile/hostile_detector.cpp'",
                                sdk.pkg_config, plugins_, RAQIB_SOURCE_ROOT),
                    log),
              0)
        << log;
  }
  static void TearDownTestSuite() { delete scratch_; }

  static inline TempFile *scratch_ = nullptr;
  static inline std::string plugins_;
};

TEST_F(HostilePlugin, EveryAttemptIsRefusedOrContainedAndReported) {
  TempFile config("raqib.toml", fmt::format(R"([core]
plugin_dirs = ["{}"]
plugin_restart_limit = 100
plugin_restart_backoff = "1ms"
plugin_call_timeout = "1s"
plugin_memory_mib = 64
[exec]
cadence = "100ms"
[file_access]
cadence = "100ms"
[plugins.file]
[plugins.hostile]
# Restart backoffs add up over the attempts: everything the machine does
# meanwhile waits here, so no trigger is dropped.
queue_capacity = 1000000
[printers.stdout]
format = "json"
)",
                                            plugins_));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  // Its constructors ran on its own thread, confined, as the raqib user
  // (logged by its init, before "ready").
  const std::string &log = daemon.stderrText();
  size_t at = log.find("constructors ran with");
  ASSERT_NE(at, std::string::npos) << log;
  std::string context = log.substr(at, log.find('\n', at) - at);
  EXPECT_NE(context.find("Seccomp:\t2"), std::string::npos) << context;
  EXPECT_NE(context.find("CapEff:\t0000000000000000"), std::string::npos) << context;
  EXPECT_EQ(context.find("Uid:\t0\t"), std::string::npos) << context;

  for (const Attempt &a : kAttempts) {
    SCOPED_TRACE(a.name);
    auto health = [&](const json &j) {
      return j["kind"] == "health" && j["plugin"] == "hostile" && j["fault"] == a.fault &&
             j["detail"].get<std::string>().find(a.detail) != std::string::npos;
    };
    size_t before = countJson(daemon, health);
    TempFile trigger(std::string("raqib-hostile-") + a.name, "x\n");
    runChild({"/usr/bin/cat", trigger.path()});
    EXPECT_TRUE(waitMore(daemon, health, before, 10s)) << "no health record\nstdout:\n"
                                                       << daemon.stdoutText() << "\nstderr:\n"
                                                       << daemon.stderrText();
    ASSERT_FALSE(daemon.wait(0ms)) << "the daemon ended:\n" << daemon.stderrText();
  }

  // Still detecting: the file detector reports a read of /etc/shadow.
  ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
  EXPECT_TRUE(waitMore(
      daemon,
      [&](const json &j) {
        return j["kind"] == "detection" && j["name"] == "credentials_files_access" &&
               j["process"]["pid"] == reader.pid;
      },
      0, 10s))
      << daemon.stdoutText() << daemon.stderrText();
  EXPECT_EQ(daemon.stop(5s), 0) << daemon.stderrText();
  EXPECT_NE(daemon.stderrText().find("raqib stats {"), std::string::npos);
}

}  // namespace
}  // namespace raqib::test
