/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The watched lane of processes. The core compiles the executables the exec
 * recipes name (exact paths, directory prefixes, basenames) into
 * watched_paths, marked RAQIB_WATCH_EXEC_RECIPE (no file act has that bit,
 * so the file lane never matches them), under the per-boot keyed hash. An
 * exec of a watched executable is recorded in exec_watched, which only such
 * execs reach, with the executable's path in the value: a storm of other
 * forks, execs and exits can fill exec_activity and the strings LRU, not
 * this. The image's later events (its exit, a namespace change) find its
 * entry here (exec_lane_find). Past exec_lane_mark entries, file_pressure
 * wakes the core, whose file drain drains the exec maps first.
 * docs/architecture.md, "Lanes". */
#ifndef RAQIB_EXEC_WATCHED_BPF_H
#define RAQIB_EXEC_WATCHED_BPF_H

#include "watched.bpf.h"

/* Set by the core between open and load (core/exec_lane.cpp). */
const volatile __u32 exec_watch_enabled = 0;      /* the exec recipes watch some executable */
const volatile __u32 exec_watch_prefix_depth = 0; /* most '/' in a watched prefix; 0: none */
const volatile __u32 exec_watch_basenames = 0;    /* any basename watched */
/* Lane entries past which only exact paths get in: a storm of execs under
 * a watched prefix or of a watched basename cannot take the room of the
 * executables named by their path. */
const volatile __u32 exec_lane_soft = 0;
const volatile __u32 exec_lane_mark = 0; /* lane entries that start an early drain */

/* exec_watched: the watched lane, raqib_image -> raqib_watched_proc, drained
 * with exec_activity. Allocated as it fills. */
struct exec_watched_inner {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 1024);
  __type(key, struct raqib_image);
  __type(value, struct raqib_watched_proc);
};
struct exec_watched_inner exec_watched_a SEC(".maps"), exec_watched_b SEC(".maps");
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, 1);
  __type(key, __u32);
  __array(values, struct exec_watched_inner);
} exec_watched SEC(".maps") = {.values = {&exec_watched_a}};

/* exec_lane_epoch: lane entries inserted since the core's last flip of
 * exec_watched (it zeroes them), and whether file_pressure was sent. */
struct raqib_exec_lane_epoch {
  __u64 filled;
  __u64 signalled;
};
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

/* A lane entry was inserted: past the mark, wake the core once. */
static __always_inline void exec_lane_inserted(void) {
  __u32 zero = 0;
  struct raqib_exec_lane_epoch *ep = bpf_map_lookup_elem(&exec_lane_epoch, &zero);
  if (!ep) return;
  __sync_fetch_and_add(&ep->filled, 1);
  if (ep->filled < exec_lane_mark || ep->signalled) return;
  ep->signalled = 1;
  __u64 word = 0;
  bpf_ringbuf_output(&file_pressure, &word, sizeof(word), BPF_RB_FORCE_WAKEUP);
}

/* Puts v (its proc filled for image, its match set) in the lane with the
 * executable exe; the lane's entry, or NULL when refused (counted: capped
 * past the soft mark, failed when full), and the caller records the exec as
 * context instead. */
static __always_inline struct raqib_proc *exec_lane_insert(const struct raqib_image *image,
                                                           struct raqib_watched_proc *v,
                                                           const struct raqib_string *exe) {
  void *lane = current_epoch(&exec_watched);
  __u32 zero = 0;
  struct raqib_exec_lane_epoch *ep = bpf_map_lookup_elem(&exec_lane_epoch, &zero);
  if (!lane || !ep) return NULL;
  if (!(v->match & RAQIB_WATCH_EXACT) && ep->filled >= exec_lane_soft) {
    count_capped(RAQIB_MAP_EXEC_WATCHED);
    return NULL;
  }
  watch_copy_string(&v->exe, exe);
  long err = bpf_map_update_elem(lane, image, v, BPF_NOEXIST);
  if (err == 0) {
    count_map(RAQIB_MAP_EXEC_WATCHED, RAQIB_CNT_INSERT);
    exec_lane_inserted();
  } else if (err != -EEXIST) {
    count_map(RAQIB_MAP_EXEC_WATCHED, RAQIB_CNT_FAILED);
    return NULL;
  }
  struct raqib_watched_proc *in = bpf_map_lookup_elem(lane, image);
  return in ? &in->proc : NULL;
}

#endif /* RAQIB_EXEC_WATCHED_BPF_H */
