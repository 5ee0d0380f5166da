// Fault containment: a deliberately faulty detector (tests/plugins/faulty.cpp)
// runs next to the real file detector. Whatever it does — throw, fail,
// dereference NULL, make a forbidden syscall, loop forever, fall behind — the
// daemon keeps running, the file detector keeps reporting, and a health
// record and a metric line name the plugin and the fault. Plugins that crash,
// break their filter or hang are restarted, then disabled.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "peer_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

struct Case {
  const char *plugin;  // fault-<kind>, built in tests/plugins
  const char *fault;   // the health record's "fault"
  const char *detail;  // part of its "detail"
  bool restarts;       // the host restarts it, then disables it
};

std::string configFor(const Case &c, const std::string &extra = "") {
  return fmt::format(R"([core]
plugin_dirs = ["{}"]
plugin_restart_limit = 1
plugin_restart_backoff = "100ms"
plugin_call_timeout = "500ms"
{}
[exec]
cadence = "100ms"
[file_access]
cadence = "100ms"
[plugins.file]
[plugins.{}]
[printers.stdout]
format = "json"
)",
                     RAQIB_TEST_PLUGIN_DIR, extra, c.plugin);
}

// A file whose path makes the faulty plugin misbehave.
class Trigger {
 public:
  Trigger() : file_("raqib-fault-trigger", "x\n") {}
  // Open it from a new process: one new file record.
  void fire() const { runChild({"/usr/bin/cat", file_.path()}); }
  const std::string &path() const { return file_.path(); }

 private:
  TempFile file_;
};

// The first stdout line so far (read or not by other waits) that matches.
std::optional<json> waitJson(DaemonProcess &d, const std::function<bool(const json &)> &match,
                             std::chrono::milliseconds timeout) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    std::istringstream lines(d.stdoutText());
    for (std::string l; std::getline(lines, l);) {
      json j = json::parse(l, nullptr, false);
      if (j.is_object() && match(j)) return j;
    }
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    d.waitForStdout([](const std::string &) { return false; }, 50ms);  // read more
  }
}

std::optional<json> waitHealth(DaemonProcess &d, const Case &c, bool disabled,
                               std::chrono::milliseconds timeout) {
  return waitJson(
      d,
      [&](const json &j) {
        return j["kind"] == "health" && j["plugin"] == c.plugin && j["fault"] == c.fault &&
               (!disabled || j["disabled"] == true);
      },
      timeout);
}

// The file detector still reports: another plugin is unaffected.
void expectFileDetectorWorks(DaemonProcess &d) {
  ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
  auto line = waitJson(
      d,
      [&](const json &j) {
        return j["kind"] == "detection" && j["plugin"] == "file" &&
               j["process"]["pid"] == reader.pid;
      },
      10s);
  EXPECT_TRUE(line) << "the file detector stopped reporting\nstdout:\n"
                    << d.stdoutText() << "\nstderr:\n"
                    << d.stderrText();
}

class Containment : public ::testing::TestWithParam<Case> {};

TEST_P(Containment, DaemonAndOtherPluginsSurviveAndTheFaultIsReported) {
  const Case &c = GetParam();
  TempFile config("raqib.toml", configFor(c));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  Trigger trigger;
  trigger.fire();

  auto health = waitHealth(daemon, c, false, 10s);
  ASSERT_TRUE(health) << "no health record\nstdout:\n"
                      << daemon.stdoutText() << "\nstderr:\n"
                      << daemon.stderrText();
  EXPECT_NE((*health)["detail"].get<std::string>().find(c.detail), std::string::npos) << *health;
  EXPECT_FALSE((*health)["host"].get<std::string>().empty());
  auto metric = daemon.waitForStderr(
      [&](const std::string &l) {
        return l.find(fmt::format("metric raqib_plugin_faults_total{{plugin=\"{}\",fault=\"{}\"}}",
                                  c.plugin, c.fault)) != std::string::npos;
      },
      5s);
  EXPECT_TRUE(metric) << daemon.stderrText();
  expectFileDetectorWorks(daemon);

  if (c.restarts) {
    // Restarted once (the limit), then the next fault disables it.
    std::optional<json> last;
    for (auto deadline = std::chrono::steady_clock::now() + 20s;
         !last && std::chrono::steady_clock::now() < deadline;) {
      trigger.fire();
      last = waitHealth(daemon, c, true, 700ms);
    }
    ASSERT_TRUE(last) << "never disabled\nstdout:\n"
                      << daemon.stdoutText() << "\nstderr:\n"
                      << daemon.stderrText();
    EXPECT_EQ((*last)["restarts"], 1);
    expectFileDetectorWorks(daemon);
  }
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
  // Counters at exit name the plugin's faults.
  EXPECT_NE(daemon.stderrText().find(fmt::format("metric raqib_plugin{{plugin=\"{}\"}}", c.plugin)),
            std::string::npos);
}

INSTANTIATE_TEST_SUITE_P(
    Faults, Containment,
    ::testing::Values(Case{"fault-throw", "exception", "deliberate exception", false},
                      Case{"fault-error", "error", "deliberate error", false},
                      Case{"fault-segv", "crash", "SIGSEGV at address 0x0", true},
                      Case{"fault-open", "seccomp", "forbidden syscall open", true},
                      Case{"fault-execve", "seccomp", "forbidden syscall execve", true},
                      Case{"fault-fork", "seccomp", "forbidden syscall clone", true},
                      Case{"fault-connect", "seccomp", "forbidden syscall connect", true},
                      Case{"fault-ptrace", "seccomp", "forbidden syscall ptrace", true},
                      Case{"fault-bpf", "seccomp", "forbidden syscall bpf", true},
                      Case{"fault-hang", "hang", "longer than 500ms", true}),
    [](const auto &info) {
      std::string name = info.param.plugin + 6;
      return name;
    });

// A plugin that falls behind, and the health record its overflow yields.
const Case kSlow{"fault-slow", "queue_full", "queue of 64 records full", false};

// The slow plugin's configuration: only it gets a small queue (a host key of
// its section); extra_file goes into the file plugin's section.
std::string slowConfig(const std::string &extra_file = "") {
  std::string text = configFor(kSlow);
  text.replace(text.find("[plugins.fault-slow]\n"), 21,
               "[plugins.fault-slow]\nqueue_capacity = 64\n");
  text.replace(text.find("[plugins.file]\n"), 15, "[plugins.file]\n" + extra_file);
  return text;
}

// A plugin that falls behind fills only its own queue: the overflow is
// counted and reported, and the drain and the other plugins go on.
TEST(Containment, SlowPluginFillsOnlyItsOwnQueue) {
  TempFile config("raqib.toml", slowConfig());
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  // Many distinct processes opening files: hundreds of records in one drain.
  runChild({"/bin/sh", "-c", "for i in $(seq 300); do /usr/bin/cat /etc/hostname; done"});
  auto health = waitHealth(daemon, kSlow, false, 10s);
  ASSERT_TRUE(health) << daemon.stdoutText() << daemon.stderrText();
  EXPECT_GT((*health)["count"].get<int>(), 0);
  EXPECT_FALSE((*health)["disabled"].get<bool>());
  expectFileDetectorWorks(daemon);
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

// A flood that keeps a slow detector's queue full cannot crowd out what a
// recipe watches: records from the kernel's watched lanes have room of their
// own in every queue and are handed out first (core/bounded_queue.hpp).
TEST(Containment, AFullQueueStillTakesWhatARecipeWatches) {
  Trigger trigger;
  TempFile config("raqib.toml",
                  slowConfig(fmt::format("[[plugins.file.recipe]]\nname = \"fault_trigger_read\"\n"
                                         "description = \"a test's file\"\n"
                                         "tactic = \"collection\"\ntechnique = \"T1005\"\n"
                                         "importance = \"high\"\npaths = [\"{}\"]\n"
                                         "actions = [\"read\"]\n",
                                         trigger.path())));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  // New processes opening files, without end: far more records than the
  // slow plugin takes (50 a second), so its queue stays full.
  TempFile flood_log("flood.log", "");
  PeerProcess flood({"/bin/sh", "-c", "while :; do /usr/bin/cat /etc/hostname; done"},
                    flood_log.path());
  ASSERT_TRUE(waitHealth(daemon, kSlow, false, 20s)) << daemon.stderrText();
  trigger.fire();
  auto seen = daemon.waitForStderr(
      [](const std::string &l) {
        return l.find("plugin fault-slow: triggered") != std::string::npos;
      },
      30s);
  flood.stop();
  EXPECT_TRUE(seen) << "the slow plugin never got the watched read\n" << daemon.stderrText();
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
