// The privileged part of the core: checks that this machine can run raqib,
// loads and attaches the BPF object (embedded skeleton), and owns its maps.
// After start-up the core only reads and swaps maps through the fds held here.
#pragma once

#include <array>
#include <functional>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "config.hpp"
#include "raqib/records.h"
#include "result.hpp"

struct raqib_bpf;
struct bpf_link;

namespace raqib {

// Two inner maps behind a one-slot map-of-maps (bpf/maps.bpf.h). flip() puts
// the idle map in the slot and returns the fd of the one taken out: when it
// returns, the kernel has waited for every program that could still hold the
// old map, so the returned map has no writer and can be drained whole. A map
// taken out goes back into service only once drained() says it is empty:
// until then flip() returns it again instead of swapping, so a drain that
// failed part-way is retried and never puts a still-full map in the slot.
// While both maps hold only their guard's entry, flip() leaves them as they
// are and returns kNothingToDrain rather than wait a grace period for
// nothing.
// Checks on an epoch pair's inner maps (the canaries of core/tamper.cpp):
// takenOut when flip() takes a map out of service, before it is drained;
// emptied when it was drained, before it goes back into service;
// holdsOnlyItsOwn when the map holds the guard's entry and nothing else.
class EpochGuard {
 public:
  virtual ~EpochGuard() = default;
  virtual void takenOut(int fd) = 0;
  virtual void emptied(int fd) = 0;
  virtual bool holdsOnlyItsOwn(int fd) = 0;
};

class EpochPair {
 public:
  EpochPair() = default;
  EpochPair(int outer_fd, int a_fd, int b_fd) : outer_(outer_fd), inner_{a_fd, b_fd} {}
  static constexpr int kNothingToDrain = -1;  // drainMap takes it as an empty map
  [[nodiscard]] Result<int> flip();
  // The map flip() returned was drained to empty.
  void drained() {
    if (!undrained_) return;  // flip() returned kNothingToDrain
    undrained_ = false;
    if (guard_) guard_->emptied(inner_[1 - current_]);
  }
  // Guard both maps from now on (emptied is called for each at once).
  void guard(EpochGuard *g) {
    guard_ = g;
    for (int fd : inner_) g->emptied(fd);
  }
  void unguard() { guard_ = nullptr; }
  std::array<int, 2> innerFds() const { return inner_; }

 private:
  EpochGuard *guard_ = nullptr;
  int outer_ = -1;
  std::array<int, 2> inner_{-1, -1};
  int current_ = 0;         // index of the inner map in the slot
  bool undrained_ = false;  // the idle map still holds entries
};

struct MapCounters {
  uint64_t inserts = 0;
  uint64_t updates = 0;
  uint64_t failed = 0;
  uint64_t capped = 0;  // refused: the process had its share of the epoch
};

// One of raqib's own maps, programs or links (enum raqib_object_type), by
// the kernel's id; a link's name is the hook it attaches to.
struct OwnObject {
  uint32_t type = 0;
  uint32_t id = 0;
  std::string name;
};

// One of raqib's links as it was attached at start: what the verification
// on each tamper drain compares the link's state with.
struct OwnLink {
  int fd = -1;  // held until the daemon ends
  uint32_t id = 0;
  uint32_t prog_id = 0;
  uint32_t type = 0;       // enum bpf_link_type
  uint64_t cgroup_id = 0;  // a cgroup link's cgroup; 0 once detached
  std::string hook;
};

// A link no longer attached as it was, and what changed.
struct BrokenLink {
  const OwnLink *link;
  std::string what;
};
class WatchedLane;
class ExecLane;
class DnsLane;
class PeerLane;

class BpfMonitor {
 public:
  // Check the machine (privilege, BTF, tracefs), then open, size, load and
  // attach every program. Errors are one line saying what is missing.
  static Result<std::unique_ptr<BpfMonitor>> start(const Config &config);
  ~BpfMonitor();
  BpfMonitor(const BpfMonitor &) = delete;
  BpfMonitor &operator=(const BpfMonitor &) = delete;

  EpochPair &execEpochs() { return exec_; }
  EpochPair &fileEpochs() { return file_; }
  EpochPair &peerEpochs() { return peers_; }
  EpochPair &flowEpochs() { return flows_; }
  EpochPair &dnsEpochs() { return dns_; }
  EpochPair &tamperEpochs() { return tamper_; }
  const std::vector<OwnObject> &ownObjects() const { return own_objects_; }
  // Every link whose state differs from start (core/tamper.cpp), read
  // through the held fds: no privilege needed.
  std::vector<BrokenLink> brokenLinks() const;
  // raqib's objects no longer registered in raqib_objects (someone deleted
  // them, to hide bpf() on them), each written back (core/tamper.cpp).
  std::vector<const OwnObject *> reregisterOwnObjects();
  WatchedLane &watched() { return *watched_; }  // the watched lane (core/watched_set.hpp)
  ExecLane &execLane() { return *exec_lane_; }  // the exec lane (core/exec_lane.hpp)
  DnsLane &dnsLane() { return *dns_lane_; }     // the DNS lane (core/dns_lane.hpp)
  PeerLane &peerLane() { return *peer_lane_; }  // the peers lane (core/peer_lane.hpp)
  int stringsFd() const;
  int eventsFd() const;  // the ring-buffer transport's stream
  // Every live process, from the kernel's task iterator (no /proc).
  [[nodiscard]] Result<std::vector<raqib_live_task>> liveTasks() const;
  // Totals over all CPUs, indexed by enum raqib_map_id.
  [[nodiscard]] Result<std::array<MapCounters, RAQIB_MAP_COUNT>> counters() const;

 private:
  BpfMonitor() = default;
  // Attach every program: cgroup ones to the root cgroup v2, each file
  // syscall's entry program and the shared exit program where this kernel
  // has the syscall, the rest (tp_btf, tracepoints) as their section says.
  Status attachAll();
  // Fork the link holder: a child that keeps its own references to every
  // link until the daemon is gone, so that the slow detach (an RCU grace
  // period per syscall tracepoint, serialised in the kernel: seconds for
  // all of raqib's) happens after the daemon has exited, not in its stop.
  Status startLinkHolder();
  // Write the id of every map, program and link into raqib_objects, for the
  // tamper programs to recognise them (core/tamper.cpp).
  Status registerOwnObjects();

  raqib_bpf *skel_ = nullptr;
  std::vector<std::unique_ptr<bpf_link, int (*)(bpf_link *)>> links_;
  std::vector<std::string> link_names_;  // the hook of each of links_
  std::vector<OwnObject> own_objects_;
  std::vector<OwnLink> own_links_;
  int holder_pipe_ = -1;
  bpf_link *tasks_iter_ = nullptr;  // raqib_live_tasks, one of links_  // the link holder reads EOF
                                    // once the daemon is gone
  EpochPair exec_;
  EpochPair file_;
  EpochPair peers_;
  EpochPair flows_;
  EpochPair dns_;
  EpochPair tamper_;
  std::unique_ptr<WatchedLane> watched_;
  std::unique_ptr<ExecLane> exec_lane_;
  std::unique_ptr<DnsLane> dns_lane_;
  std::unique_ptr<PeerLane> peer_lane_;
};

// Drain every entry of a hash map with batched lookup-and-delete, handing
// each (key, value) to fn. The map must have no writer (see EpochPair).
// With stop: asked before each batch; once it is true, what is still in
// the map stays there, and *left says how many entries that is (0 when
// the map was drained whole).
template <class K, class V, class Fn>
Status drainMap(int fd, Fn &&fn, const std::function<bool()> &stop = {}, uint64_t *left = nullptr);

// Send libbpf's messages through spdlog (debug unless warnings).
void routeLibbpfLogs();

}  // namespace raqib

#include "bpf_monitor_drain.hpp"
