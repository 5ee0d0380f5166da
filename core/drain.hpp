// The drain: on each cadence, swap a mechanism's epoch map and turn every
// entry of the map taken out into records for the plugins.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>

#include "bpf_monitor.hpp"
#include "plugin_host.hpp"
#include "process_table.hpp"
#include "result.hpp"

namespace raqib {

// An absolute path with "." and ".." folded and "//" collapsed, without
// following symlinks (for paths the kernel did not resolve itself).
std::string foldDots(std::string_view path);

// Paths by keyed hash: read once from the kernel's strings map, then cached.
class StringCache {
 public:
  explicit StringCache(int strings_fd, size_t max_entries)
      : fd_(strings_fd), max_entries_(max_entries) {}

  // nullptr when the kernel no longer has it (counted in lost()).
  const std::string *lookup(uint64_t hash);
  uint64_t lost() const { return lost_; }

 private:
  int fd_;
  size_t max_entries_;
  std::unordered_map<uint64_t, std::string> cache_;
  uint64_t lost_ = 0;
};

struct DrainStats {
  uint64_t exec_records = 0;
  uint64_t file_records = 0;
};

class Drainer {
 public:
  Drainer(BpfMonitor &bpf, ProcessTable &processes, PluginHost &plugins, size_t strings_entries,
          Events events)
      : bpf_(bpf),
        processes_(processes),
        plugins_(plugins),
        strings_(bpf.stringsFd(), 4 * strings_entries),
        events_(events) {}

  // Processes first: a file record names a process the table must know.
  Status drainExec();
  Status drainFile();

  const DrainStats &stats() const { return stats_; }
  const StringCache &strings() const { return strings_; }

 private:
  // Hand a record to the detectors, and to the printers with --events all.
  void deliver(const std::shared_ptr<const RecordSnapshot> &record);

  BpfMonitor &bpf_;
  ProcessTable &processes_;
  PluginHost &plugins_;
  StringCache strings_;
  Events events_;
  DrainStats stats_;
};

}  // namespace raqib
