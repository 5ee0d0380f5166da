#include "exec_lane.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

#include "process_table.hpp"
#include "raqib.skel.h"
#include "recipe.hpp"
#include "watched_set.hpp"

namespace raqib {

namespace {

std::string factNames(uint32_t facts) {
  static constexpr std::pair<uint32_t, const char *> kNames[] = {
      {RAQIB_PROC_ENV_LD_PRELOAD, "LD_PRELOAD"},
      {RAQIB_PROC_ENV_LD_LIBRARY_PATH, "LD_LIBRARY_PATH"},
      {RAQIB_PROC_ENV_LD_AUDIT, "LD_AUDIT"},
      {RAQIB_PROC_ENV_TRUNCATED, "an environment too long to scan"},
      {RAQIB_PROC_STDIN_INET, "a socket on stdin"},
      {RAQIB_PROC_STDOUT_INET, "a socket on stdout"},
      {RAQIB_PROC_STDERR_INET, "a socket on stderr"},
      {RAQIB_PROC_EXE_DELETED, "a deleted or memfd executable"},
      {RAQIB_EXEC_FACT_HIDDEN, "a hidden executable"},
      {RAQIB_EXEC_FACT_LOADER, "the loader"},
  };
  std::vector<const char *> names;
  for (auto [bit, name] : kNames)
    if (facts & bit) names.push_back(name);
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ", "));
}

// The facts of an exec the kernel can see that c needs (any of one kind
// and any of every other kind it names, so one kind would do; all of them
// are taken, a superset). A truncated environment scan may have missed a
// marker, so it is watched with them.
uint32_t kernelFactsOf(const recipes::ExecConditions &c) {
  uint32_t facts = procFlags(c.env | c.stdio_sockets);
  if (c.env) facts |= RAQIB_PROC_ENV_TRUNCATED;
  // A memfd has no links: the kernel sees it as deleted.
  if (c.exe_flags & (RAQIB_EXE_DELETED | RAQIB_EXE_MEMFD)) facts |= RAQIB_PROC_EXE_DELETED;
  if (c.exe_flags & RAQIB_EXE_HIDDEN) facts |= RAQIB_EXEC_FACT_HIDDEN;
  if (c.exe_flags & RAQIB_EXE_LOADER) facts |= RAQIB_EXEC_FACT_LOADER;
  return facts;
}

}  // namespace

WatchedExecs watchedExecsOf(const std::vector<recipes::Recipe> &all) {
  WatchedSetBuilder sets;
  WatchedExecs out;
  for (const recipes::Recipe &r : all) {
    if (!r.enabled || r.plugin != recipes::Plugin::Exec) continue;
    bool named = !r.exec.exe.empty() && sets.add(r.exec.exe, RAQIB_WATCH_EXEC_RECIPE);
    if (named) continue;
    if (uint32_t facts = kernelFactsOf(r.exec))
      out.facts |= facts;
    else
      out.uncovered.push_back(r.meta.name);
  }
  out.paths = std::move(sets).done();
  return out;
}

void ExecLane::configure(raqib_bpf *s, const Config &config) {
  const WatchedPaths &w = config.watched_execs.paths;
  s->rodata->exec_watch_enabled = !config.watched_execs.empty();
  s->rodata->exec_watch_prefix_depth = prefixDepth(w);
  s->rodata->exec_watch_basenames = !w.basenames.empty();
  s->rodata->exec_watch_facts = config.watched_execs.facts;
  uint32_t lane = bpf_map__max_entries(s->maps.exec_watched_a);
  s->rodata->exec_lane_patterns = lane / 2;
  s->rodata->exec_lane_facts = lane / 4;
  s->rodata->exec_lane_mark = lane / 2;
  size_t strings = w.exact.size() + w.prefixes.size() + w.basenames.size();
  bpf_map__set_max_entries(s->maps.watched_paths,
                           bpf_map__max_entries(s->maps.watched_paths) + strings);
}

Status ExecLane::fill(raqib_bpf *s, const WatchedExecs &execs) {
  const WatchedPaths &w = execs.paths;
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
      "matched in user space only; execs watched by their facts: {}; exec recipes not wholly "
      "covered by the lane: {}",
      w.exact.size(), w.prefixes.size(), w.basenames.size(), w.user_space_only.size(),
      factNames(execs.facts),
      execs.uncovered.empty() ? "none" : fmt::format("{}", fmt::join(execs.uncovered, ", ")));
  return nextEpoch();
}

bool ExecLane::idle() const {
  uint32_t zero = 0;
  raqib_exec_lane_epoch epoch{};
  return bpf_map_lookup_elem(epoch_fd_, &zero, &epoch) == 0 && epoch.filled == 0;
}

Status ExecLane::nextEpoch() {
  uint32_t zero = 0;
  raqib_exec_lane_epoch epoch{};
  if (int err = bpf_map_update_elem(epoch_fd_, &zero, &epoch, BPF_ANY); err < 0)
    return Error{fmt::format("starting an exec lane epoch: {}", std::strerror(-err))};
  return Ok{};
}

}  // namespace raqib
