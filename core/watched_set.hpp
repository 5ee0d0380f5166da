// The watched sets: what the file recipes watch, compiled by the core at
// start into the kernel's watched_paths and watched_inodes (bpf/watched.bpf.h)
// as keyed hashes, and the watched lane those acts are recorded in.
// docs/architecture.md, "Lanes".
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "bpf_monitor.hpp"
#include "watched_paths.hpp"
#include "result.hpp"

struct raqib_bpf;
struct ring_buffer;

namespace raqib {

namespace recipes {
struct Recipe;
class PatternSet;
}  // namespace recipes

// Compiles pattern sets into the forms the kernel's watched sets hold (for
// the file lane here, for the exec lane in core/exec_lane.cpp).
class WatchedSetBuilder {
 public:
  // Each pattern of set, watched for actions. A glob whose last name is
  // literal watches that basename; one whose only wildcard is in its last
  // name watches its directory as a prefix; the rest (regexes, other globs)
  // are user-space only.
  // True when every pattern went into a set.
  bool add(const recipes::PatternSet &set, uint32_t actions);
  WatchedPaths done() &&;

 private:
  std::map<std::string, uint32_t> exact_, prefixes_, basenames_;
  std::vector<std::string> user_space_only_;
};

// The watched sets of the enabled recipes among recipes (file recipes only).
// A glob whose last name is literal watches that basename; one whose only
// wildcard is in its last name watches its directory as a prefix.
WatchedPaths watchedPathsOf(const std::vector<recipes::Recipe> &recipes);

// Context entries one process may insert per epoch, and the fill that
// starts an early drain, for a context map of entries (file_access, peers).
uint32_t procCap(uint32_t entries);
uint32_t fillMark(uint32_t entries);

// The keyed SipHash-2-4 of text, as the kernel hashes strings.
uint64_t keyedHash(std::string_view text, uint64_t k0, uint64_t k1);

// ORs the actions of each of w's exact paths, prefixes and basenames into
// the watched_paths entry (map fd) keyed by the keyed hash of hashed(text):
// the lanes share that map, and a string two of them name keeps the bits of
// both. 0 or a negative errno.
int mergeWatched(int fd, const WatchedPaths &w, uint64_t k0, uint64_t k1,
                 const std::function<std::string(const std::string &)> &hashed);

// The most '/' in one of w's prefixes: how deep the kernel's prefix pass goes.
uint32_t prefixDepth(const WatchedPaths &w);

// The kernel's dev_t (major << 20 | minor) of a stat(2) st_dev.
uint64_t kernelDev(uint64_t st_dev);

// The kernel side of the watched lane. configure() runs between the
// skeleton's open and load, fill() after the load (hash_key0/1 are set).
class WatchedLane {
 public:
  static void configure(raqib_bpf *skel, const Config &config);
  // Puts every watched string's keyed hash in watched_paths and the
  // (device, inode) of every exact path that exists in watched_inodes.
  Status fill(raqib_bpf *skel, const WatchedPaths &watched);

  EpochPair &epochs() { return epochs_; }
  int pressureFd() const { return pressure_fd_; }
  // A new epoch of file_activity started: the per-process shares and the
  // fill mark start over.
  Status nextEpoch();
  // The watched file an inode match names, by its keyed hash; nullptr when
  // unknown.
  const std::string *canonicalName(uint64_t hash) const;

 private:
  EpochPair epochs_;
  int epoch_fd_ = -1;
  int pressure_fd_ = -1;
  uint64_t seq_ = 0;
  std::unordered_map<uint64_t, std::string> canonical_;
};

// Wakes a drain early when the kernel says a map or lane passed its mark
// (file_pressure: bpf/watched.bpf.h, exec_watched.bpf.h, dns_watched.bpf.h).
class PressureWatch {
 public:
  // on_pressure gets the enum raqib_pressure bits of the words read at once.
  static Result<std::unique_ptr<PressureWatch>> open(boost::asio::io_context &io, int ringbuf_fd,
                                                     std::function<void(uint32_t)> on_pressure);
  ~PressureWatch();
  PressureWatch(const PressureWatch &) = delete;
  PressureWatch &operator=(const PressureWatch &) = delete;
  void cancel() { readable_.cancel(); }
  uint64_t wakeups() const { return wakeups_; }

 private:
  PressureWatch(boost::asio::io_context &io, ring_buffer *rb, std::unique_ptr<uint32_t> kinds,
                std::function<void(uint32_t)> on_pressure);
  void arm();
  ring_buffer *rb_;
  std::unique_ptr<uint32_t> kinds_;  // what the words read so far asked for
  boost::asio::posix::stream_descriptor readable_;
  std::function<void(uint32_t)> on_pressure_;
  uint64_t wakeups_ = 0;
};

}  // namespace raqib
