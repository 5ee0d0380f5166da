// Reading raqib's JSON records in end-to-end tests.
#pragma once

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <optional>
#include <string_view>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {

using nlohmann::json;

// A configuration for a test of its own file recipe: exec and file cadences
// (100 ms unless given), JSON on stdout, and the file plugin with one recipe, name,
// watching actions (a TOML array, e.g. R"(["open"])") on path; extra: more
// lines of that recipe.
inline std::string fileRecipeConfig(const std::string &name, const std::string &actions,
                                    const std::string &path, const std::string &extra = "",
                                    const std::string &cadence = "100ms") {
  return "[exec]\ncadence = \"" + cadence + "\"\n[file_access]\ncadence = \"" + cadence +
         "\"\n[plugins.file]\n[[plugins.file.recipe]]\nname = \"" + name +
         "\"\ndescription = \"A file of the test's was acted on\"\n"
         "tactic = \"defense-evasion\"\ntechnique = \"T1070.004\"\nimportance = \"high\"\n"
         "actions = " +
         actions + "\npaths = [\"" + path + "\"]\n" + extra +
         "[printers.stdout]\nformat = \"json\"\n";
}

// Run act in a forked child that then opens marker and exits 0. Returns
// every record (detections and info) about the child, up to the end of the
// drain that carried the marker's record. Entries of one drain come out in
// no particular order, so once the marker's record is out, this process
// opens marker + ".end": that open lands in a later epoch, so its record
// comes after everything of the marker's drain. Empty when the records did
// not come within timeout.
inline std::vector<json> recordsOfChild(
    DaemonProcess &daemon, const std::function<void()> &act, const std::string &marker,
    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  pid_t pid = fork();
  if (pid == 0) {
    act();
    int fd = open(marker.c_str(), O_RDONLY | O_CREAT, 0600);
    _exit(fd >= 0 ? 0 : 1);
  }
  // Read while the child runs: a full stdout pipe would stall raqib's printer.
  std::vector<json> records;
  const std::string end = marker + ".end";
  bool marked = false, done = false;
  daemon.waitForStdout(
      [&](const std::string &line) {
        json j = json::parse(line, nullptr, false);
        if (!j.is_object() || !j.contains("process")) return false;
        bool has_path = j.contains("file");
        if (j["process"]["pid"] == getpid() && has_path && j["file"]["path"] == end)
          return done = true;
        if (j["process"]["pid"] != pid) return false;
        records.push_back(j);
        if (!marked && has_path && j["file"]["path"] == marker) {
          marked = true;
          close(open(end.c_str(), O_RDONLY | O_CREAT, 0600));
        }
        return false;
      },
      timeout);
  waitpid(pid, nullptr, 0);
  if (!done) records.clear();
  return records;
}

// How many losses the daemon has reported so far. raqib counts what it could
// not record, and says so: a map that refused entries (a warning at the next
// drain), a printer whose queue dropped records (a "queue_full" health
// record). Every raqib instance sees the whole machine, so on a busy one
// another process's flood can cause either while a test acts.
inline size_t lossReports(const DaemonProcess &daemon) {
  auto count = [](const std::string &text, std::string_view what) {
    size_t n = 0;
    for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) n++;
    return n;
  };
  return count(daemon.stderrText(), "behaviours not recorded") +
         count(daemon.stdoutText(), "\"queue_full\"");
}

// recordsOfChild, from an attempt during which the daemon reported no loss
// (lossReports) and no record of the child lost its path to the strings
// LRU: then it has every record of the act. A printer reports its drops
// within two of the watchdog's ticks (250 ms at most each), so after the
// records come, such a report is awaited that long. After a lossy attempt,
// reset puts back what act changed and act runs again, until an attempt
// loses nothing or for up to a minute (then the last attempt's records are
// returned, whatever they lost). timeout: recordsOfChild's, per attempt.
inline std::vector<json> losslessRecordsOfChild(
    DaemonProcess &daemon, const std::function<void()> &act, const std::string &marker,
    const std::function<void()> &reset,
    std::chrono::milliseconds timeout = std::chrono::seconds(20)) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::minutes(1);
  for (;;) {
    size_t losses = lossReports(daemon);
    std::vector<json> records = recordsOfChild(daemon, act, marker, timeout);
    daemon.waitForStdout(
        [](const std::string &line) { return line.find("\"queue_full\"") != std::string::npos; },
        std::chrono::milliseconds(500));
    bool evicted = false;
    for (const json &r : records)
      if (r.contains("file"))
        evicted |= r["file"].value("path", "") == "<evicted>" ||
                   r["file"].value("other_path", "") == "<evicted>";
    bool lossless = !records.empty() && !evicted && lossReports(daemon) == losses;
    if (lossless || std::chrono::steady_clock::now() > deadline) return records;
    reset();
  }
}

// The detection about process pid (by recipe name, unless name is empty),
// when one comes within timeout.
inline std::optional<json> waitForDetection(DaemonProcess &daemon, pid_t pid,
                                            std::chrono::milliseconds timeout,
                                            std::string_view name = {}) {
  auto line = daemon.waitForStdout(
      [&](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["kind"] == "detection" && j["process"]["pid"] == pid &&
               (name.empty() || j["name"] == name);
      },
      timeout);
  if (!line) return std::nullopt;
  return json::parse(*line);
}

// The counters the daemon logs as "raqib stats {JSON}" when it stops; call
// after stop(). Null when the line did not come.
inline json statsOf(DaemonProcess &daemon) {
  constexpr std::string_view kTag = "raqib stats ";
  auto line =
      daemon.waitForStderr([&](const std::string &l) { return l.find(kTag) != std::string::npos; },
                           std::chrono::seconds(5));
  return line ? json::parse(line->substr(line->find(kTag) + kTag.size())) : json();
}

// The info records of type "file" for path among records.
inline std::vector<json> fileRecords(const std::vector<json> &records, const std::string &path) {
  std::vector<json> out;
  for (const auto &r : records)
    if (r["kind"] == "info" && r.contains("file") && r["file"]["path"] == path) out.push_back(r);
  return out;
}

}  // namespace raqib::test
