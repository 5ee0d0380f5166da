// The logfile printer against the real daemon: every detection the stdout
// printer shows lands once, in the same order, as a JSON line in a 0600 file;
// rotation keeps the configured number of files and loses nothing at a
// rotation; SIGHUP after a logrotate-style move starts a new file; a full
// disk costs only this printer records, each counted.
#include <gtest/gtest.h>
#include <signal.h>
#include <pwd.h>
#include <sys/mount.h>
#include <sys/stat.h>

#include <algorithm>
#include <filesystem>
#include <ranges>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "peer_process.hpp"
#include "printer_delivery.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

std::string configWith(const std::string &logfile_section) {
  return fmt::format(
      "[exec]\ncadence = \"50ms\"\n[file_access]\ncadence = \"50ms\"\n[plugins.file]\n"
      "[printers.stdout]\nformat = \"json\"\n[printers.logfile]\n{}",
      logfile_section);
}

// The uuids of the detections in files, oldest file first; every line must be
// a whole JSON object.
std::vector<std::string> detectionsInFiles(const std::vector<std::string> &files) {
  std::vector<std::string> uuids;
  for (const auto &file : files)
    for (const auto &line : readLines(file)) {
      json j = json::parse(line, nullptr, false);
      EXPECT_TRUE(j.is_object()) << file << ": not a JSON line: " << line;
      if (j.is_object() && j["kind"] == "detection") uuids.push_back(j["uuid"]);
    }
  return uuids;
}

mode_t modeOf(const std::string &path) {
  struct stat st {};
  EXPECT_EQ(stat(path.c_str(), &st), 0) << path;
  return st.st_mode & 07777;
}

TEST(LogfilePrinter, EveryDetectionOnceInOrderInA0600File) {
  TempFile base("unused", "");
  std::string dir = fs::path(base.path()).parent_path() / "new" / "dir";
  std::string path = dir + "/events.json";
  TempFile config("raqib.toml", configWith(fmt::format("path = \"{}\"\n", path)));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  auto shown = detectionsOnStdout(daemon, readShadow(5));
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();

  EXPECT_EQ(onlyThese(detectionsInFiles({path}), shown), shown);
  EXPECT_EQ(modeOf(path), 0600u);
  EXPECT_EQ(modeOf(dir), 0700u);  // created by the printer
}

TEST(LogfilePrinter, RotationKeepsTheConfiguredFilesAndLosesNothingAtARotation) {
  constexpr int kKeep = 2;
  constexpr uint64_t kMaxBytes = 4096;  // a detection line is about 700 bytes
  TempFile config("raqib.toml", "");
  std::string path = fs::path(config.path()).parent_path() / "events.json";
  TempFile real_config(
      "raqib.toml", configWith(fmt::format("path = \"{}\"\nmax_bytes = {}\nkeep_files = {}\n", path,
                                           kMaxBytes, kKeep)));
  DaemonProcess daemon({"--config", real_config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  auto shown = detectionsOnStdout(daemon, readShadow(24));  // more than 3 files hold
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();

  std::vector<std::string> files = {path + ".2", path + ".1", path};
  for (const auto &f : files) {
    ASSERT_TRUE(fs::exists(f)) << f;
    EXPECT_LE(fs::file_size(f), kMaxBytes) << f;
    EXPECT_EQ(modeOf(f), 0600u) << f;
  }
  EXPECT_FALSE(fs::exists(path + ".3"));
  // The kept files hold the newest detections, each once, in order, across
  // both rotations between them.
  auto kept = onlyThese(detectionsInFiles(files), shown);
  // Both rotations lie inside what was kept. A rotated file may hold only
  // tamper records (on a shared machine, other processes' program loads).
  for (const auto &f : {path + ".2", path + ".1"}) EXPECT_FALSE(readLines(f).empty()) << f;
  ASSERT_LT(kept.size(), shown.size());  // the oldest file was dropped, as configured
  EXPECT_EQ(kept, std::vector<std::string>(shown.end() - kept.size(), shown.end()));
}

TEST(LogfilePrinter, SighupAfterAMoveStartsANewFile) {
  TempFile config("raqib.toml", "");
  std::string path = fs::path(config.path()).parent_path() / "events.json";
  TempFile real_config("raqib.toml", configWith(fmt::format("path = \"{}\"\n", path)));
  DaemonProcess daemon({"--config", real_config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  auto before = detectionsOnStdout(daemon, readShadow(1));
  ASSERT_EQ(before.size(), 1u);
  // The printers run on their own threads: stdout showing a detection does
  // not mean the logfile printer has written it yet.
  ASSERT_TRUE(waitUntil(
      [&] {
        auto lines = readLines(path);
        return std::ranges::any_of(lines, [&](const std::string &l) {
          return l.ends_with("}") && l.find(before.at(0)) != std::string::npos;
        });
      },
      10s))
      << daemon.stderrText();
  // What logrotate does: move the file, then signal.
  fs::rename(path, path + ".moved");
  ASSERT_EQ(kill(daemon.pid(), SIGHUP), 0);
  ASSERT_TRUE(daemon.waitForStderr(
      [](const std::string &l) { return l.find("SIGHUP: printers reopen") != std::string::npos; },
      10s))
      << daemon.stderrText();
  auto after = detectionsOnStdout(daemon, readShadow(1));
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();

  EXPECT_EQ(onlyThese(detectionsInFiles({path + ".moved"}), before), before);
  EXPECT_EQ(onlyThese(detectionsInFiles({path}), after), after);
  EXPECT_EQ(modeOf(path), 0600u);
}

// A tmpfs of a few pages, unmounted with the object.
class SmallDisk {
 public:
  explicit SmallDisk(const std::string &dir) : dir_(dir) {
    fs::create_directories(dir_);
    // Owned by the user the daemon writes as.
    const passwd *raqib = getpwnam("raqib");
    std::string options =
        raqib ? fmt::format("size=8k,mode=0700,uid={},gid={}", raqib->pw_uid, raqib->pw_gid)
              : "size=8k,mode=0700";
    mounted_ = mount("raqib-test", dir_.c_str(), "tmpfs", 0, options.c_str()) == 0;
  }
  ~SmallDisk() {
    if (mounted_) umount2(dir_.c_str(), MNT_DETACH);
  }
  bool mounted() const { return mounted_; }

 private:
  std::string dir_;
  bool mounted_ = false;
};

TEST(LogfilePrinter, AFullDiskCostsOnlyThisPrinterAndEveryLossIsCounted) {
  TempFile config("raqib.toml", "");
  std::string disk_dir = fs::path(config.path()).parent_path() / "disk";
  SmallDisk disk(disk_dir);
  ASSERT_TRUE(disk.mounted()) << "mounting a tmpfs on " << disk_dir << ": " << strerror(errno);
  std::string path = disk_dir + "/events.json";
  TempFile real_config("raqib.toml", configWith(fmt::format("path = \"{}\"\n", path)));
  DaemonProcess daemon({"--config", real_config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  constexpr int kDetections = 20;  // about 14 KB of lines for 8 KB of disk
  auto shown = detectionsOnStdout(daemon, readShadow(kDetections));
  EXPECT_EQ(shown.size(), size_t(kDetections));  // the stdout printer lost nothing
  // The host reports the failures to the other printers.
  auto health = daemon.waitForStdout(
      [](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["kind"] == "health" && j["plugin"] == "logfile" &&
               j["fault"] == "error" &&
               j["detail"].get<std::string>().find("No space left on device") != std::string::npos;
      },
      10s);
  EXPECT_TRUE(health) << daemon.stdoutText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();

  // Whole lines only, in order, each once; and every record missing (a
  // detection or a health record about the failures) was counted.
  auto written = onlyThese(detectionsInFiles({path}), shown);
  EXPECT_LT(written.size(), shown.size());
  auto next = shown.begin();
  for (const auto &uuid : written) {
    next = std::find(next, shown.end(), uuid);
    ASSERT_NE(next, shown.end()) << uuid << " out of order or twice";
  }
  // What the logfile printer was handed, as stdout got it too: tamper records
  // included (the SIGTERM that stops the daemon, and on a shared machine
  // other processes' program loads).
  size_t published = 0;
  for (const auto &line : daemon.stdoutText() | std::views::split('\n')) {
    json j = json::parse(std::string_view(line.begin(), line.end()), nullptr, false);
    published += j.is_object() &&
                 (j["kind"] == "detection" || j["kind"] == "health" || j["kind"] == "tamper");
  }
  std::string counted = fmt::format("{} records could not be written to {}",
                                    published - readLines(path).size(), path);
  EXPECT_NE(daemon.stderrText().find(counted), std::string::npos)
      << "expected \"" << counted << "\" in\n"
      << daemon.stderrText();
}

TEST(LogfilePrinter, BadConfigurationStopsTheDaemonNamingKeyAndFix) {
  TempFile config("raqib.toml", configWith("path = \"relative/events.json\"\n"));
  DaemonProcess daemon({"--config", config.path()});
  EXPECT_EQ(daemon.wait(30s), 1);
  EXPECT_NE(daemon.stderrText().find("[printers.logfile] path must be an absolute file path, got "
                                     "\"relative/events.json\""),
            std::string::npos)
      << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
