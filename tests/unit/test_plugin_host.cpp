// The host without the daemon: faulty plugins from tests/plugins loaded with
// PluginHost::loadFiles, fed records directly. Counters, restart with
// backoff, disabling, and the host API a plugin sees.
#include <gtest/gtest.h>

#include <thread>

#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include "plugin_host.hpp"
#include "process_table.hpp"
#include "record_snapshot.hpp"

namespace raqib {
namespace {

using namespace std::chrono_literals;

// As in the daemon, the log goes to stderr: plugin threads may write fd 2 only.
const bool kLogToStderr = [] {
  spdlog::set_default_logger(spdlog::stderr_color_mt("test"));
  return true;
}();

std::filesystem::path testPlugin(const std::string &name) {
  return std::filesystem::path(RAQIB_TEST_PLUGIN_DIR) / pluginFileName(name);
}

std::shared_ptr<const RecordSnapshot> fileRecord(const std::string &path) {
  ProcessTable table;
  FileActivity activity;
  activity.path = path;
  activity.actions = RAQIB_ACTION_OPEN;
  activity.count = 1;
  return RecordSnapshot::file(table, 4242, activity, 0);
}

SupervisionOptions fastOptions() {
  SupervisionOptions o;
  o.queue_capacity = 64;
  o.restart_limit = 2;
  o.restart_backoff = 20ms;
  o.call_timeout = 300ms;
  return o;
}

// Polls host stats until pred holds, at most timeout.
bool waitStats(PluginHost &host, const std::function<bool(const PluginHost::PluginStats &)> &pred,
               std::chrono::milliseconds timeout = 10s) {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (pred(host.stats()[0])) return true;
    std::this_thread::sleep_for(5ms);  // polling counters: there is nothing to wait on
  }
  return false;
}

TEST(PluginHost, CrashingPluginIsRestartedThenDisabled) {
  auto host = PluginHost::loadFiles({{testPlugin("fault-segv"), {"fault-segv", true, 0, ""}}},
                                    fastOptions());
  ASSERT_TRUE(host) << host.error();
  {
    auto started = (*host)->start();
    ASSERT_TRUE(started) << started.error();
  }
  auto ok = fileRecord("/etc/hostname");
  auto bad = fileRecord("/tmp/raqib-fault-trigger");
  (*host)->dispatch(ok);
  ASSERT_TRUE(waitStats(**host, [](auto &s) { return s.handled == 1; }));
  for (uint32_t fault = 1; fault <= 3; fault++) {
    (*host)->dispatch(bad);
    ASSERT_TRUE(waitStats(**host, [&](auto &s) { return s.faults == fault; })) << fault;
    if (fault <= 2) {  // restarted: it handles records again
      ASSERT_TRUE(waitStats(**host, [&](auto &s) { return s.restarts == fault; }));
    }
  }
  auto s = (*host)->stats()[0];
  EXPECT_TRUE(s.disabled);
  EXPECT_EQ(s.restarts, 2u);
  (*host)->dispatch(ok);  // refused quietly: it is disabled
  (*host)->stop();
}

// Faults further apart than the restart window do not add up: a plugin that
// faults now and then is restarted each time, never disabled for it.
TEST(PluginHost, RestartBudgetRecoversAfterTheWindow) {
  SupervisionOptions options = fastOptions();
  options.restart_limit = 1;
  options.restart_window = 200ms;
  auto host =
      PluginHost::loadFiles({{testPlugin("fault-segv"), {"fault-segv", true, 0, ""}}}, options);
  ASSERT_TRUE(host) << host.error();
  {
    auto started = (*host)->start();
    ASSERT_TRUE(started) << started.error();
  }
  auto ok = fileRecord("/etc/hostname");
  auto bad = fileRecord("/tmp/raqib-fault-trigger");
  for (uint64_t fault = 1; fault <= 3; fault++) {
    (*host)->dispatch(bad);
    (*host)->dispatch(ok);  // handled once it is back
    ASSERT_TRUE(waitStats(**host, [&](auto &s) { return s.handled == fault; })) << fault;
    EXPECT_FALSE((*host)->stats()[0].disabled) << fault;
    // The next fault comes after the window: this is the wait under test.
    std::this_thread::sleep_for(300ms);
  }
  EXPECT_EQ((*host)->stats()[0].faults, 3u);
  (*host)->stop();
}

TEST(PluginHost, ForbiddenSyscallIsAFaultNotAnEndOfTheProcess) {
  auto host = PluginHost::loadFiles({{testPlugin("fault-open"), {"fault-open", true, 0, ""}}},
                                    fastOptions());
  ASSERT_TRUE(host) << host.error();
  {
    auto started = (*host)->start();
    ASSERT_TRUE(started) << started.error();
  }
  (*host)->dispatch(fileRecord("/tmp/raqib-fault-trigger"));
  ASSERT_TRUE(waitStats(**host, [](auto &s) { return s.faults == 1 && s.restarts == 1; }));
  (*host)->dispatch(fileRecord("/etc/hostname"));
  EXPECT_TRUE(waitStats(**host, [](auto &s) { return s.handled >= 1; }));
  (*host)->stop();
}

TEST(PluginHost, HangIsInterruptedAndRestarted) {
  auto host = PluginHost::loadFiles({{testPlugin("fault-hang"), {"fault-hang", true, 0, ""}}},
                                    fastOptions());
  ASSERT_TRUE(host) << host.error();
  {
    auto started = (*host)->start();
    ASSERT_TRUE(started) << started.error();
  }
  (*host)->dispatch(fileRecord("/tmp/raqib-fault-trigger"));
  ASSERT_TRUE(waitStats(**host, [](auto &s) { return s.faults == 1 && s.restarts == 1; }));
  (*host)->stop();  // returns: nothing is stuck
}

// A plugin that blocks every signal before it hangs cannot: blocking is
// refused (EPERM), so the watchdog's interrupt still reaches it; it is
// restarted like any hang, and stop() is bounded.
TEST(PluginHost, BlockingSignalsIsRefusedAndTheHangIsStillInterrupted) {
  auto host = PluginHost::loadFiles(
      {{testPlugin("fault-hang-masked"), {"fault-hang-masked", true, 0, ""}}}, fastOptions());
  ASSERT_TRUE(host) << host.error();
  {
    auto started = (*host)->start();
    ASSERT_TRUE(started) << started.error();
  }
  (*host)->dispatch(fileRecord("/tmp/raqib-fault-trigger"));
  ASSERT_TRUE(waitStats(**host, [](auto &s) { return s.restarts == 1; }));
  EXPECT_EQ((*host)->stats()[0].faults, 1u);
  EXPECT_FALSE((*host)->stats()[0].disabled);
  auto before = std::chrono::steady_clock::now();
  (*host)->stop();
  EXPECT_LT(std::chrono::steady_clock::now() - before, 3s);
}

TEST(PluginHost, ErrorsAndExceptionsAreCountedAndThePluginGoesOn) {
  for (const char *name : {"fault-throw", "fault-error"}) {
    SCOPED_TRACE(name);
    auto host = PluginHost::loadFiles({{testPlugin(name), {name, true, 0, ""}}}, fastOptions());
    ASSERT_TRUE(host) << host.error();
    {
      auto started = (*host)->start();
      ASSERT_TRUE(started) << started.error();
    }
    (*host)->dispatch(fileRecord("/tmp/raqib-fault-trigger"));
    (*host)->dispatch(fileRecord("/etc/hostname"));
    ASSERT_TRUE(waitStats(**host, [](auto &s) { return s.handled == 2; }));
    auto s = (*host)->stats()[0];
    EXPECT_EQ(s.failed, 1u);
    EXPECT_EQ(s.faults, 0u);
    EXPECT_FALSE(s.disabled);
    (*host)->stop();
  }
}

TEST(PluginHost, FullQueueDropsForThatPluginOnly) {
  auto options = fastOptions();
  options.queue_capacity = 16;
  auto host =
      PluginHost::loadFiles({{testPlugin("fault-slow"), {"fault-slow", true, 0, ""}}}, options);
  ASSERT_TRUE(host) << host.error();
  {
    auto started = (*host)->start();
    ASSERT_TRUE(started) << started.error();
  }
  auto r = fileRecord("/etc/hostname");
  auto before = std::chrono::steady_clock::now();
  for (int i = 0; i < 200; i++) (*host)->dispatch(r);  // never blocks
  EXPECT_LT(std::chrono::steady_clock::now() - before, 100ms);
  EXPECT_GT((*host)->stats()[0].dropped, 100u);
  (*host)->stop();
}

}  // namespace
}  // namespace raqib
