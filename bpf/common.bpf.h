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
const volatile __u32 stream_files = 0; /* the ring-buffer transport: file events streamed */

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
  /* A pseudo dentry (memfd, pipe, socket) is its own parent without being a
   * mount's root: its name is all there is. */
  bool pseudo = dentry == parent && dentry != mnt_root;
  if (!pseudo && (dentry == mnt_root || dentry == parent)) {
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
  if (pseudo) w->flags = 0;
  return pseudo;
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

/* The struct file of fd in task's table, or NULL (an fd outside the table
 * too: it is the caller's argument, not to index kernel memory with). */
static __always_inline struct file *fd_file(struct task_struct *task, long fd) {
  struct fdtable *fdt = BPF_CORE_READ(task, files, fdt);
  struct file **fds = BPF_CORE_READ(fdt, fd);
  struct file *file = NULL;
  if (fd < 0 || fd >= BPF_CORE_READ(fdt, max_fds)) return NULL;
  bpf_probe_read_kernel(&file, sizeof(file), &fds[fd]);
  return file;
}

/* A name a program passed (its copy), as it passed it, into scratch.str. */
static __always_inline void passed_string(const char *name, __u16 flags, struct raqib_scratch *sc) {
  long n = bpf_probe_read_kernel_str(sc->str.str, RAQIB_PATH_MAX, name);
  sc->str.len = n > 0 ? n - 1 : 0;
  sc->str.flags = flags;
  pad_string(&sc->str);
}

#define RAQIB_AT_FDCWD (-100)

/* The path a *at() call names (dfd, name: the copy of the name it passed)
 * into scratch.str: the canonical path of its directory (the root for an
 * absolute name, the working directory, or dfd's file) joined with the name
 * as passed. Without LSM or kprobes the kernel's own lookup cannot be
 * observed for a name that is not opened, so a symlink inside the name
 * stays; the core folds . and .. */
static __always_inline void resolve_at(struct task_struct *task, long dfd, const char *name,
                                       struct raqib_scratch *sc) {
  char first = name[0];
  struct fs_struct *fs = BPF_CORE_READ(task, fs);
  if (first == '/') {
    resolve_path(&fs->root, sc);
  } else if (dfd == RAQIB_AT_FDCWD) {
    resolve_path(&fs->pwd, sc);
  } else {
    struct file *dir = fd_file(task, dfd);
    if (!dir) return passed_string(name, RAQIB_STR_UNRESOLVED, sc);
    resolve_path(&dir->f_path, sc);
  }
  __u32 base = sc->str.len;
  if (base == 1) base = 0; /* the root: no "//" */
  if (base >= RAQIB_PATH_MAX - 1) {
    sc->str.flags |= RAQIB_STR_TRUNCATED;
    return;
  }
  base &= RAQIB_PATH_MAX - 1;
  bpf_probe_read_kernel(sc->join, base, sc->str.str);
  sc->join[base] = '/';
  long n = bpf_probe_read_kernel_str(&sc->join[(base + 1) & (RAQIB_PATH_MAX - 1)], RAQIB_PATH_MAX,
                                     first == '/' ? name + 1 : name);
  __u32 len = base + 1 + (n > 0 ? n - 1 : 0);
  __u16 flags = sc->str.flags | RAQIB_STR_JOINED;
  if (len > RAQIB_PATH_MAX) {
    len = RAQIB_PATH_MAX;
    flags |= RAQIB_STR_TRUNCATED;
  }
  len &= 2 * RAQIB_PATH_MAX - 1;
  if (len > RAQIB_PATH_MAX) len = RAQIB_PATH_MAX;
  bpf_probe_read_kernel(sc->str.str, len, sc->join);
  sc->str.len = len;
  sc->str.flags = flags;
  pad_string(&sc->str);
}

/* The image task (a BTF pointer) runs: its process and which exec of it
 * (records.h). Direct loads: on every file record, where a helper call per
 * field would cost more than the rest of the fast path. */
static __always_inline struct raqib_image image_of(struct task_struct *task) {
  struct raqib_image image = {};
  image.tgid = task->tgid;
  image.exec_seq = (__u32)task->self_exec_id;
  image.start_ns = task->group_leader->start_boottime;
  return image;
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
