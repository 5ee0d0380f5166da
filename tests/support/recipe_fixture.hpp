// A fixture for the recipe end-to-end tests: one daemon per test binary with
// the file, exec and net plugins and short cadences; each test performs a
// behaviour for real (in private namespaces where it would change the
// machine) and waits for the detection of the recipe that keys on it.
#pragma once

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <memory>
#include <optional>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {

using nlohmann::json;

// What a recipe's detection must carry.
struct RecipeTags {
  const char *name;
  const char *plugin;
  const char *tactic;
  const char *technique;
  const char *importance;
};

class RecipeTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    // An operator's threat list, read by the daemon from a file.
    threat_list_ = std::make_unique<TempFile>(
        "threat_domains.txt", "# operator-supplied\n.operator.raqib.test\n\n198.18.0.66\n");
    config_ = std::make_unique<TempFile>("raqib.toml", R"([exec]
cadence = "50ms"
[file_access]
cadence = "50ms"
[network_peers]
cadence = "50ms"
[dns]
cadence = "50ms"
[plugins.file]
[plugins.exec]
[plugins.net]
list_files = { threat_domains = ")" + threat_list_->path() +
                                                           R"(" }
[printers.stdout]
format = "json"
)");
    daemon_ =
        std::make_unique<DaemonProcess>(std::vector<std::string>{"--config", config_->path()});
    ASSERT_TRUE(daemon_->waitReady()) << daemon_->stderrText();
  }
  static void TearDownTestSuite() {
    // Detaching the BPF programs waits for RCU grace periods: slow on a busy machine.
    EXPECT_EQ(daemon_->stop(std::chrono::seconds(60)), 0) << daemon_->stderrText();
    daemon_.reset();
    config_.reset();
    threat_list_.reset();
  }

  void SetUp() override {
    char tmpl[] = "/tmp/raqib-recipe-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // A copy of from named name in this test's directory (a stand-in for a
  // tool that is not installed: the recipes key on the name).
  std::string standIn(const std::string &name, const std::string &from = "/usr/bin/true") {
    std::filesystem::path to = std::filesystem::path(dir_) / name;
    std::filesystem::create_directories(to.parent_path());
    std::filesystem::copy_file(from, to, std::filesystem::copy_options::overwrite_existing);
    chmod(to.c_str(), 0755);
    return to;
  }

  // /bin/sh -c script, as a child of this test; its exit status.
  static int sh(const std::string &script) {
    ChildResult r = runChild({"/bin/sh", "-c", script});
    return WIFEXITED(r.status) ? WEXITSTATUS(r.status) : 128 + WTERMSIG(r.status);
  }

  // The detection of recipe name for which match holds, among everything
  // printed so far and what comes within timeout; null when none.
  static json detection(const std::string &name, const std::function<bool(const json &)> &match,
                        std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      std::istringstream lines(daemon_->stdoutText());
      for (std::string line; std::getline(lines, line);) {
        json j = json::parse(line, nullptr, false);
        if (j.is_object() && j["kind"] == "detection" && j["name"] == name && match(j)) return j;
      }
      if (std::chrono::steady_clock::now() > deadline) return json();
      daemon_->waitForStdout([](const std::string &) { return false; },
                             std::chrono::milliseconds(100));
    }
  }

  // d is tags's detection, about a process this test started (its ancestry
  // leads back to the test), with the fields a detection always has.
  static void expectRecipe(const json &d, const RecipeTags &tags) {
    ASSERT_TRUE(d.is_object()) << "no " << tags.name << " detection\nstdout:\n"
                               << daemon_->stdoutText() << "\nstderr:\n"
                               << daemon_->stderrText();
    EXPECT_EQ(d["name"], tags.name);
    EXPECT_EQ(d["plugin"], tags.plugin);
    EXPECT_EQ(d["tactic"], tags.tactic);
    EXPECT_EQ(d["technique"], tags.technique);
    EXPECT_EQ(d["importance"], tags.importance);
    EXPECT_GT(d["process"]["pid"].get<int>(), 0);
    bool from_test = false;
    for (const json &a : d["ancestry"]) from_test |= a["pid"] == getpid();
    EXPECT_TRUE(from_test) << "the offending process does not descend from the test: " << d;
    ASSERT_FALSE(d["ancestry"].empty());
    EXPECT_EQ(d["ancestry"].back()["pid"], 1);
  }

  // True when j is about a process whose exe is exe.
  static auto byExe(const std::string &exe) {
    return [exe](const json &j) { return j["process"]["exe"] == exe; };
  }
  static auto byPath(const std::string &path) {
    return [path](const json &j) { return j.contains("file") && j["file"]["path"] == path; };
  }

  std::string dir_;
  static inline std::unique_ptr<TempFile> threat_list_;
  static inline std::unique_ptr<TempFile> config_;
  static inline std::unique_ptr<DaemonProcess> daemon_;
};

}  // namespace raqib::test
