// Tamper evidence: what other processes do to raqib itself, as "tamper"
// records for the printers (docs/events.md). The kernel half is
// bpf/tamper.bpf.h; the threat model is in docs/architecture.md.
#pragma once

#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include <nlohmann/json.hpp>

#include "bpf_monitor.hpp"
#include "config.hpp"
#include "plugin_host.hpp"
#include "process_table.hpp"
#include "raqib/records.h"
#include "result.hpp"

namespace raqib {

class Drainer;

// The daemon's process id as the kernel and its BPF programs know it (the
// initial pid namespace's; self_tgid), whatever pid namespace the daemon
// runs in: getpid() there, but not in one of its own. Needs the privilege
// to load a BPF program.
Result<uint32_t> kernelTgid();

// "bpf_map_write" for RAQIB_TAMPER_BPF_MAP_WRITE; "unknown" out of range.
const char *tamperMoveName(uint32_t move);
// "BPF_MAP_UPDATE_ELEM" for 2; "BPF_CMD_<n>" for a command not named here.
std::string bpfCommandName(uint32_t cmd);

// "PTRACE_SEIZE"; "PTRACE_<n>" for a request not named here.
std::string ptraceRequestName(uint32_t request);
// "SIGTERM"; "SIG<n>" for a number without a name.
std::string signalName(uint32_t sig);

// How much a move matters: "critical" for moves that change, blind or stop
// raqib; lower for those that only look (fds got by id, as listing tools
// do; reads of its read-only data, as `bpftool prog show` does; object_name
// is raqib's name of the object) or ask it to stop or reopen (SIGTERM,
// SIGINT, SIGHUP; from pid 1, the service manager, "low").
const char *tamperImportance(const raqib_tamper_key &key, const std::string &object_name);

// The record's own fields (no process), as the drain decodes one entry:
// object names come from names (raqib's objects by type and id).
nlohmann::ordered_json tamperFields(const raqib_tamper_key &key, const raqib_tamper_value &value,
                                    const std::unordered_map<uint64_t, std::string> &names,
                                    int64_t boot_to_unix_ns);

// What the network programs (bpf/net.bpf.h) could not have written in an
// entry of their maps, as text for the integrity record; "" when the entry
// is one they could write. now_ns: CLOCK_BOOTTIME after the entry was read
// (no program writes a time after it). A first time after the last is not
// checked: two CPUs counting a new entry at once may leave the later
// insert's first time above the earlier lookup's last time.
std::string impossibleFlow(const raqib_flow_key &key, const raqib_flow_value &value,
                           uint64_t now_ns);
std::string impossiblePeer(const raqib_peer_key &key, const raqib_peer_value &value,
                           uint64_t now_ns);
std::string impossibleDns(const raqib_dns_key &key, const raqib_dns_value &value, uint64_t now_ns);

struct TamperStats {
  uint64_t records = 0;             // tamper records published
  uint64_t allowed_loads = 0;       // program loads by an allowed loader, not reported
  uint64_t blind_spots = 0;         // raqib links found detached or changed
  uint64_t integrity_failures = 0;  // canaries found changed or missing
};

class Canary;

class TamperWatch {
 public:
  // Plants the canaries, and has drainer report impossible entries here.
  TamperWatch(BpfMonitor &bpf, ProcessTable &processes, PluginHost &plugins, Drainer &drainer,
              const Config &config);

  // Flip the tamper map, bring the process table up to date (the actors'
  // exec records), then publish a record per entry; then verify that every
  // link of raqib is still attached as it was at start.
  Status drain(Drainer &drainer);

  const TamperStats &stats() const { return stats_; }
  ~TamperWatch();

  // An integrity check failed on map: mark the host tainted and report it.
  void integrityFailure(const std::string &map, const std::string &detail);

 private:
  void publish(nlohmann::ordered_json fields, uint32_t actor);
  // Report raqib's objects found unregistered from raqib_objects (and
  // register them again), and each of its links found detached or changed,
  // once.
  void verifyAttachments();
  // The records ("traced", with their actor) of each thread of the daemon
  // another process traces now (TracerPid of /proc/self/task/*/status) and
  // did not at the last call: the ptrace call's own record may be missing
  // (a tracer attached before raqib started, or a record lost to a full
  // map); the attachment itself cannot hide.
  std::vector<std::pair<nlohmann::ordered_json, uint32_t>> newTracers();

  BpfMonitor &bpf_;
  ProcessTable &processes_;
  PluginHost &plugins_;
  std::unordered_set<std::string> allowed_loaders_;
  std::unordered_map<uint64_t, std::string> names_;  // (type << 32 | id) -> object name
  TamperStats stats_;
  std::unordered_set<uint32_t> blind_links_;        // link ids reported
  std::vector<std::unique_ptr<Canary>> canaries_;   // one per activity epoch pair
  std::set<std::pair<uint32_t, uint32_t>> traced_;  // (tid, tracer's tid) reported
};

}  // namespace raqib
