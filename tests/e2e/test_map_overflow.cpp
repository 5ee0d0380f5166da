// A file-activity map of 64 entries and 10,000 distinct paths opened in one
// drain interval: what does not fit (past the map's size, or past the
// process's share of it) is counted and reported, and raqib keeps running
// and detecting.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "records.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;

TEST(MapOverflow, IsCountedReportedAndSurvived) {
  fs::path dir = fs::temp_directory_path() / ("raqib-overflow-" + std::to_string(getpid()));
  fs::create_directories(dir);
  constexpr int kPaths = 10000;
  for (int i = 0; i < kPaths; i++) std::ofstream(dir / std::to_string(i));

  TempFile config("raqib.toml",
                  "[file_access]\ncadence = \"10ms\"\nmap_entries = 64\n[plugins.file]\n"
                  "[printers.stdout]\nformat = \"json\"\n");
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  pid_t pid = fork();
  if (pid == 0) {
    for (int i = 0; i < kPaths; i++) close(open((dir / std::to_string(i)).c_str(), O_RDONLY));
    _exit(0);
  }
  waitpid(pid, nullptr, 0);

  // Reported on the drain that sees it, with how much was lost: the one
  // process flooding is refused past its share of the map (capped); what
  // other processes add past the map's size is refused as full.
  auto warning = daemon.waitForStderr(
      [](const std::string &l) { return l.find("map file_access: ") != l.npos; },
      std::chrono::seconds(20));
  ASSERT_TRUE(warning) << daemon.stderrText();
  EXPECT_NE(warning->find("had its share of the map"), std::string::npos) << *warning;
  EXPECT_GT(std::stol(warning->substr(warning->find("file_access: ") + 13)), 0) << *warning;

  // Still running, still detecting: once the burst is drained, a read of
  // /etc/shadow fits in the map again. Other activity on the machine
  // competes for the 64 entries of each 10 ms interval, so the read is
  // retried until it lands (each attempt a new process); what it competes
  // with is counted, never silent. (/etc/shadow is watched: it has its own
  // lane, tests/e2e/test_flood.cpp.)
  bool detected = false;
  for (auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
       !detected && std::chrono::steady_clock::now() < deadline;) {
    ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
    detected = waitForDetection(daemon, reader.pid, std::chrono::milliseconds(500)).has_value();
  }
  EXPECT_TRUE(detected) << daemon.stderrText();

  EXPECT_EQ(daemon.stop(), 0);
  json s = statsOf(daemon);
  ASSERT_FALSE(s.is_null()) << daemon.stderrText();
  // Fitting 10,000 paths 64 at a time would take 157 drains (1.6 s at
  // 10 ms); the burst opens them in a few milliseconds, so most were
  // refused, and every refusal was counted by its cause.
  const json &file = s["maps"]["file_access"];
  EXPECT_GE(file["failed"].get<long>() + file["capped"].get<long>(), kPaths / 2) << s.dump();
  fs::remove_all(dir);
}

}  // namespace
}  // namespace raqib::test
