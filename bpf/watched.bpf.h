/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The watched lane of file activity. The core compiles what the file
 * recipes watch into watched_paths (exact paths, directory prefixes,
 * basenames) and watched_inodes (the (device, inode) of each watched exact
 * path), keyed by the per-boot keyed hash, so the maps name neither a path
 * nor a recipe. record_file() asks watched_or_capped() about every act that
 * is new to the epoch: an act on a watched file goes to file_watched, which
 * only such acts reach, with its path in the value (no LRU can evict it
 * before the drain); any other act is context, bounded per process in each
 * epoch (file_proc_cap) so no one process can take the map for itself.
 * file_pressure wakes the core to drain early when the context map passes
 * file_fill_mark entries. docs/architecture.md, "Lanes". */
#ifndef RAQIB_WATCHED_BPF_H
#define RAQIB_WATCHED_BPF_H

#include "raqib/siphash.h"

/* Set by the core between open and load (core/watched_set.cpp). */
const volatile __u32 watch_enabled = 0;      /* the sets below hold something */
const volatile __u32 watch_prefix_depth = 0; /* most '/' in a watched prefix; 0: none */
const volatile __u32 watch_basenames = 0;    /* any basename watched */
const volatile __u32 watch_inodes = 0;       /* any inode watched */
const volatile __u32 file_proc_cap = 0;      /* context entries per process per epoch; 0: none */
const volatile __u32 file_fill_mark = 0;     /* context entries that start an early drain; 0: none */
/* Lane entries past which only exact matches get in: a flood of files under
 * a watched prefix, with a watched basename, or of hard links to a watched
 * file the attacker owns cannot take the room of the exact names. */
const volatile __u32 watch_lane_soft = 0;

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1); /* config: sized by the core to what the recipes watch */
  __type(key, __u64);
  __type(value, struct raqib_watch_actions);
} watched_paths SEC(".maps");

/* LRU: the kernel adds the inode a watched exact path has whenever it is
 * opened by that name (a file created or replaced after the core's start),
 * so old inodes age out. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 1); /* config: sized by the core */
  __type(key, __u64);
  __type(value, struct raqib_watch_inode);
} watched_inodes SEC(".maps");

/* file_watched: the watched lane, raqib_file_key -> raqib_watched_value,
 * drained with file_activity. Allocated as it fills. */
RAQIB_LANE_PAIR(file_watched, struct raqib_file_key, struct raqib_watched_value, 4096);

/* file_epoch: the core's epoch number and the context entries inserted in
 * it; the core sets it at each flip of file_activity. */
struct raqib_file_epoch {
  __u64 seq;
  __u64 filled;
  __u64 signalled;   /* file_pressure was sent this epoch */
  __u64 lane_filled; /* file_watched entries inserted this epoch */
};
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_file_epoch);
} file_epoch SEC(".maps");

/* file_pressure: one word (enum raqib_pressure) per epoch of a map or lane
 * past its mark. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} file_pressure SEC(".maps");

/* proc_share: per process (on its group leader), the context entries it
 * inserted in epoch seq. */
struct raqib_proc_share {
  __u64 seq;
  __u64 inserted;
};
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct raqib_proc_share);
} proc_share SEC(".maps");

/* Per-CPU working space of the watch checks. */
struct raqib_watch_scratch {
  struct raqib_watched_value val; /* the lane entry being made, with its path */
  struct raqib_sipstate st;       /* the prefix pass: the words absorbed so far */
  __u64 note_hash;                /* the path whose file is noted below */
  struct raqib_inode_id note;     /* (device, inode) of the file just resolved */
  char buf[2 * RAQIB_PATH_MAX + 8]; /* a basename or an inode id, zero-filled after */
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_watch_scratch);
} watch_scratch SEC(".maps");

static __always_inline struct raqib_watch_scratch *get_watch_scratch(void) {
  __u32 zero = 0;
  return bpf_map_lookup_elem(&watch_scratch, &zero);
}

static __always_inline void count_capped(__u32 map_id) {
  struct raqib_map_counters *c = bpf_map_lookup_elem(&map_counters, &map_id);
  if (c) c->capped++;
}

#define RAQIB_OVERLAYFS_MAGIC 0x794c7630 /* OVERLAYFS_SUPER_MAGIC */

/* The inode that says what file inode is. An overlay's inode has the
 * overlay's device: the file is the one it stands for in the layers below
 * (the topmost lower layer holding it, where a copy-up keeps its origin),
 * else its upper file. Two overlays deep. Kernels whose ovl_inode has no
 * entry (before 6.5) keep the overlay's inode. */
static __always_inline struct inode *layer_inode(struct inode *inode) {
  if (!bpf_core_field_exists(struct ovl_inode, oe)) return inode;
  for (int depth = 0; depth < 2; depth++) {
    if (!inode || BPF_CORE_READ(inode, i_sb, s_magic) != RAQIB_OVERLAYFS_MAGIC) break;
    struct ovl_inode *oi = (void *)inode - bpf_core_field_offset(struct ovl_inode, vfs_inode);
    struct ovl_entry *oe = BPF_CORE_READ(oi, oe);
    struct dentry *below = oe && BPF_CORE_READ(oe, __numlower)
                               ? BPF_CORE_READ(oe, __lowerstack[0].dentry)
                               : BPF_CORE_READ(oi, __upperdentry);
    if (!below) break;
    inode = BPF_CORE_READ(below, d_inode);
  }
  return inode;
}

/* ---- matching --------------------------------------------------------- */

struct watch_walk {
  __u32 len;         /* of the path in the scratch's val.path */
  __u32 depth_left;  /* prefixes still worth hashing */
  __u32 actions;     /* of the act */
  __u32 match;       /* enum raqib_watch_match found */
  __u32 last_slash;  /* position of the path's last '/' (find_last_slash) */
};

/* The prefix of len bytes whose whole words ws->st absorbed and whose last
 * partial word is tail: is it a watched directory prefix for the act? */
static __noinline int watch_prefix(struct raqib_watch_scratch *ws, struct watch_walk *w,
                                   __u64 tail, __u32 len) {
  if (!ws || !w) return 0;
  __u64 h = raqib_sip_finish(&ws->st, tail, len);
  struct raqib_watch_actions *a = bpf_map_lookup_elem(&watched_paths, &h);
  if (a && (a->prefix & w->actions)) w->match |= RAQIB_WATCH_PREFIX;
  if (w->depth_left) w->depth_left--;
  return 0;
}

/* Word i of the path: look up the prefix ending at each '/' in it, then
 * absorb it. 1 ends the pass (the end of the path, or of the prefixes). */
static long watch_word(__u32 i, void *ctx) {
  struct watch_walk *w = ctx;
  struct raqib_watch_scratch *ws = get_watch_scratch();
  if (!ws) return 1;
  __u32 at = (i * 8) & (RAQIB_PATH_MAX - 1);
  if (at >= w->len || w->depth_left == 0) return 1;
  __u64 m = *(__u64 *)&ws->val.path.str[at];
#pragma unroll
  for (int j = 0; j < 7; j++) {
    if (at + j < w->len && ((m >> (8 * j)) & 0xff) == '/' && w->depth_left)
      watch_prefix(ws, w, m & ((1ULL << (8 * (j + 1))) - 1), at + j + 1);
  }
  raqib_sip_word(&ws->st, m);
  if (at + 7 < w->len && (m >> 56) == '/' && w->depth_left) watch_prefix(ws, w, 0, at + 8);
  return 0;
}

/* One byte from the end: 1 once the last '/' is found. */
static long find_last_slash(__u32 i, void *ctx) {
  struct watch_walk *w = ctx;
  struct raqib_watch_scratch *ws = get_watch_scratch();
  if (!ws || i >= w->len) return 1;
  __u32 at = (w->len - 1 - i) & (RAQIB_PATH_MAX - 1);
  if (ws->val.path.str[at] != '/') return 0;
  w->last_slash = at;
  return 1;
}

/* The keyed hash of the n bytes at ws->buf (zero-filled after them). */
static __always_inline __u64 hash_buf(struct raqib_watch_scratch *ws, __u32 n) {
  return raqib_siphash24((const __u8 *)ws->buf, n, hash_key0, hash_key1);
}

/* The (device, inode) that says what file inode is (layer_inode). */
static __always_inline struct raqib_inode_id inode_id_of(struct inode *inode) {
  inode = layer_inode(inode);
  struct raqib_inode_id id = {.dev = BPF_CORE_READ(inode, i_sb, s_dev),
                              .ino = BPF_CORE_READ(inode, i_ino)};
  return id;
}

/* The keyed hash of id, as watched_inodes is keyed. */
static __always_inline __u64 inode_hash(struct raqib_watch_scratch *ws,
                                        const struct raqib_inode_id *id) {
  __builtin_memcpy(ws->buf, id, sizeof(*id));
  __builtin_memset(&ws->buf[sizeof(*id)], 0, 8);
  return hash_buf(ws, sizeof(*id));
}

/* A bit per inode number (modulo RAQIB_INO_BITS), set for each inode
 * watched_inodes has been given, by the core at start and by the kernel as
 * it learns: an inode whose bit is clear is not watched, known without
 * hashing its identity, which is what most inodes a syscall changes cost.
 * Never cleared: a stale bit costs a hash and a look-up. */
#define RAQIB_INO_BITS (1u << 16)
__u64 watched_ino_bits[RAQIB_INO_BITS / 64];

static __always_inline __u64 *ino_word(__u64 ino) {
  return &watched_ino_bits[(ino / 64) & (RAQIB_INO_BITS / 64 - 1)];
}

/* Whether id is a watched file's; with forget, it no longer is. */
static __always_inline bool inode_watched(const struct raqib_inode_id *id, bool forget) {
  if (!(*ino_word(id->ino) & (1ull << (id->ino % 64)))) return false;
  struct raqib_watch_scratch *ws = get_watch_scratch();
  if (!ws) return false;
  __u64 h = inode_hash(ws, id);
  if (forget) return bpf_map_delete_elem(&watched_inodes, &h) == 0;
  return bpf_map_lookup_elem(&watched_inodes, &h) != NULL;
}

/* The file path_hash names is id: its inode is matched against
 * watched_inodes when path_hash is recorded. */
static __always_inline void watched_note(const struct raqib_inode_id *id, __u64 path_hash) {
  struct raqib_watch_scratch *ws = get_watch_scratch();
  if (!ws || !watch_inodes) return;
  ws->note = *id;
  ws->note_hash = path_hash;
}

/* The file a path was just resolved from (an open's fd, an fd argument). */
static __always_inline void watched_note_file(struct file *file, __u64 path_hash) {
  if (!watch_inodes) return;
  struct raqib_inode_id id = inode_id_of(BPF_CORE_READ(file, f_inode));
  watched_note(&id, path_hash);
}

/* The keyed hash of the last name of the path in ws->val.path (w->len bytes). */
static __always_inline __u64 watch_basename_hash(struct raqib_watch_scratch *ws,
                                                 struct watch_walk *w) {
  w->last_slash = w->len;
  bpf_loop(RAQIB_NAME_MAX + 1, find_last_slash, w, 0);
  __u32 start = w->last_slash + 1; /* no '/': the whole string */
  if (w->last_slash >= w->len) start = 0;
  /* At most RAQIB_NAME_MAX: the last '/' is that close to the end, or
   * the string has none (a name as passed), whose hash then matches none. */
  __u32 n = (w->len - start) & RAQIB_NAME_MAX;
  bpf_probe_read_kernel(ws->buf, n, &ws->val.path.str[start & (RAQIB_PATH_MAX - 1)]);
  __builtin_memset(&ws->buf[n], 0, 8);
  return hash_buf(ws, n);
}

/* Copies the string s to dst: the header, the text and the zero word after
 * it (pad_string), what the checks read. Bytes past them are left over from
 * earlier strings and never read (the core reads len bytes). */
static __always_inline void watch_copy_string(struct raqib_string *dst,
                                              const struct raqib_string *s) {
  __u32 copy = 8 + (s->len & (2 * RAQIB_PATH_MAX - 1)) + 8;
  if (copy > sizeof(*dst)) copy = sizeof(*dst);
  bpf_probe_read_kernel(dst, copy, s);
}

/* How the path in ws->val.path (len bytes, hash path_hash) and the act's
 * other name are watched for actions: enum raqib_watch_match, 0 if not. */
static __always_inline __u32 watch_match(struct raqib_watch_scratch *ws,
                                         const struct raqib_file_key *key) {
  struct watch_walk w = {};
  w.len = ws->val.path.len;
  if (w.len > RAQIB_PATH_MAX) w.len = RAQIB_PATH_MAX;
  w.actions = key->actions;
  struct raqib_watch_actions *a = bpf_map_lookup_elem(&watched_paths, &key->path_hash);
  if (a && (a->exact & w.actions)) w.match |= RAQIB_WATCH_EXACT;
  __u32 exact_actions = a ? a->exact : 0;
  if (key->other_hash) { /* a rename or link onto a watched name */
    a = bpf_map_lookup_elem(&watched_paths, &key->other_hash);
    if (a && (a->exact & w.actions)) w.match |= RAQIB_WATCH_EXACT;
  }
  if (watch_prefix_depth) {
    w.depth_left = watch_prefix_depth;
    raqib_sip_init(&ws->st, hash_key0, hash_key1);
    bpf_loop(RAQIB_PATH_MAX / 8, watch_word, &w, 0);
  }
  if (watch_basenames) {
    __u64 h = watch_basename_hash(ws, &w);
    a = bpf_map_lookup_elem(&watched_paths, &h);
    if (a && (a->basename & w.actions)) w.match |= RAQIB_WATCH_BASENAME;
  }
  ws->val.canonical_hash = 0;
  if (watch_inodes && ws->note_hash == key->path_hash && ws->note_hash) {
    __u64 h = inode_hash(ws, &ws->note);
    if (exact_actions) { /* the file a watched name names now: learnt */
      struct raqib_watch_inode learnt = {.canonical_hash = key->path_hash,
                                         .actions = exact_actions};
      bpf_map_update_elem(&watched_inodes, &h, &learnt, BPF_ANY);
      __sync_fetch_and_or(ino_word(ws->note.ino), 1ull << (ws->note.ino % 64));
      return w.match;
    }
    struct raqib_watch_inode *in = bpf_map_lookup_elem(&watched_inodes, &h);
    if (in && (in->actions & w.actions)) {
      w.match |= RAQIB_WATCH_INODE;
      ws->val.canonical_hash = in->canonical_hash;
    }
  }
  return w.match;
}

/* ---- the lanes -------------------------------------------------------- */

/* Whether the current process may insert one more context entry in this
 * epoch; a refusal is counted as capped. */
static __always_inline bool proc_share_left(void) {
  if (!file_proc_cap) return true;
  __u32 zero = 0;
  struct raqib_file_epoch *ep = bpf_map_lookup_elem(&file_epoch, &zero);
  struct task_struct *task = bpf_get_current_task_btf();
  struct raqib_proc_share *share = bpf_task_storage_get(&proc_share, task->group_leader, NULL,
                                                        BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!ep || !share) return true;
  if (share->seq != ep->seq) {
    share->seq = ep->seq;
    share->inserted = 0;
  }
  if (share->inserted >= file_proc_cap) {
    count_capped(RAQIB_MAP_FILE);
    return false;
  }
  share->inserted++;
  return true;
}

/* A context entry was inserted: past the mark, wake the core once. */
static __always_inline void context_inserted(void) {
  __u32 zero = 0;
  struct raqib_file_epoch *ep = bpf_map_lookup_elem(&file_epoch, &zero);
  if (!ep || !file_fill_mark) return;
  __sync_fetch_and_add(&ep->filled, 1);
  if (ep->filled < file_fill_mark || ep->signalled) return;
  ep->signalled = 1;
  __u64 word = RAQIB_PRESSURE_FILE;
  bpf_ringbuf_output(&file_pressure, &word, sizeof(word), BPF_RB_FORCE_WAKEUP);
}

/* For an act the context map has no entry for yet: true when it was
 * recorded in the watched lane, or refused by the process's share of the
 * context map; false when the caller inserts it as context. */
static __always_inline bool watched_or_capped(const struct raqib_file_key *key,
                                              const struct raqib_string *s, __u64 now) {
  void *lane = current_epoch(&file_watched);
  struct raqib_watch_scratch *ws = get_watch_scratch();
  if (!watch_enabled || !lane || !ws) return !proc_share_left();
  struct raqib_watched_value *v = bpf_map_lookup_elem(lane, key);
  if (v) {
    __sync_fetch_and_add(&v->count, 1);
    v->last_ns = now;
    count_map(RAQIB_MAP_FILE_WATCHED, RAQIB_CNT_UPDATE);
    return true;
  }
  watch_copy_string(&ws->val.path, s);
  __u32 match = watch_match(ws, key);
  ws->note_hash = 0;
  if (!match) return !proc_share_left();
  ws->val.count = 1;
  ws->val.first_ns = now;
  ws->val.last_ns = now;
  ws->val.match = match;
  __u32 zero = 0;
  struct raqib_file_epoch *ep = bpf_map_lookup_elem(&file_epoch, &zero);
  if (!ep) return true;
  if (!(match & RAQIB_WATCH_EXACT) && ep->lane_filled >= watch_lane_soft) {
    count_capped(RAQIB_MAP_FILE_WATCHED);
    return true;
  }
  long err = bpf_map_update_elem(lane, key, &ws->val, BPF_NOEXIST);
  if (err == 0) {
    __sync_fetch_and_add(&ep->lane_filled, 1);
    count_map(RAQIB_MAP_FILE_WATCHED, RAQIB_CNT_INSERT);
  } else if (err == -EEXIST && (v = bpf_map_lookup_elem(lane, key))) { /* another CPU won */
    __sync_fetch_and_add(&v->count, 1);
    count_map(RAQIB_MAP_FILE_WATCHED, RAQIB_CNT_UPDATE);
  } else {
    count_map(RAQIB_MAP_FILE_WATCHED, RAQIB_CNT_FAILED);
  }
  return true;
}

#endif /* RAQIB_WATCHED_BPF_H */
