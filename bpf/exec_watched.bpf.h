/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The watched lane of processes. The core compiles the executables the exec
 * recipes name (exact paths, directory prefixes, basenames) into
 * watched_paths, marked RAQIB_WATCH_EXEC_RECIPE (no file act has that bit,
 * so the file lane never matches them), under the per-boot keyed hash. An
 * exec of a watched executable is recorded in exec_watched, which only such
 * execs reach, with the executable's path in the value: a storm of other
 * forks, execs and exits can fill exec_activity and the strings LRU, not
 * this. The image's later events (its exit, a namespace change) find its
 * entry here (exec_lane_find). Past exec_lane_mark entries, or once a kind
 * of match has used its share (exec_lane_room), file_pressure wakes the
 * core, whose file drain drains the exec maps first.
 * docs/architecture.md, "Lanes". */
#ifndef RAQIB_EXEC_WATCHED_BPF_H
#define RAQIB_EXEC_WATCHED_BPF_H

#include "watched.bpf.h"

/* Set by the core between open and load (core/exec_lane.cpp). */
const volatile __u32 exec_watch_enabled = 0;      /* the exec recipes watch some executable */
const volatile __u32 exec_watch_prefix_depth = 0; /* most '/' in a watched prefix; 0: none */
const volatile __u32 exec_watch_basenames = 0;    /* any basename watched */
/* Facts that put an exec in the lane whatever its executable: those of exec
 * recipes without a pattern the sets hold (RAQIB_EXEC_FACT_*, RAQIB_PROC_*). */
const volatile __u32 exec_watch_facts = 0;
/* The lane entries execs under a watched prefix or of a watched basename
 * may take, and those execs watched by their facts alone may take, in one
 * epoch: a storm of either kind cannot take the room of the other or of the
 * executables named by their path, which may fill the lane. */
const volatile __u32 exec_lane_patterns = 0;
const volatile __u32 exec_lane_facts = 0;
const volatile __u32 exec_lane_mark = 0; /* lane entries that start an early drain */

/* exec_watched: the watched lane, raqib_image -> raqib_watched_proc, drained
 * with exec_activity. Allocated as it fills. */
RAQIB_LANE_PAIR(exec_watched, struct raqib_image, struct raqib_watched_proc, 1024);

/* exec_lane_epoch: struct raqib_exec_lane_epoch. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_exec_lane_epoch);
} exec_lane_epoch SEC(".maps");

/* Per-CPU space for the lane entry being made (too large for the stack). */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_watched_proc);
} exec_lane_scratch SEC(".maps");

static __always_inline struct raqib_watched_proc *get_exec_lane_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&exec_lane_scratch, &zero);
}

/* How the executable exe (keyed hash exe_hash) is watched by exec recipes:
 * enum raqib_watch_match, 0 if not. */
static __always_inline __u32 exec_watch_match(const struct raqib_string *exe, __u64 exe_hash) {
  struct raqib_watch_scratch *ws = get_watch_scratch();
  if (!exec_watch_enabled || !ws) return 0;
  __u32 match = 0;
  struct raqib_watch_actions *a = bpf_map_lookup_elem(&watched_paths, &exe_hash);
  if (a && (a->exact & RAQIB_WATCH_EXEC_RECIPE)) match |= RAQIB_WATCH_EXACT;
  if (!exec_watch_prefix_depth && !exec_watch_basenames) return match;
  watch_copy_string(&ws->val.path, exe);
  struct watch_walk w = {};
  w.len = ws->val.path.len;
  if (w.len > RAQIB_PATH_MAX) w.len = RAQIB_PATH_MAX;
  w.actions = RAQIB_WATCH_EXEC_RECIPE;
  if (exec_watch_prefix_depth) {
    w.depth_left = exec_watch_prefix_depth;
    raqib_sip_init(&ws->st, hash_key0, hash_key1);
    bpf_loop(RAQIB_PATH_MAX / 8, watch_word, &w, 0);
  }
  if (exec_watch_basenames) {
    __u64 h = watch_basename_hash(ws, &w);
    a = bpf_map_lookup_elem(&watched_paths, &h);
    if (a && (a->basename & RAQIB_WATCH_EXEC_RECIPE)) w.match |= RAQIB_WATCH_BASENAME;
  }
  return match | w.match;
}

/* One byte of an executable's path for exec_path_facts. */
struct exec_path_scan {
  const struct raqib_string *exe;
  __u32 len;
  __u32 base; /* where the last component starts */
  __u32 facts;
};

static long exec_path_byte(__u32 i, void *ctx) {
  struct exec_path_scan *scan = ctx;
  if (i + 1 >= scan->len) return 1;
  if (scan->exe->str[i & (RAQIB_PATH_MAX - 1)] != '/') return 0;
  scan->base = i + 1;
  if (scan->exe->str[(i + 1) & (RAQIB_PATH_MAX - 1)] == '.') scan->facts |= RAQIB_EXEC_FACT_HIDDEN;
  return 0;
}

/* The RAQIB_EXEC_FACT_* of the executable's path, when a recipe needs them. */
static __always_inline __u32 exec_path_facts(const struct raqib_string *exe) {
  if (!(exec_watch_facts & (RAQIB_EXEC_FACT_HIDDEN | RAQIB_EXEC_FACT_LOADER))) return 0;
  struct exec_path_scan scan = {.exe = exe, .len = exe->len};
  if (scan.len > RAQIB_PATH_MAX) scan.len = RAQIB_PATH_MAX;
  bpf_loop(RAQIB_PATH_MAX, exec_path_byte, &scan, 0);
  __u32 b = scan.base;
  if (b + 3 <= scan.len && exe->str[b & (RAQIB_PATH_MAX - 1)] == 'l' &&
      exe->str[(b + 1) & (RAQIB_PATH_MAX - 1)] == 'd' &&
      exe->str[(b + 2) & (RAQIB_PATH_MAX - 1)] == '-')
    scan.facts |= RAQIB_EXEC_FACT_LOADER;
  return scan.facts;
}

/* The lane's entry for image, NULL when it has none. */
static __always_inline struct raqib_proc *exec_lane_find(const struct raqib_image *image) {
  if (!exec_watch_enabled) return NULL;
  void *lane = current_epoch(&exec_watched);
  if (!lane) return NULL;
  struct raqib_watched_proc *v = bpf_map_lookup_elem(lane, image);
  if (!v) return NULL;
  count_map(RAQIB_MAP_EXEC_WATCHED, RAQIB_CNT_UPDATE);
  return &v->proc;
}

/* Wake the core to drain the lane early, once per epoch. */
static __always_inline void exec_lane_pressure(struct raqib_exec_lane_epoch *ep) {
  if (ep->signalled) return;
  ep->signalled = 1;
  __u64 word = RAQIB_PRESSURE_EXEC;
  bpf_ringbuf_output(&file_pressure, &word, sizeof(word), BPF_RB_FORCE_WAKEUP);
}

/* Whether the lane has room for an entry matched as match in this epoch:
 * its kind's share is taken (exec_lane_patterns, exec_lane_facts). */
static __always_inline bool exec_lane_room(struct raqib_exec_lane_epoch *ep, __u32 match) {
  if (match & RAQIB_WATCH_EXACT) return true;
  if ((match & (RAQIB_WATCH_PREFIX | RAQIB_WATCH_BASENAME)) &&
      __sync_fetch_and_add(&ep->patterned, 1) < exec_lane_patterns)
    return true;
  return (match & RAQIB_WATCH_FACTS) && __sync_fetch_and_add(&ep->by_facts, 1) < exec_lane_facts;
}

/* Puts v (its proc filled for image, its match set) in the lane with the
 * executable exe; the lane's entry, or NULL when refused (counted: capped
 * when its kind's share is taken, failed when full), and the caller records
 * the exec as context instead. */
static __always_inline struct raqib_proc *exec_lane_insert(const struct raqib_image *image,
                                                           struct raqib_watched_proc *v,
                                                           const struct raqib_string *exe) {
  void *lane = current_epoch(&exec_watched);
  __u32 zero = 0;
  struct raqib_exec_lane_epoch *ep = bpf_map_lookup_elem(&exec_lane_epoch, &zero);
  if (!lane || !ep) return NULL;
  if (!exec_lane_room(ep, v->match)) { /* a share is taken: the next epoch has room */
    count_capped(RAQIB_MAP_EXEC_WATCHED);
    exec_lane_pressure(ep);
    return NULL;
  }
  watch_copy_string(&v->exe, exe);
  long err = bpf_map_update_elem(lane, image, v, BPF_NOEXIST);
  if (err == 0) {
    count_map(RAQIB_MAP_EXEC_WATCHED, RAQIB_CNT_INSERT);
    if (__sync_fetch_and_add(&ep->filled, 1) + 1 >= exec_lane_mark) exec_lane_pressure(ep);
  } else if (err != -EEXIST) {
    count_map(RAQIB_MAP_EXEC_WATCHED, RAQIB_CNT_FAILED);
    return NULL;
  }
  struct raqib_watched_proc *in = bpf_map_lookup_elem(lane, image);
  return in ? &in->proc : NULL;
}

#endif /* RAQIB_EXEC_WATCHED_BPF_H */
