#include "exec_lane.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "raqib.skel.h"
#include "recipe.hpp"
#include "watched_set.hpp"

namespace raqib {

WatchedPaths watchedExecsOf(const std::vector<recipes::Recipe> &all) {
  WatchedSetBuilder sets;
  for (const recipes::Recipe &r : all)
    if (r.enabled && r.plugin == recipes::Plugin::Exec && !r.exec.exe.empty())
      sets.add(r.exec.exe, RAQIB_WATCH_EXEC_RECIPE);
  return std::move(sets).done();
}

void ExecLane::configure(raqib_bpf *s, const Config &config) {
  const WatchedPaths &w = config.watched_execs;
  s->rodata->exec_watch_enabled = !w.empty();
  s->rodata->exec_watch_prefix_depth = prefixDepth(w);
  s->rodata->exec_watch_basenames = !w.basenames.empty();
  uint32_t lane = bpf_map__max_entries(s->maps.exec_watched_a);
  s->rodata->exec_lane_soft = lane - lane / 4;
  s->rodata->exec_lane_mark = lane / 2;
  size_t strings = w.exact.size() + w.prefixes.size() + w.basenames.size();
  bpf_map__set_max_entries(s->maps.watched_paths,
                           bpf_map__max_entries(s->maps.watched_paths) + strings);
}

Status ExecLane::fill(raqib_bpf *s, const WatchedPaths &w) {
  uint64_t k0 = s->rodata->hash_key0, k1 = s->rodata->hash_key1;
  // A file recipe may name the same string: its bits are kept.
  if (int err = mergeWatched(bpf_map__fd(s->maps.watched_paths), w, k0, k1,
                             [](const std::string &text) { return text; });
      err < 0)
    return Error{fmt::format("filling the watched executables: {}", std::strerror(-err))};
  epochs_ = EpochPair(bpf_map__fd(s->maps.exec_watched), bpf_map__fd(s->maps.exec_watched_a),
                      bpf_map__fd(s->maps.exec_watched_b));
  epoch_fd_ = bpf_map__fd(s->maps.exec_lane_epoch);
  spdlog::info(
      "watched executables: {} exact paths, {} directory prefixes, {} basenames; {} patterns "
      "matched in user space only",
      w.exact.size(), w.prefixes.size(), w.basenames.size(), w.user_space_only.size());
  return nextEpoch();
}

bool ExecLane::idle() const {
  uint32_t zero = 0;
  struct {
    uint64_t filled, signalled;  // struct raqib_exec_lane_epoch
  } epoch{};
  return bpf_map_lookup_elem(epoch_fd_, &zero, &epoch) == 0 && epoch.filled == 0;
}

Status ExecLane::nextEpoch() {
  uint32_t zero = 0;
  struct {
    uint64_t filled, signalled;  // struct raqib_exec_lane_epoch
  } epoch{0, 0};
  if (int err = bpf_map_update_elem(epoch_fd_, &zero, &epoch, BPF_ANY); err < 0)
    return Error{fmt::format("starting an exec lane epoch: {}", std::strerror(-err))};
  return Ok{};
}

}  // namespace raqib
