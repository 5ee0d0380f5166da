/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Helpers shared by the programs of raqib.bpf.c: load-time settings, map
 * accounting, epoch lookup, and the canonical path walk. */
#ifndef RAQIB_COMMON_BPF_H
#define RAQIB_COMMON_BPF_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>

#include "raqib/records.h"
#include "raqib/siphash.h"
#include "maps.bpf.h"

#define RAQIB_NAME_MAX 255
#define EEXIST 17 /* vmlinux.h carries no errno values */

/* Set by the core between open and load. */
const volatile __u64 hash_key0 = 0; /* per-boot SipHash key */
const volatile __u64 hash_key1 = 0;
const volatile __u32 self_tgid = 0; /* the daemon's own activity is not recorded */

static __always_inline struct raqib_scratch *get_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&scratch, &zero);
}

enum raqib_counter { RAQIB_CNT_INSERT, RAQIB_CNT_UPDATE, RAQIB_CNT_FAILED };

static __always_inline void count_map(__u32 map_id, enum raqib_counter which) {
  struct raqib_map_counters *c = bpf_map_lookup_elem(&map_counters, &map_id);
  if (!c) return;
  if (which == RAQIB_CNT_INSERT)
    c->inserts++;
  else if (which == RAQIB_CNT_UPDATE)
    c->updates++;
  else
    c->failed++;
}

/* The inner map the epoch slot of an activity pair currently holds. */
static __always_inline void *current_epoch(void *outer) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(outer, &zero);
}

/* Zero the 8 bytes after a string of len bytes (SipHash reads whole words). */
static __always_inline void pad_string(struct raqib_string *s) {
  __u32 at = s->len;
  if (at > RAQIB_PATH_MAX) at = RAQIB_PATH_MAX;
#pragma unroll
  for (int i = 0; i < 8; i++) s->str[(at + i) & (2 * RAQIB_PATH_MAX - 1)] = 0;
}

/* One step up: a mount crossing or a component prepended. 1 ends the walk. */
static long walk_step(__u32 index, void *ctx) {
  struct raqib_scratch *sc = get_scratch();
  if (!sc) return 1;
  struct raqib_walk *w = &sc->w;
  struct dentry *dentry = w->dentry;
  struct vfsmount *vfsmnt = w->vfsmnt;
  struct mount *mnt = w->mnt;
  struct dentry *parent = BPF_CORE_READ(dentry, d_parent);
  struct dentry *mnt_root = BPF_CORE_READ(vfsmnt, mnt_root);
  if (dentry == mnt_root || dentry == parent) {
    struct mount *mnt_parent = BPF_CORE_READ(mnt, mnt_parent);
    if (mnt == mnt_parent) {
      w->flags = 0; /* reached the root of the mount namespace */
      return 1;
    }
    w->dentry = BPF_CORE_READ(mnt, mnt_mountpoint);
    w->mnt = mnt_parent;
    w->vfsmnt = &mnt_parent->mnt;
    return 0;
  }
  struct qstr name = BPF_CORE_READ(dentry, d_name);
  __u32 len = name.len;
  if (len > RAQIB_NAME_MAX) len = RAQIB_NAME_MAX;
  if (len + 1 > w->off) return 1; /* out of room: truncated */
  __u32 off = w->off - (len + 1);
  sc->walk[off & (RAQIB_PATH_MAX - 1)] = '/';
  bpf_probe_read_kernel(&sc->walk[(off + 1) & (RAQIB_PATH_MAX - 1)], len & RAQIB_NAME_MAX,
                        name.name);
  w->off = off;
  w->dentry = parent;
  return 0;
}

/* Canonical absolute path of a struct path, as the kernel resolved it, into
 * scratch.str: walk the dentry chain to the root, crossing mounts through
 * struct mount, writing components backwards into scratch.walk. The walk
 * state lives in the scratch map, not on the stack, so the verifier checks
 * walk_step once rather than once per possible offset. A walk that
 * runs out of depth or room keeps the tail and flags RAQIB_STR_TRUNCATED. */
static __always_inline void resolve_path(const struct path *path, struct raqib_scratch *sc) {
  struct raqib_walk *w = &sc->w;
  w->dentry = BPF_CORE_READ(path, dentry);
  w->vfsmnt = BPF_CORE_READ(path, mnt);
  w->mnt = container_of(w->vfsmnt, struct mount, mnt);
  w->off = RAQIB_PATH_MAX;
  w->flags = RAQIB_STR_TRUNCATED;
  bpf_loop(RAQIB_PATH_DEPTH_MAX, walk_step, NULL, 0);

  __u32 off = w->off;
  if (off >= RAQIB_PATH_MAX) { /* the root itself */
    off = RAQIB_PATH_MAX - 1;
    sc->walk[off] = '/';
  }
  off &= RAQIB_PATH_MAX - 1; /* a no-op that bounds len for the verifier */
  __u32 len = RAQIB_PATH_MAX - off;
  bpf_probe_read_kernel(sc->str.str, len, &sc->walk[off]);
  sc->str.len = len;
  sc->str.flags = w->flags;
  pad_string(&sc->str);
}

static __always_inline __u64 hash_string(const struct raqib_string *s) {
  return raqib_siphash24((const __u8 *)s->str, s->len, hash_key0, hash_key1);
}

/* Store a string under its hash (refreshing its place in the LRU). */
static __always_inline void put_string(__u64 hash, const struct raqib_string *s) {
  if (bpf_map_update_elem(&strings, &hash, s, BPF_ANY) == 0)
    count_map(RAQIB_MAP_STRINGS, RAQIB_CNT_INSERT);
  else
    count_map(RAQIB_MAP_STRINGS, RAQIB_CNT_FAILED);
}

#endif /* RAQIB_COMMON_BPF_H */
