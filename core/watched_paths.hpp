// What the file recipes watch, in the forms the kernel's watched sets hold
// (core/watched_set.hpp compiles them; the configuration carries them).
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <vector>

namespace raqib {

struct WatchedPath {
  std::string text;
  uint32_t actions = 0;  // enum raqib_file_act the recipes naming it watch
  bool operator==(const WatchedPath &) const = default;
};

// What the enabled file recipes watch, in the forms the kernel sets hold.
struct WatchedPaths {
  std::vector<WatchedPath> exact;      // "/etc/shadow"
  std::vector<WatchedPath> prefixes;   // "/etc/cron.d/"
  std::vector<WatchedPath> basenames;  // "credentials"
  // Patterns no set can hold (a regex, a glob with a wildcard in a directory
  // and in its last name): their acts are context, matched in user space.
  std::vector<std::string> user_space_only;
  bool empty() const { return exact.empty() && prefixes.empty() && basenames.empty(); }
  bool operator==(const WatchedPaths &) const = default;
};

// What the enabled exec recipes watch (core/exec_lane.hpp compiles it).
struct WatchedExecs {
  WatchedPaths paths;  // their executables; actions are RAQIB_WATCH_EXEC_RECIPE
  // exec_watch_facts: the facts (RAQIB_PROC_*, RAQIB_EXEC_FACT_*) of the
  // recipes whose executables are not all in paths.
  uint32_t facts = 0;
  // Recipes some of whose execs neither singles out (arguments or a parent
  // alone, a pattern no set holds and no fact): those execs are context,
  // matched in user space.
  std::vector<std::string> uncovered;
  bool empty() const { return paths.empty() && facts == 0; }
  bool operator==(const WatchedExecs &) const = default;
};

// An address or network the enabled net recipes watch (core/peer_lane.hpp
// compiles them).
struct WatchedPeer {
  uint32_t family = 0;             // 4 or 6
  std::array<uint8_t, 16> addr{};  // network order, zero past the prefix
  uint32_t prefix = 0;             // bits
  uint32_t directions = 0;         // 1u << enum raqib_net_direction
  bool operator==(const WatchedPeer &) const = default;
};

// Ports a net recipe watches where no address it names singles its peers
// out (it names none, or names domains too): the recipe matches nothing on
// another port, so every connect to them (remote port) or accept on them
// (local port) goes into the lane.
struct WatchedPorts {
  uint32_t first = 0;
  uint32_t last = 0;
  uint32_t directions = 0;  // 1u << enum raqib_net_direction
  bool operator==(const WatchedPorts &) const = default;
};

struct WatchedPeers {
  std::vector<WatchedPeer> prefixes;
  std::vector<WatchedPorts> ports;
  // Recipes whose connects or accepts neither an address nor a port singles
  // out (names resolved to addresses, filters alone): those are context,
  // matched in user space.
  std::vector<std::string> uncovered;
  bool empty() const { return prefixes.empty() && ports.empty(); }
  bool operator==(const WatchedPeers &) const = default;
};

}  // namespace raqib
