// SIGHUP reloads the configuration without a restart: a changed recipe
// section reaches its plugin in order with the records queued before it (a
// read made just before the signal is still detected), the kernel side stays
// attached, a configuration that does not load leaves the running recipes as
// they are and says why with FILE:LINE:COL, and a change that needs a
// restart is named, not applied.
#include <gtest/gtest.h>
#include <signal.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// A configuration whose one custom file recipe, "reload_probe", watches reads
// of watched; cadence is the file mechanism's.
std::string configWatching(const std::string &watched, const std::string &cadence = "50ms") {
  return fmt::format(
      "[exec]\ncadence = \"50ms\"\n[file_access]\ncadence = \"{}\"\n[plugins.file]\n"
      "[[plugins.file.recipe]]\nname = \"reload_probe\"\ndescription = \"a test's file\"\n"
      "tactic = \"collection\"\ntechnique = \"T1005\"\nimportance = \"high\"\n"
      "paths = [\"{}\"]\nactions = [\"read\"]\n[printers.stdout]\nformat = \"json\"\n",
      cadence, watched);
}

void rewrite(const std::string &path, const std::string &text) {
  std::string next = path + ".next";
  std::ofstream(next) << text;
  fs::permissions(next, fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read |
                            fs::perms::others_read);
  fs::rename(next, path);  // as editors and configuration tools replace a file
}

pid_t readFile(const std::string &path) {
  ChildResult r = runChild({"/usr/bin/cat", path});
  EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0) << path;
  return r.pid;
}

bool isDetection(const std::string &line, const std::string &recipe, pid_t pid) {
  json j = json::parse(line, nullptr, false);
  return j.is_object() && j["kind"] == "detection" && j["name"] == recipe &&
         j["process"]["pid"] == pid;
}

bool logHas(DaemonProcess &daemon, const std::string &text) {
  return daemon
      .waitForStderr([&](const std::string &l) { return l.find(text) != std::string::npos; }, 10s)
      .has_value();
}

class Reload : public ::testing::Test {
 protected:
  TempFile first_{"first", "first\n"};
  TempFile second_{"second", "second\n"};
  TempFile config_{"raqib.toml", configWatching(first_.path())};
};

TEST_F(Reload, ANewRecipeSectionAppliesAndARecordBeforeTheSignalIsKept) {
  DaemonProcess daemon({"--config", config_.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  pid_t watched_before = readFile(first_.path());
  ASSERT_TRUE(daemon.waitForStdout(
      [&](const std::string &l) { return isDetection(l, "reload_probe", watched_before); }, 30s))
      << daemon.stderrText();

  rewrite(config_.path(), configWatching(second_.path()));
  pid_t shadow = readFile("/etc/shadow");  // in both configurations; read just before the signal
  ASSERT_EQ(kill(daemon.pid(), SIGHUP), 0);
  // The plugin's thread and the drain thread log in either order.
  std::set<std::string> logs = {"1 plugin(s) reconfigured",
                                "plugin file: runs with its new configuration"};
  ASSERT_TRUE(daemon.waitForStderr(
      [&](const std::string &l) {
        std::erase_if(logs, [&](const std::string &t) { return l.find(t) != l.npos; });
        return logs.empty();
      },
      10s))
      << daemon.stderrText();
  pid_t unwatched = readFile(first_.path());
  pid_t watched = readFile(second_.path());
  std::set<std::pair<std::string, pid_t>> expected = {{"credentials_files_access", shadow},
                                                      {"reload_probe", watched}};
  EXPECT_TRUE(daemon.waitForStdout(
      [&](const std::string &l) {
        std::erase_if(expected, [&](const auto &e) { return isDetection(l, e.first, e.second); });
        return expected.empty();
      },
      30s))
      << "missing: " << expected.size() << " (a read made before SIGHUP, or the new recipe's)\n"
      << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();  // the final drain: every record is in
  std::istringstream out(daemon.stdoutText());
  for (std::string line; std::getline(out, line);)
    EXPECT_FALSE(isDetection(line, "reload_probe", unwatched))
        << "the old recipe still matched after the reload";
  EXPECT_EQ(daemon.stderrText().find("detach"), std::string::npos);
}

TEST_F(Reload, AConfigurationThatDoesNotLoadLeavesTheRunningRecipes) {
  DaemonProcess daemon({"--config", config_.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  std::string broken = configWatching(second_.path());
  broken.replace(broken.find("actions"), 7, "actoins");
  rewrite(config_.path(), broken);
  ASSERT_EQ(kill(daemon.pid(), SIGHUP), 0);
  auto refused = daemon.waitForStderr(
      [](const std::string &l) { return l.find("configuration is refused") != std::string::npos; },
      10s);
  ASSERT_TRUE(refused) << daemon.stderrText();
  // FILE:LINE:COL, what is wrong and what is allowed.
  EXPECT_NE(refused->find(config_.path() + ":"), std::string::npos) << *refused;
  EXPECT_NE(refused->find("actoins"), std::string::npos) << *refused;
  EXPECT_NE(refused->find("allowed"), std::string::npos) << *refused;

  pid_t watched = readFile(first_.path());
  EXPECT_TRUE(daemon.waitForStdout(
      [&](const std::string &l) { return isDetection(l, "reload_probe", watched); }, 30s))
      << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

TEST_F(Reload, AChangeThatNeedsARestartIsNamedAndNotApplied) {
  DaemonProcess daemon({"--config", config_.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  rewrite(config_.path(), configWatching(first_.path(), "2s"));
  ASSERT_EQ(kill(daemon.pid(), SIGHUP), 0);
  EXPECT_TRUE(logHas(daemon,
                     "settings outside the [plugins.*] and [printers.*] sections changed: "
                     "that needs a restart"))
      << daemon.stderrText();
  ASSERT_TRUE(logHas(daemon, "0 plugin(s) reconfigured")) << daemon.stderrText();
  pid_t watched = readFile(first_.path());
  EXPECT_TRUE(daemon.waitForStdout(
      [&](const std::string &l) { return isDetection(l, "reload_probe", watched); }, 30s))
      << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
