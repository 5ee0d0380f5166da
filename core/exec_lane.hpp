// The watched lane of processes: the executables the exec recipes name,
// compiled by the core at start into the kernel's watched_paths (marked as an
// exec recipe's), and the lane such execs are recorded in
// (bpf/exec_watched.bpf.h). docs/architecture.md, "Lanes".
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

// The executables the enabled exec recipes name (their exe patterns), in the
// forms the kernel's sets hold (actions RAQIB_WATCH_EXEC_RECIPE), and the
// facts of the recipes some of whose executables no set holds (or none
// named): an environment marker, exe flags, sockets on standard streams.
WatchedExecs watchedExecsOf(const std::vector<recipes::Recipe> &recipes);

class ExecLane {
 public:
  // Between the skeleton's open and load; after WatchedLane::configure, whose
  // watched_paths size it adds to.
  static void configure(raqib_bpf *skel, const Config &config);
  // After the load: puts the keyed hash of every watched executable in
  // watched_paths, with the bits the file lane put there kept.
  Status fill(raqib_bpf *skel, const WatchedExecs &execs);

  EpochPair &epochs() { return epochs_; }
  // Nothing was inserted since the last flip: taking the lane out (an RCU
  // grace period) can wait. Read after the context map's flip, it says no
  // entry of that map has its parent's exec in the lane.
  bool idle() const;
  // The lane was flipped: its fill (the early-drain mark) starts over.
  Status nextEpoch();

 private:
  EpochPair epochs_;
  int epoch_fd_ = -1;
};

}  // namespace raqib
