// SPDX-License-Identifier: Apache-2.0
// An example raqib detector, built out of tree against the installed SDK:
//
//   c++ -std=c++20 -O2 -fPIC -shared -fvisibility=hidden
//       $(pkg-config --cflags raqib-sdk) canary_detector.cpp -o raqib-canary.so
//
// (one line; or `make`, with the Makefile next to this file).
//
// It reports every process that opens a "canary" file: a file nobody has a
// reason to touch, placed where an intruder looks. Its configuration section
// names the path prefix:
//
//   [plugins.canary]
//   watch = "/srv/canary/"
//
// It shows the whole plugin contract: read the TOML section, log through the
// daemon, look at the process's ancestry, emit a detection, fail politely.
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

#include <raqib/plugin.hpp>

namespace {

// The value of `key = "value"` (or 'value') in a TOML section, or fallback. (A real
// plugin would use a TOML library; this one depends on the SDK only.)
std::string stringKey(std::string_view toml, std::string_view key, std::string fallback) {
  size_t at = 0;
  while (at < toml.size()) {
    size_t end = toml.find('\n', at);
    std::string_view line = toml.substr(at, end == std::string_view::npos ? toml.npos : end - at);
    at = end == std::string_view::npos ? toml.size() : end + 1;
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    if (line.substr(0, key.size()) != key) continue;
    size_t open = line.find_first_of("\"'"), close = line.find_last_of("\"'");
    if (open != std::string_view::npos && close > open)
      return std::string(line.substr(open + 1, close - open - 1));
  }
  return fallback;
}

class CanaryDetector {
 public:
  // Runs on the plugin's own thread, after its seccomp filter is in place.
  // Throwing here refuses to start, with the message as the reason.
  explicit CanaryDetector(raqib::Host host)
      : host_(host), watch_(stringKey(host.config(), "watch", "")) {
    if (watch_.empty() || watch_.front() != '/')
      throw std::runtime_error(
          "[plugins.canary] watch must be an absolute path prefix, such as "
          "\"/srv/canary/\"");
    host_.log(RAQIB_LOG_INFO, "watching " + watch_);
  }

  // One record at a time, on the plugin's thread. The record and everything
  // it points to belong to the host and are valid during this call only.
  void onRecord(const raqib_record &record) {
    const raqib_file_record *file = record.file;
    if (!file || std::strncmp(file->path, watch_.c_str(), watch_.size()) != 0) return;
    // The host knows the process and its ancestry: skip our own checker.
    raqib::ProcessView parent = host_.process(record.process->ppid);
    if (parent && std::string_view(parent.process->comm) == "canary-check") return;
    raqib_detection d{};
    d.struct_size = sizeof d;
    d.importance = RAQIB_IMPORTANCE_HIGH;
    d.name = "canary_file_opened";
    d.tactic = "discovery";
    d.technique = "T1083";
    d.record = &record;
    if (!host_.emit(d)) throw raqib::PluginError("the host refused the detection");
  }

 private:
  raqib::Host host_;
  std::string watch_;
};

}  // namespace

RAQIB_DETECTOR(CanaryDetector, "canary", "1.0.0",
               "Any process opening a canary file under a configured prefix", RAQIB_RECORD_FILE);
