// The watched lane of peers: the addresses and networks the net recipes name,
// compiled by the core at start into the kernel's LPM trie watched_peers,
// and the lane connects and accepts of them are recorded in; and the epochs
// of the per-process shares of peers and flows (bpf/peers_watched.bpf.h).
// docs/architecture.md, "Lanes".
#pragma once

#include <cstdint>
#include <vector>

#include "bpf_monitor.hpp"
#include "result.hpp"
#include "watched_paths.hpp"

struct raqib_bpf;

namespace raqib {

namespace recipes {
struct Recipe;
}

// The networks the enabled net recipes name for connects and accepts, each
// once, with the directions of every recipe naming it or a wider network
// that contains it (the kernel's longest match then says it all); and the
// ports of the recipes no address singles out. Protocol, and the ports of
// recipes with addresses, are left to the recipes: a connect to a watched
// address on any port is in the lane.
WatchedPeers watchedPeersOf(const std::vector<recipes::Recipe> &recipes);

class PeerLane {
 public:
  // Between the skeleton's open and load (the watched ports go into rodata).
  static void configure(raqib_bpf *skel, const Config &config);
  // After the load: every watched network into watched_peers.
  Status fill(raqib_bpf *skel, const WatchedPeers &peers);

  EpochPair &epochs() { return epochs_; }
  // Nothing was inserted since the last flip: taking the lane out (an RCU
  // grace period) can wait.
  bool idle() const;
  // The lane is about to be flipped: its fill starts over.
  Status nextEpoch();
  // The peers map is about to be flipped: its fill and the per-process
  // shares start over.
  Status nextContextEpoch();
  // Likewise for the flows map (which has no lane).
  Status nextFlowsEpoch();

 private:
  Status reset(uint32_t slot, uint64_t seq);
  EpochPair epochs_;
  int epoch_fd_ = -1;
  uint64_t context_seq_ = 0;
  uint64_t flows_seq_ = 0;
};

}  // namespace raqib
