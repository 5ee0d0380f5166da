// The daemon's configuration (TOML), parsed and validated in full before
// anything starts. Every error names FILE:LINE:COL, what is wrong and what is
// allowed. The reference is config/raqib.toml, embedded as the default.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "result.hpp"
#include "watched_paths.hpp"

namespace raqib {

// One kernel mechanism: how often it is drained and how many distinct
// behaviours one epoch of its map holds.
struct MechanismConfig {
  std::chrono::milliseconds cadence{250};
  uint32_t map_entries = 16384;
  bool operator==(const MechanismConfig &) const = default;
};

// A plugin or printer the configuration names.
struct PluginConfig {
  std::string name;
  bool enabled = true;
  uint32_t queue_capacity = 0;  // records waiting for it; 0: [core] queue_capacity
  std::string section_toml;     // the section as TOML text, handed to the plugin
  bool operator==(const PluginConfig &) const = default;
};

// How records leave the kernel: drained from maps (the default), or streamed
// through a ring buffer the way streaming monitors do (for comparison).
enum class Transport { Query, Ringbuf };

// What reaches the printers: detections only, or every record too.
enum class Events { Detections, All };

struct Config {
  std::string source = "<default>";  // where it was read from
  std::string log_level = "info";
  Transport transport = Transport::Query;
  Events events = Events::Detections;
  uint32_t ringbuf_bytes = 16 << 20;           // ring-buffer transport: buffer size
  std::vector<std::string> plugin_dirs;        // searched before the built-in ones
  uint32_t queue_capacity = 4096;              // records waiting per plugin
  std::string user = "raqib";                  // switch to this user after start; "root" stays root
  std::vector<std::string> keep_capabilities;  // e.g. "cap_net_bind_service"; default none
  uint32_t plugin_restart_limit = 3;           // restarts after faults before a plugin is disabled
  uint32_t plugin_memory_mib = 256;            // memory each plugin thread may make writable
  std::chrono::milliseconds plugin_restart_backoff{1000};   // first wait; doubles each restart
  std::chrono::milliseconds plugin_call_timeout{5000};      // a longer plugin call is a hang
  std::chrono::milliseconds plugin_restart_window{600000};  // faults further apart do not add up
  std::chrono::milliseconds attenuator_hold{3000};          // longest wait for the attenuator
  MechanismConfig exec;
  MechanismConfig file_access;
  MechanismConfig network_peers;                                  // connects and accepts
  MechanismConfig network_flows{std::chrono::seconds(1), 16384};  // 5-tuples, bytes, packets
  MechanismConfig dns{std::chrono::milliseconds(250), 4096};      // questions and answers
  uint32_t strings_map_entries = 16384;
  // Tamper evidence (core/tamper.cpp): how often its map is drained and
  // raqib's attachments are verified, and the executables (canonical paths)
  // whose BPF program loads are expected and not reported.
  MechanismConfig tamper{std::chrono::milliseconds(250), 1024};
  std::vector<std::string> tamper_allowed_loaders;
  WatchedPaths watched;        // what the file recipes watch (core/watched_set.hpp), set from them
  WatchedExecs watched_execs;  // what the exec recipes watch (core/exec_lane.hpp), set from them
  WatchedPaths watched_domains;  // what the net recipes watch (core/dns_lane.hpp), set from them
  WatchedPeers watched_peers;    // and their addresses (core/peer_lane.hpp), set from them
  std::vector<PluginConfig> detectors;
  std::vector<PluginConfig> printers;
  bool operator==(const Config &) const = default;
};

// What a reload (SIGHUP) of fresh over the running configuration applies:
// the new section of every enabled plugin or printer whose section changed.
// Anything else that changed needs a restart and is named in not_applied.
struct ReloadPlan {
  std::vector<PluginConfig> changed;
  std::vector<std::string> not_applied;
};
ReloadPlan planReload(const Config &running, const Config &fresh);

inline constexpr std::chrono::milliseconds kMinCadence{10};
inline constexpr std::chrono::milliseconds kMaxCadence{60000};

// The default configuration (config/raqib.toml), compiled in.
std::string_view defaultConfigText();

// Parse TOML text; source_name is used in error messages.
Result<Config> parseConfig(std::string_view text, std::string_view source_name);

// Read and parse a file.
Result<Config> loadConfigFile(const std::string &path);

// Set key = value (a string) in the section of the plugin called name, as a
// command-line option overrides the configuration file.
void setPluginOption(std::vector<PluginConfig> &plugins, std::string_view name,
                     std::string_view key, std::string_view value);

// "query"/"ringbuf", "detections"/"all"; nullopt for anything else.
std::optional<Transport> parseTransport(std::string_view text);
std::optional<Events> parseEvents(std::string_view text);

// Parse a duration such as "250ms", "2s" or "1m".
std::optional<std::chrono::milliseconds> parseDuration(std::string_view text);

}  // namespace raqib
