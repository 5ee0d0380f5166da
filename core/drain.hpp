// The drain: on each cadence, swap a mechanism's epoch map and turn every
// entry of the map taken out into records for the plugins.
#pragma once

#include <atomic>
#include <chrono>

#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

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

// The names DNS answers gave each address, newest first: filled by the DNS
// drain, read when peers and flows are drained (so drain DNS first).
// Bounded: forgets everything when it holds max_addresses.
class ResolvedNames {
 public:
  explicit ResolvedNames(size_t max_addresses = 65536) : max_addresses_(max_addresses) {}
  // Past max_addresses, the address answered least recently leaves (one per
  // new address, counted): a flood of answers cannot wipe the others.
  void add(const std::string &addr, const std::string &name);
  std::vector<std::string> lookup(const std::string &addr) const;
  uint64_t evicted() const { return evicted_; }

 private:
  static constexpr size_t kNamesPerAddress = 8;
  struct Entry {
    std::vector<std::string> names;  // newest first
    std::list<std::string>::iterator order;
  };
  size_t max_addresses_;
  std::unordered_map<std::string, Entry> names_;
  std::list<std::string> order_;  // addresses, answered most recently first
  uint64_t evicted_ = 0;
};

// "127.0.0.1" or "::1" from 16 bytes in network order (IPv4 in the first 4).
std::string addressText(const uint8_t *addr, uint32_t family);
// "needle.raqib.test" from wire format (length-prefixed labels).
std::string dnsNameText(const std::string &wire);
// "ESTABLISHED" for the kernel's TCP state number; "" for 0.
const char *tcpStateName(uint32_t state);

// Decoding one drained map entry into what plugins get, with no BPF and no
// clock: strings come from a look-up or looked up already (nullptr: the
// kernel evicted them), boot_to_unix_ns turns kernel times into Unix times.
// The drain below is these plus the look-ups; tests/fuzz/fuzz_records.cpp
// feeds them raw bytes.
std::string stringText(const raqib_string &s);
// A string by hash, nullptr when evicted; valid until the next look-up only
// (StringCache forgets everything when full), so file decoding looks each
// path up as it needs it.
using StringLookup = std::function<const std::string *(uint64_t hash)>;
ExecActivity decodeExec(const raqib_proc &rec, int64_t boot_to_unix_ns);
FileActivity decodeFile(const raqib_file_key &key, const raqib_file_value &value,
                        const StringLookup &strings, int64_t boot_to_unix_ns);
// The watched lane's entry carries its path; strings gives the other path.
FileActivity decodeWatched(const raqib_file_key &key, const raqib_watched_value &value,
                           const StringLookup &strings, int64_t boot_to_unix_ns);
// A ring-buffer event carries its path; strings gives the other path.
FileActivity decodeFileEvent(const raqib_file_event &event, const StringLookup &strings,
                             int64_t boot_to_unix_ns);
DnsActivity decodeDns(const raqib_dns_key &key, const raqib_dns_value &value,
                      const std::string *name_wire, int64_t boot_to_unix_ns);
// Names of the remote address are the caller's to add (ResolvedNames).
FlowActivity decodePeer(const raqib_peer_key &key, const raqib_peer_value &value,
                        int64_t boot_to_unix_ns);
FlowActivity decodeFlow(const raqib_flow_key &key, const raqib_flow_value &value,
                        int64_t boot_to_unix_ns);
// The raqib_file_event a ring-buffer sample of size bytes holds, or nullptr
// when it is malformed (too short, another kind, a path past its end).
const raqib_file_event *fileEventIn(const void *data, size_t size);

struct DrainStats {
  uint64_t exec_records = 0;
  uint64_t file_records = 0;
  uint64_t watched_records = 0;       // of file_records, from the watched lane
  uint64_t exec_watched_records = 0;  // of exec_records, from the exec lane
  uint64_t dns_watched_records = 0;   // of dns_records, from the DNS lane
  uint64_t peer_watched_records = 0;  // of peer_records, from the peers lane
  uint64_t peer_records = 0;
  uint64_t flow_records = 0;
  uint64_t dns_records = 0;
  uint64_t processes_reconciled = 0;  // table entries the task iterator showed gone
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
  // Network: DNS first, so peers and flows to answered addresses carry the
  // names that resolved to them.
  Status drainDns();
  Status drainPeers();
  Status drainFlows();

  // The ring-buffer transport: one raqib_file_event as the kernel sent it.
  // Returns 0, or -1 for a malformed event (logged; libbpf stops the batch).
  int consumeFileEvent(const void *data, size_t size);

  const DrainStats &stats() const { return stats_; }

  // With --events all the drain loop formats each info record itself: that
  // paces the drains to what the printers can write, and the kernel maps
  // aggregate meanwhile instead of a printer's queue overflowing. Once
  // *stop_came is set (by the stop signal's handler, at any time; steady
  // clock ticks), the printers format them instead, within the stop bound:
  // what is left of the drain under way and the final drain take no
  // formatting time. And bound after it, the drains of the context maps
  // (file, DNS, peers, flows) stop taking entries (between batches of
  // 1024): what they still hold then stays there, counted (notDrained).
  // The lanes and the exec maps are always drained whole.
  void stopWithin(const std::atomic<int64_t> *stop_came, std::chrono::milliseconds bound) {
    stop_came_ = stop_came;
    stop_bound_ = bound;
  }
  // Entries the maps still held when the drains stopped at the bound.
  uint64_t notDrained() const;

  // Called with the map and what is wrong for each entry the programs could
  // not have written (core/tamper.cpp reports it); the entry is skipped.
  using Impossible = std::function<void(const std::string &map, const std::string &what)>;
  void onImpossible(Impossible fn) { impossible_ = std::move(fn); }
  const StringCache &strings() const { return strings_; }
  const ResolvedNames &resolvedNames() const { return resolved_; }

 private:
  // How much of a map a drain takes once the stop signal came: whole (the
  // exec maps, on which every record's process depends, and the lanes,
  // which hold what recipes watch and are small), or what it can until the
  // stop bound (the context maps).
  enum class Bound { whole, stop };

  // Flip pair, drain what its records depend on (processes; with names,
  // DNS answers), then hand each entry of the map taken out to fn.
  template <class K, class V, class Fn>
  Status drainWithContext(EpochPair &pair, bool names, Bound bound, Fn &&fn);

  // Hand each entry of fd, the map pair took out, to fn: all of them, or
  // (Bound::stop) those it can until the stop bound, counting what it left.
  // A map drained to empty goes back into service (pair.drained()).
  template <class K, class V, class Fn>
  Status take(EpochPair &pair, int fd, Bound bound, Fn &&fn);
  bool pastStopBound() const;

  // strings_.lookup, as the decoders take it.
  StringLookup lookupString() {
    return [this](uint64_t hash) { return strings_.lookup(hash); };
  }

  // Hand a record to the detectors, and to the printers with --events all.
  // Urgent: from a lane, what a recipe watches.
  void deliver(const std::shared_ptr<const RecordSnapshot> &record,
               Priority priority = Priority::normal);

  // Forget exited processes; every kReconcileEvery, or when the table
  // passes kMaxProcesses, also those the kernel's task iterator no longer
  // lists (their exit was never recorded: the exec map was full).
  Status trimProcesses();

  BpfMonitor &bpf_;
  ProcessTable &processes_;
  PluginHost &plugins_;
  StringCache strings_;
  Events events_;
  Impossible impossible_ = [](const std::string &, const std::string &) {};
  DrainStats stats_;
  const std::atomic<int64_t> *stop_came_ = nullptr;
  std::chrono::milliseconds stop_bound_{0};
  std::map<int, uint64_t> left_at_stop_;  // by map fd: what its last drain left
  ResolvedNames resolved_;
  std::chrono::steady_clock::time_point last_reconcile_ = std::chrono::steady_clock::now();
};

}  // namespace raqib
