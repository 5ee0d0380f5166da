// The watched lane of DNS: the domains the net recipes name, compiled by the
// core at start into the kernel's watched_paths (in wire format, lower case,
// marked as a net recipe's), and the lane questions for them are recorded
// in (bpf/dns_watched.bpf.h). docs/architecture.md, "Lanes".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "bpf_monitor.hpp"
#include "result.hpp"
#include "watched_paths.hpp"

struct raqib_bpf;

namespace raqib {

namespace recipes {
struct Recipe;
}

// The domains the enabled net recipes name: exact names, and in prefixes
// the names that are watched with every name under them ("example.com" for
// ".example.com"); lower case, actions RAQIB_WATCH_DNS_RECIPE. A name too
// long for the kernel's question buffer is user-space only.
WatchedPaths watchedDomainsOf(const std::vector<recipes::Recipe> &recipes);

// name ("example.com") in DNS wire format with its terminating zero, as the
// kernel keeps a question's name; nullopt when a label is empty or longer
// than 63 bytes, or the whole is longer than RAQIB_DNS_NAME_MAX.
std::optional<std::string> dnsWireName(std::string_view name);

class DnsLane {
 public:
  // Between the skeleton's open and load, after WatchedLane::configure.
  static void configure(raqib_bpf *skel, const Config &config);
  // After the load: the keyed hash of every watched domain's wire name in
  // watched_paths, with the bits already there kept.
  Status fill(raqib_bpf *skel, const WatchedPaths &domains);

  EpochPair &epochs() { return epochs_; }
  // Nothing was inserted since the last flip: taking the lane out (an RCU
  // grace period) can wait.
  bool idle() const;
  // The lane was flipped: its fill (the soft mark) starts over.
  Status nextEpoch();

 private:
  EpochPair epochs_;
  int epoch_fd_ = -1;
};

}  // namespace raqib
