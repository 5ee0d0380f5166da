// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The raqib BPF object: kernel hooks that record behaviour into the bounded,
 * epoch-paired activity maps of maps.bpf.h. The core drains them. */
#include "common.bpf.h"
#include "watched.bpf.h"
#include "syscall_names.bpf.h"
#include "exec_watched.bpf.h"
#include "dns_watched.bpf.h"
#include "peers_watched.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

static __always_inline void record_file(__u32 tgid, struct raqib_string *s, __u64 path_hash,
                                        __u64 other_hash, __u32 actions, __s32 error);

/* ---- processes ------------------------------------------------------- */

/* p: the task's current facts, as the first entry of its image. */
static __always_inline void proc_init(struct raqib_proc *p, struct task_struct *task, __u32 tgid,
                                      const struct raqib_image *image) {
  __builtin_memset(p, 0, sizeof(*p));
  p->hdr.kind = RAQIB_REC_PROC;
  p->hdr.version = RAQIB_RECORD_VERSION;
  p->hdr.size = sizeof(*p);
  p->tgid = tgid;
  p->exec_seq = image->exec_seq;
  p->ppid = BPF_CORE_READ(task, real_parent, tgid);
  p->uid = BPF_CORE_READ(task, cred, uid.val);
  p->euid = BPF_CORE_READ(task, cred, euid.val);
  p->gid = BPF_CORE_READ(task, cred, gid.val);
  p->start_ns = BPF_CORE_READ(task, group_leader, start_boottime);
  p->cgroup_id = BPF_CORE_READ(task, cgroups, dfl_cgrp, kn, id);
  p->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
  /* The namespace the task's children get: its own unless it unshared. */
  p->pid_ns = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, ns.inum);
  p->net_ns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
  BPF_CORE_READ_STR_INTO(&p->comm, task, comm);
}

/* The epoch's entry for the image task runs: the watched lane's when the
 * image's exec went there, else the context map's, created from the task's
 * current facts when the epoch has none yet. NULL when the map is full
 * (counted). */
static __always_inline struct raqib_proc *proc_entry(struct task_struct *task, __u32 tgid) {
  void *inner = current_epoch(&exec_activity);
  if (!inner) return NULL;
  struct raqib_image image = image_of(task);
  struct raqib_proc *rec = bpf_map_lookup_elem(inner, &image);
  if (rec) {
    count_map(RAQIB_MAP_PROC, RAQIB_CNT_UPDATE);
    return rec;
  }
  rec = exec_lane_find(&image);
  if (rec) return rec;
  struct raqib_scratch *sc = get_scratch();
  if (!sc) return NULL;
  struct raqib_proc *p = &sc->proc;
  proc_init(p, task, tgid, &image);
  long err = bpf_map_update_elem(inner, &image, p, BPF_NOEXIST);
  if (err == 0)
    count_map(RAQIB_MAP_PROC, RAQIB_CNT_INSERT);
  else if (err != -EEXIST) {
    count_map(RAQIB_MAP_PROC, RAQIB_CNT_FAILED);
    return NULL;
  }
  return bpf_map_lookup_elem(inner, &image);
}

/* The entry of an exec of the executable exe (hash exe_hash): in the
 * watched lane when an exec recipe names it and the lane takes it, else
 * the context map's (proc_entry). */
static __always_inline struct raqib_proc *exec_entry(struct task_struct *task, __u32 tgid,
                                                     const struct raqib_scratch *sc,
                                                     __u64 exe_hash) {
  const struct raqib_string *exe = &sc->str;
  __u32 match = exec_watch_match(exe, exe_hash);
  if ((sc->exec_facts | exec_path_facts(exe)) & exec_watch_facts) match |= RAQIB_WATCH_FACTS;
  struct raqib_watched_proc *v = match ? get_exec_lane_scratch() : NULL;
  if (v) {
    struct raqib_image image = image_of(task);
    proc_init(&v->proc, task, tgid, &image);
    v->match = match;
    struct raqib_proc *rec = exec_lane_insert(&image, v, exe);
    if (rec) return rec;
  }
  return proc_entry(task, tgid);
}

/* argv of the task that just exec'd, NUL-separated, the first RAQIB_ARGS_MAX
 * bytes; the core splits it and counts the arguments. */
static __always_inline void read_args(struct task_struct *task, struct raqib_proc *rec) {
  unsigned long start = BPF_CORE_READ(task, mm, arg_start);
  unsigned long end = BPF_CORE_READ(task, mm, arg_end);
  unsigned long size = end - start;
  __u32 len = size > RAQIB_ARGS_MAX ? RAQIB_ARGS_MAX : size;
  if (bpf_probe_read_user(rec->args, len, (void *)start) != 0) len = 0;
  rec->args_len = len;
  if (size > len) rec->flags |= RAQIB_PROC_ARGS_TRUNCATED;
}

/* ---- exec-time facts: environment markers, standard streams ----------- */

#define RAQIB_ENV_CHUNK 1000 /* env bytes examined per chunk; chunks overlap by one byte */
#define RAQIB_ENV_BUF 1024   /* bytes read per chunk: the byte before it and the marker's tail */
#define RAQIB_S_IFMT 0170000
#define RAQIB_S_IFDIR 0040000
#define RAQIB_S_IFSOCK 0140000
#define RAQIB_PF_INET 2
#define RAQIB_PF_INET6 10

struct env_scan {
  unsigned long start; /* env_start */
  unsigned long size;  /* bytes of environment scanned */
  __u32 flags;         /* RAQIB_PROC_ENV_* found */
};

/* buf[at..] begins with the len bytes of marker. */
static __always_inline bool env_has(const char *buf, __u32 at, const char *marker, __u32 len) {
  for (__u32 i = 0; i < len; i++)
    if (buf[(at + i) & (2 * RAQIB_PATH_MAX - 1)] != marker[i]) return false;
  return true;
}

/* One position of the chunk in scratch.join: a variable starts there when
 * the byte before it is NUL (join[0] is that byte for position 1). */
static long env_byte(__u32 i, void *ctx) {
  struct raqib_scratch *sc = get_scratch();
  struct env_scan *scan = ctx;
  if (!sc) return 1;
  __u32 at = (i + 1) & (RAQIB_ENV_BUF - 1);
  if (sc->join[at - 1 < RAQIB_ENV_BUF ? at - 1 : 0] != 0 || sc->join[at] != 'L') return 0;
  if (env_has(sc->join, at, "LD_PRELOAD=", 11)) scan->flags |= RAQIB_PROC_ENV_LD_PRELOAD;
  if (env_has(sc->join, at, "LD_LIBRARY_PATH=", 16)) scan->flags |= RAQIB_PROC_ENV_LD_LIBRARY_PATH;
  if (env_has(sc->join, at, "LD_AUDIT=", 9)) scan->flags |= RAQIB_PROC_ENV_LD_AUDIT;
  return 0;
}

/* Chunk k: environment bytes [k*CHUNK, (k+1)*CHUNK), read with the byte
 * before them (a NUL before the first) into scratch.join. */
static long env_chunk(__u32 k, void *ctx) {
  struct raqib_scratch *sc = get_scratch();
  struct env_scan *scan = ctx;
  if (!sc) return 1;
  unsigned long off = (unsigned long)k * RAQIB_ENV_CHUNK;
  if (off >= scan->size) return 1;
  unsigned long left = scan->size - off;
  __u32 n = left < RAQIB_ENV_CHUNK ? left : RAQIB_ENV_CHUNK;
  /* The chunk and the tail of a marker that starts in it, within the scan. */
  __u32 len = left < RAQIB_ENV_CHUNK + 16 ? left : RAQIB_ENV_CHUNK + 16;
  __builtin_memset(sc->join, 0, RAQIB_ENV_BUF);
  if (k == 0) {
    if (bpf_probe_read_user(&sc->join[1], len & (RAQIB_ENV_BUF - 1), (void *)scan->start)) return 1;
  } else if (bpf_probe_read_user(sc->join, (len + 1) & (RAQIB_ENV_BUF - 1),
                                 (void *)(scan->start + off - 1))) {
    return 1;
  }
  bpf_loop(n, env_byte, scan, 0);
  return 0;
}

/* RAQIB_PROC_ENV_* of the environment the task just exec'd with. */
static __always_inline __u32 env_markers(struct task_struct *task) {
  struct env_scan scan = {};
  scan.start = BPF_CORE_READ(task, mm, env_start);
  unsigned long end = BPF_CORE_READ(task, mm, env_end);
  if (end <= scan.start) return 0;
  scan.size = end - scan.start;
  __u32 truncated = 0;
  if (scan.size > RAQIB_ENV_SCAN_MAX) {
    scan.size = RAQIB_ENV_SCAN_MAX;
    truncated = RAQIB_PROC_ENV_TRUNCATED;
  }
  bpf_loop((RAQIB_ENV_SCAN_MAX + RAQIB_ENV_CHUNK - 1) / RAQIB_ENV_CHUNK, env_chunk, &scan, 0);
  return scan.flags | truncated;
}

/* RAQIB_PROC_STD*_INET: which of fds 0-2 are IPv4/IPv6 sockets (a unix
 * socket, as services get from their manager, is not). */
static __always_inline __u32 stdio_inet(struct task_struct *task) {
  __u32 flags = 0;
  for (int fd = 0; fd < 3; fd++) {
    struct file *f = fd_file(task, fd);
    if (!f) continue;
    if ((BPF_CORE_READ(f, f_inode, i_mode) & RAQIB_S_IFMT) != RAQIB_S_IFSOCK) continue;
    struct socket *sock = BPF_CORE_READ(f, private_data);
    __u16 family = BPF_CORE_READ(sock, sk, __sk_common.skc_family);
    if (family == RAQIB_PF_INET || family == RAQIB_PF_INET6) flags |= RAQIB_PROC_STDIN_INET << fd;
  }
  return flags;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(raqib_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  __u32 tgid = task->tgid;
  if (tgid == self_tgid) return 0;
  struct raqib_scratch *sc = get_scratch();
  if (!sc) return 0;
  resolve_path(&bprm->file->f_path, sc);
  __u64 hash = hash_string(&sc->str);
  /* The facts first: exec recipes watch some of them. */
  sc->exec_facts = env_markers(task) | stdio_inet(task);
  if (BPF_CORE_READ(bprm, file, f_path.dentry, d_inode, i_nlink) == 0)
    sc->exec_facts |= RAQIB_PROC_EXE_DELETED;
  struct raqib_proc *rec = exec_entry(task, tgid, sc, hash);
  if (!rec) return 0;
  put_string(hash, &sc->str);

  rec->exe_hash = hash;
  rec->exec_ns = bpf_ktime_get_boot_ns();
  record_file(tgid, &sc->str, hash, 0, RAQIB_FILE_EXEC, 0);
  rec->uid = task->cred->uid.val;
  rec->euid = task->cred->euid.val;
  rec->gid = task->cred->gid.val;
  rec->flags |= RAQIB_PROC_EXECED;
  rec->flags &=
      ~(RAQIB_PROC_ARGS_TRUNCATED | RAQIB_PROC_EXE_DELETED | RAQIB_PROC_ENV_LD_PRELOAD |
        RAQIB_PROC_ENV_LD_LIBRARY_PATH | RAQIB_PROC_ENV_LD_AUDIT | RAQIB_PROC_ENV_TRUNCATED |
        RAQIB_PROC_STDIN_INET | RAQIB_PROC_STDOUT_INET | RAQIB_PROC_STDERR_INET);
  rec->flags |= sc->exec_facts;
  bpf_probe_read_kernel_str(rec->comm, sizeof(rec->comm), task->comm);
  read_args(task, rec);
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(raqib_fork, struct task_struct *parent, struct task_struct *child) {
  if (child->pid != child->tgid) return 0; /* a new thread, not a process */
  if (parent->tgid == self_tgid) return 0;
  struct raqib_proc *rec = proc_entry(child, child->tgid);
  if (rec) rec->flags |= RAQIB_PROC_FORKED;
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(raqib_exit, struct task_struct *task) {
  if (task->tgid == self_tgid) return 0;
  if (task->signal->live.counter != 0) return 0; /* other threads live on */
  struct raqib_proc *rec = proc_entry(task, task->tgid);
  if (!rec) return 0;
  rec->exit_ns = bpf_ktime_get_boot_ns();
  rec->exit_code = task->exit_code;
  rec->flags |= RAQIB_PROC_EXITED;
  return 0;
}

/* A namespace change of the current process (RAQIB_PROC_UNSHARED or
 * RAQIB_PROC_SETNS): flagged on its entry, with the namespaces it has now. */
static __always_inline void record_ns_change(__u32 flag) {
  struct task_struct *task = bpf_get_current_task_btf();
  __u32 tgid = BPF_CORE_READ(task, tgid);
  if (tgid == self_tgid) return;
  struct raqib_proc *rec = proc_entry(task, tgid);
  if (!rec) return;
  rec->flags |= flag;
  rec->mnt_ns = BPF_CORE_READ(task, nsproxy, mnt_ns, ns.inum);
  rec->pid_ns = BPF_CORE_READ(task, nsproxy, pid_ns_for_children, ns.inum);
  rec->net_ns = BPF_CORE_READ(task, nsproxy, net_ns, ns.inum);
}

SEC("tracepoint/syscalls/sys_exit_unshare")
int raqib_unshare(struct trace_event_raw_sys_exit *ctx) {
  if (ctx->ret == 0) record_ns_change(RAQIB_PROC_UNSHARED);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_setns")
int raqib_setns(struct trace_event_raw_sys_exit *ctx) {
  if (ctx->ret == 0) record_ns_change(RAQIB_PROC_SETNS);
  return 0;
}

/* Every live process, for the core to reconcile its table with: read
 * through an iterator link, no /proc needed (the core has dropped its
 * privileges by then). */
SEC("iter/task")
int raqib_live_tasks(struct bpf_iter__task *ctx) {
  struct task_struct *task = ctx->task;
  if (!task || task->pid != task->tgid) return 0; /* group leaders only */
  struct raqib_live_task live = {.tgid = task->tgid, .start_ns = task->start_boottime};
  bpf_seq_write(ctx->meta->seq, &live, sizeof live);
  return 0;
}

/* ---- files ----------------------------------------------------------- */

/* Only the file capabilities attribute: it grants privileges on exec. 1 when
 * the name at at (user memory, or kernel memory for an io_uring request's
 * copy) is it, 0 when not, -1 when the name cannot be read (not paged in
 * yet: a BPF program cannot fault it in). */
static __always_inline int capability_xattr_in(__u64 at, bool user) {
  static const char want[] = "security.capability";
  char name[sizeof(want) + 1] = {}; /* one more: a longer name is not it */
  long n = user ? bpf_probe_read_user_str(name, sizeof(name), (void *)at)
                : bpf_probe_read_kernel_str(name, sizeof(name), (void *)at);
  if (n < 0) return -1;
  if (n != sizeof(want)) return 0;
  for (int i = 0; i < sizeof(want); i++)
    if (name[i] != want[i]) return 0;
  return 1;
}

static __always_inline int capability_xattr(__u64 user_name) {
  return capability_xattr_in(user_name, true);
}

/* Remember a file syscall's arguments at its entry, for its exit. The user
 * memory the exit needs is read here, once, before the kernel reads it (a
 * racing thread can change it before the exit): an xattr's name, openat2's
 * open_how flags, and the path names (syscall_names.bpf.h). Only what is not
 * paged in yet, or a name with no room to keep it, is left for the exit to
 * read (counted). */
static __always_inline void syscall_enter(__u32 resolve, __u32 actions, long dfd, __u64 name,
                                          long dfd2, __u64 name2, __u32 flags) {
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return;
  struct task_struct *task = bpf_get_current_task_btf();
  struct raqib_syscall_args *a =
      bpf_task_storage_get(&syscall_args, task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!a) return;
  a->active = 0;
  a->touched.ino = 0;
  if (actions & RAQIB_FILE_SETCAP) {
    int cap = capability_xattr(name2);
    if (cap == 0) return; /* another attribute: not recorded */
    if (cap == 1)
      name2 = 0;
    else
      count_unreadable();
  } else if (resolve == RAQIB_RESOLVE_OPENED && name2) {
    __u64 how_flags = 0; /* struct open_how's first member */
    if (bpf_probe_read_user(&how_flags, sizeof(how_flags), (void *)name2) == 0) {
      flags = how_flags;
      name2 = 0;
    } else {
      count_unreadable();
    }
  }
  a->kept = 0;
  __u32 names = passed_names(resolve);
  if (names > 0) keep_name(a, 0, name);
  if (names > 1) keep_name(a, 1, name2);
  a->resolve = resolve;
  a->actions = actions;
  a->dfd = dfd;
  a->name = name;
  a->dfd2 = dfd2;
  a->name2 = name2;
  a->flags = flags;
  a->active = 1;
}

static __always_inline __u32 open_actions(__u32 flags) {
  __u32 actions = RAQIB_FILE_OPEN;
  switch (flags & 3) { /* O_ACCMODE */
    case 0:
      actions |= RAQIB_FILE_READ;
      break;
    case 1:
      actions |= RAQIB_FILE_WRITE;
      break;
    case 2:
      actions |= RAQIB_FILE_READ | RAQIB_FILE_WRITE;
      break;
  }
  if (flags & 0100) actions |= RAQIB_FILE_CREATE;    /* O_CREAT */
  if (flags & 01000) actions |= RAQIB_FILE_TRUNCATE; /* O_TRUNC */
  return actions;
}

/* A file record's process: tgid, in the image the current task runs. */
static __always_inline void set_image(struct raqib_file_key *key, __u32 tgid) {
  struct raqib_image image = image_of(bpf_get_current_task_btf());
  key->tgid = tgid;
  key->exec_seq = image.exec_seq;
  key->start_ns = image.start_ns;
}

/* The ring-buffer transport: send the event itself, path and all, as
 * streaming monitors do. A full buffer drops it (counted). */
static __always_inline void stream_file(const struct raqib_file_key *key, struct raqib_string *s,
                                        __u64 now) {
  struct raqib_scratch *sc = get_scratch();
  if (!sc) return;
  struct raqib_file_event *e = &sc->event;
  e->hdr.kind = RAQIB_REC_FILE_EVENT;
  e->hdr.version = RAQIB_RECORD_VERSION;
  e->hdr.size = sizeof(*e);
  e->key = *key;
  e->time_ns = now;
  __u32 len = s->len;
  if (len > RAQIB_PATH_MAX) len = RAQIB_PATH_MAX;
  e->path.len = len;
  bpf_probe_read_kernel(e->path.str, len, s->str);
  __u64 size = offsetof(struct raqib_file_event, path.str) + len;
  if (size > sizeof(*e)) size = sizeof(*e);
  if (bpf_ringbuf_output(&events, e, size, 0) == 0)
    count_map(RAQIB_MAP_RINGBUF, RAQIB_CNT_INSERT);
  else
    count_map(RAQIB_MAP_RINGBUF, RAQIB_CNT_FAILED);
}

/* Add one occurrence to key's entry in the current epoch; false when the
 * epoch has no such entry yet. */
static __always_inline bool bump_file(void *inner, const struct raqib_file_key *key, __u64 now) {
  struct raqib_file_value *v = bpf_map_lookup_elem(inner, key);
  if (!v) return false;
  __sync_fetch_and_add(&v->count, 1);
  v->last_ns = now;
  count_map(RAQIB_MAP_FILE, RAQIB_CNT_UPDATE);
  return true;
}

/* Count one occurrence of (tgid, the path s whose hash is path_hash, other,
 * actions, error) in the current epoch. */
static __always_inline void record_file(__u32 tgid, struct raqib_string *s, __u64 path_hash,
                                        __u64 other_hash, __u32 actions, __s32 error) {
  struct raqib_file_key key = {};
  key.path_hash = path_hash;
  key.other_hash = other_hash;
  set_image(&key, tgid);
  key.actions = actions;
  key.error = error;
  key.path_flags = s->flags;
  __u64 now = bpf_ktime_get_boot_ns();
  if (stream_files) return stream_file(&key, s, now);
  void *inner = current_epoch(&file_activity);
  if (!inner || bump_file(inner, &key, now)) return;
  if (watched_or_capped(&key, s, now)) return; /* watched.bpf.h: the watched lane */

  struct raqib_file_value init = {.count = 1, .first_ns = now, .last_ns = now};
  long err = bpf_map_update_elem(inner, &key, &init, BPF_NOEXIST);
  if (err == 0) {
    count_map(RAQIB_MAP_FILE, RAQIB_CNT_INSERT);
    put_string(key.path_hash, s);
    context_inserted();
  } else if (err != -EEXIST || !bump_file(inner, &key, now)) { /* EEXIST: another CPU won */
    count_map(RAQIB_MAP_FILE, RAQIB_CNT_FAILED);
  }
}

static __always_inline __u64 path_generation_now(void) {
  __u32 zero = 0;
  __u64 *g = bpf_map_lookup_elem(&path_generation, &zero);
  return g ? *g : 0;
}

static __always_inline void new_path_generation(void) {
  __u32 zero = 0;
  __u64 *g = bpf_map_lookup_elem(&path_generation, &zero);
  if (g) __sync_fetch_and_add(g, 1);
}

/* The cache entry of a file's path, if it is still true. */
static __always_inline struct raqib_path_cache_val *cached_path(
    const struct raqib_path_cache_key *key) {
  struct raqib_path_cache_val *v = bpf_map_lookup_elem(&path_cache, key);
  if (!v || v->generation != path_generation_now()) return NULL;
  struct dentry *dentry = (struct dentry *)key->dentry;
  if ((__u64)BPF_CORE_READ(dentry, d_parent) != v->parent ||
      (__u64)BPF_CORE_READ(dentry, d_inode) != v->inode ||
      BPF_CORE_READ(dentry, d_name.hash_len) != v->name_hash)
    return NULL;
  return v;
}

static __always_inline void cache_path(const struct raqib_path_cache_key *ck, __u64 hash,
                                       __u32 flags) {
  struct dentry *dentry = (struct dentry *)ck->dentry;
  struct raqib_path_cache_val v = {};
  v.path_hash = hash;
  v.generation = path_generation_now();
  v.parent = (__u64)BPF_CORE_READ(dentry, d_parent);
  v.inode = (__u64)BPF_CORE_READ(dentry, d_inode);
  v.name_hash = BPF_CORE_READ(dentry, d_name.hash_len);
  v.path_flags = flags;
  bpf_map_update_elem(&path_cache, ck, &v, BPF_ANY);
}

/* The fast path of a file resolved before: when its path is cached and the
 * epoch already has its record, count it without walking or hashing. */
static __always_inline bool record_cached_file(__u32 tgid, const struct raqib_path_cache_key *ck,
                                               __u64 other, __u32 actions, __s32 error) {
  if (stream_files) return false; /* streaming sends the path with every event */
  struct raqib_path_cache_val *cv = cached_path(ck);
  void *inner = current_epoch(&file_activity);
  if (!cv || !inner) return false;
  struct raqib_file_key key = {};
  key.path_hash = cv->path_hash;
  key.other_hash = other;
  set_image(&key, tgid);
  key.actions = actions;
  key.error = error;
  key.path_flags = cv->path_flags;
  return bump_file(inner, &key, bpf_ktime_get_boot_ns());
}

/* Record an action on an open file, by the path of its (dentry, mount). */
static __always_inline void record_opened_file(__u32 tgid, struct file *file, __u64 other,
                                               __u32 actions, __s32 error,
                                               struct raqib_scratch *sc) {
  struct raqib_path_cache_key ck = {};
  ck.dentry = (__u64)BPF_CORE_READ(file, f_path.dentry);
  ck.mnt = (__u64)BPF_CORE_READ(file, f_path.mnt);
  if (record_cached_file(tgid, &ck, other, actions, error)) return;
  resolve_path(&file->f_path, sc);
  __u64 hash = hash_string(&sc->str);
  if (!stream_files) cache_path(&ck, hash, sc->str.flags);
  watched_note_file(file, hash);
  record_file(tgid, &sc->str, hash, other, actions, error);
}

/* Names an io_uring request passed, copied from the kernel's copies when it
 * was submitted (abi.bpf.h): name[0] the path, name[1] the other path or
 * text, as raqib_syscall_args.name and name2. */
struct raqib_kernel_names {
  char name[2][RAQIB_PATH_MAX];
};

/* Name which of a file action: a syscall's as its entry kept it (names
 * NULL; see passed_name for *flags), or an io_uring request's copy (the
 * kernel's own, read once). */
static __always_inline const char *action_name(const struct raqib_syscall_args *a,
                                               const struct raqib_kernel_names *names,
                                               __u32 which, __u16 *flags) {
  if (names) return names->name[which & 1];
  return passed_name(a, which, which ? a->name2 : a->name, flags);
}

/* When a file action ends (a syscall's exit, an io_uring request's
 * completion): find its path(s) as a says, and record. names: NULL for a
 * syscall (its names are a's), else an io_uring request's copies; file:
 * NULL, or the file an io_uring request acted on (RAQIB_RESOLVE_FD) or
 * opened into a fixed-file slot (RAQIB_RESOLVE_OPENED: no fd). */
static __always_inline void file_action_record(struct task_struct *task,
                                               const struct raqib_syscall_args *a,
                                               const struct raqib_kernel_names *names,
                                               struct file *file, long ret) {
  struct raqib_scratch *sc = get_scratch();
  if (!sc) return;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;
  __s32 error = ret < 0 && ret > -4096 ? (__s32)ret : 0;
  __u32 actions = a->actions;
  __u64 other = 0;
  __u16 late = 0; /* RAQIB_STR_READ_AT_EXIT when a name was read here */
  if ((actions & RAQIB_FILE_SETCAP) && a->name2 && capability_xattr(a->name2) != 1) return;

  /* The other name first: scratch.str then holds the main path. */
  if (a->resolve == RAQIB_RESOLVE_AT_AT || a->resolve == RAQIB_RESOLVE_AT_TEXT) {
    const char *name2 = action_name(a, names, 1, &late);
    if (!name2) return;
    if (a->resolve == RAQIB_RESOLVE_AT_AT)
      resolve_at(task, a->dfd2, name2, sc);
    else
      passed_string(name2, RAQIB_STR_UNRESOLVED, sc);
    other = hash_string(&sc->str);
    put_string(other, &sc->str);
  }
  switch (a->resolve) {
    case RAQIB_RESOLVE_OPENED: {
      __u32 flags = a->flags;
      if (a->name2) { /* openat2: its struct open_how, not paged in at the entry */
        struct open_how how = {};
        bpf_probe_read_user(&how, sizeof(how), (void *)a->name2);
        flags = how.flags;
      }
      actions = open_actions(flags);
      if (!file && !error) file = fd_file(task, ret);
      if (!file) {
        /* The kernel opened nothing: keep the name as it was passed. */
        if (!names && !a->name) return; /* open_by_handle_at: no name */
        const char *name = action_name(a, names, 0, &late);
        if (!name) return;
        passed_string(name, RAQIB_STR_UNRESOLVED, sc);
        break;
      }
    } /* fall through: the path of the file opened */
    case RAQIB_RESOLVE_FD: {
      if (!file) file = fd_file(task, a->dfd);
      if (!file) return;
      return record_opened_file(tgid, file, other, actions, error, sc);
    }
    default: {
      const char *name = action_name(a, names, 0, &late);
      if (!name) return;
      resolve_at(task, a->dfd, name, sc);
    }
  }
  /* A renamed directory changes the path of everything below it, and a
   * mount change the path of files already cached. */
  if ((actions & (RAQIB_FILE_RENAME | RAQIB_FILE_MOUNT | RAQIB_FILE_UMOUNT)) && !error)
    new_path_generation();
  sc->str.flags |= late;
  __u64 hash = hash_string(&sc->str);
  if (!names && a->touched.ino) watched_note(&a->touched, hash);
  record_file(tgid, &sc->str, hash, other, actions, error);
}

/* The exit of the file syscall whose entry ran: record it, then free the
 * names its entry kept. entered_at_exit: the entry ran at this exit (a
 * compat syscall), so its names were read after the kernel used them. */
static __always_inline void syscall_exit(long ret, bool entered_at_exit) {
  struct task_struct *task = bpf_get_current_task_btf();
  struct raqib_syscall_args *a = bpf_task_storage_get(&syscall_args, task, NULL, 0);
  if (!a || !a->active) return;
  a->active = 0;
  if (entered_at_exit) a->kept |= RAQIB_KEPT_AT_EXIT;
  file_action_record(task, a, NULL, NULL, ret);
  if (a->touched.ino && a->touched_gone) inode_watched(&a->touched, true);
  forget_names(a);
}

/* An inode a file syscall in flight changes: a chmod, chown, truncate,
 * setxattr, link, unlink or rename by name marks the file's inode dirty.
 * When it is a watched file's, the syscall's exit notes it against the name
 * passed, so an act on the file through another name (a hard link, a bind
 * mount, an overlay) is watched as an open of it is (watched_note_file). A
 * directory is left out: a file created or removed in it dirties it too.
 * A watched inode whose last name is gone leaves watched_inodes (after the
 * record of the syscall that removed it): the filesystem may give its
 * number to a new file. */
static __always_inline void touched_inode(struct inode *inode) {
  if (!watch_inodes || !inode) return;
  if ((BPF_CORE_READ(inode, i_mode) & RAQIB_S_IFMT) == RAQIB_S_IFDIR) return;
  struct raqib_syscall_args *a =
      bpf_task_storage_get(&syscall_args, bpf_get_current_task_btf(), NULL, 0);
  /* The opens and the fd-taking calls note the file they act on. */
  bool note = a && a->active && !a->touched.ino && a->resolve != RAQIB_RESOLVE_OPENED &&
              a->resolve != RAQIB_RESOLVE_FD;
  bool gone = BPF_CORE_READ(inode, i_nlink) == 0;
  if (!note && !gone) return;
  struct raqib_inode_id id = inode_id_of(inode);
  if (a && a->active && a->touched.ino == id.ino && a->touched.dev == id.dev) {
    a->touched_gone |= gone; /* dirtied again (ext4's orphan list): the exit forgets it */
  } else if (note && a && inode_watched(&id, false)) {
    a->touched = id;
    a->touched_gone = gone;
  } else if (gone) {
    inode_watched(&id, true);
  }
}

/* ext4 marks its inodes dirty itself; other filesystems through
 * __mark_inode_dirty. Either is left out where this kernel lacks it. */
SEC("tp_btf/ext4_mark_inode_dirty")
int BPF_PROG(raqib_ext4_inode_dirty, struct inode *inode, unsigned long ip) {
  touched_inode(inode);
  return 0;
}

SEC("tp_btf/writeback_mark_inode_dirty")
int BPF_PROG(raqib_inode_dirty, struct inode *inode, int flags) {
  touched_inode(inode);
  return 0;
}

/* One exit program for every file syscall: the core attaches it to the
 * sys_exit tracepoint of each syscall that has a raqib_enter_ program, so
 * the verifier checks the path walk once rather than once per syscall. */
SEC("tracepoint")
int raqib_sys_exit(struct trace_event_raw_sys_exit *ctx) {
  syscall_exit(ctx->ret, false);
  return 0;
}

/* The entry program of a file syscall: its body calls syscall_enter with
 * the syscall's arguments (ctx->args[i], read directly: the verifier refuses
 * a ctx pointer that was moved). The core attaches it, and raqib_sys_exit,
 * when this kernel has the syscall. */
#define RAQIB_FILE_SYSCALL(syscall, ...)                             \
  SEC("tracepoint")                                                  \
  int raqib_enter_##syscall(struct trace_event_raw_sys_enter *ctx) { \
    __VA_ARGS__;                                                     \
    return 0;                                                        \
  }

#define AT RAQIB_RESOLVE_AT
#define CWD RAQIB_AT_FDCWD

/* Opens: the path is that of the fd returned. */
RAQIB_FILE_SYSCALL(open,
                   syscall_enter(RAQIB_RESOLVE_OPENED, 0, CWD, ctx->args[0], 0, 0, ctx->args[1]))
RAQIB_FILE_SYSCALL(openat, syscall_enter(RAQIB_RESOLVE_OPENED, 0, ctx->args[0], ctx->args[1], 0, 0,
                                         ctx->args[2]))
RAQIB_FILE_SYSCALL(creat, syscall_enter(RAQIB_RESOLVE_OPENED, 0, CWD, ctx->args[0], 0, 0,
                                        01 | 0100 | 01000)) /* O_WRONLY|O_CREAT|O_TRUNC */
RAQIB_FILE_SYSCALL(openat2, syscall_enter(RAQIB_RESOLVE_OPENED, 0, ctx->args[0], ctx->args[1], 0,
                                          ctx->args[2], 0)) /* struct open_how * */

/* Removal, renames and links. */
RAQIB_FILE_SYSCALL(unlink, syscall_enter(AT, RAQIB_FILE_UNLINK, CWD, ctx->args[0], 0, 0, 0))
RAQIB_FILE_SYSCALL(unlinkat,
                   syscall_enter(AT, RAQIB_FILE_UNLINK, ctx->args[0], ctx->args[1], 0, 0, 0))
RAQIB_FILE_SYSCALL(rmdir, syscall_enter(AT, RAQIB_FILE_UNLINK, CWD, ctx->args[0], 0, 0, 0))
RAQIB_FILE_SYSCALL(rename, syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_RENAME, CWD, ctx->args[0],
                                         CWD, ctx->args[1], 0))
RAQIB_FILE_SYSCALL(renameat, syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_RENAME, ctx->args[0],
                                           ctx->args[1], ctx->args[2], ctx->args[3], 0))
RAQIB_FILE_SYSCALL(renameat2, syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_RENAME, ctx->args[0],
                                            ctx->args[1], ctx->args[2], ctx->args[3], 0))
/* A link's path is the new name; the other path is the file it links to. */
RAQIB_FILE_SYSCALL(link, syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_LINK, CWD, ctx->args[1], CWD,
                                       ctx->args[0], 0))
RAQIB_FILE_SYSCALL(linkat, syscall_enter(RAQIB_RESOLVE_AT_AT, RAQIB_FILE_LINK, ctx->args[2],
                                         ctx->args[3], ctx->args[0], ctx->args[1], 0))
RAQIB_FILE_SYSCALL(symlink, syscall_enter(RAQIB_RESOLVE_AT_TEXT, RAQIB_FILE_SYMLINK, CWD,
                                          ctx->args[1], 0, ctx->args[0], 0))
RAQIB_FILE_SYSCALL(symlinkat, syscall_enter(RAQIB_RESOLVE_AT_TEXT, RAQIB_FILE_SYMLINK, ctx->args[1],
                                            ctx->args[2], 0, ctx->args[0], 0))

/* Attributes. */
RAQIB_FILE_SYSCALL(chmod, syscall_enter(AT, RAQIB_FILE_CHMOD, CWD, ctx->args[0], 0, 0, 0))
RAQIB_FILE_SYSCALL(fchmod,
                   syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_CHMOD, ctx->args[0], 0, 0, 0, 0))
RAQIB_FILE_SYSCALL(fchmodat,
                   syscall_enter(AT, RAQIB_FILE_CHMOD, ctx->args[0], ctx->args[1], 0, 0, 0))
RAQIB_FILE_SYSCALL(fchmodat2,
                   syscall_enter(AT, RAQIB_FILE_CHMOD, ctx->args[0], ctx->args[1], 0, 0, 0))
RAQIB_FILE_SYSCALL(chown, syscall_enter(AT, RAQIB_FILE_CHOWN, CWD, ctx->args[0], 0, 0, 0))
RAQIB_FILE_SYSCALL(lchown, syscall_enter(AT, RAQIB_FILE_CHOWN, CWD, ctx->args[0], 0, 0, 0))
RAQIB_FILE_SYSCALL(fchown,
                   syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_CHOWN, ctx->args[0], 0, 0, 0, 0))
RAQIB_FILE_SYSCALL(fchownat,
                   syscall_enter(AT, RAQIB_FILE_CHOWN, ctx->args[0], ctx->args[1], 0, 0, 0))
RAQIB_FILE_SYSCALL(truncate, syscall_enter(AT, RAQIB_FILE_TRUNCATE, CWD, ctx->args[0], 0, 0, 0))
RAQIB_FILE_SYSCALL(ftruncate,
                   syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_TRUNCATE, ctx->args[0], 0, 0, 0, 0))

/* The attribute's name goes in name2; the exit keeps security.capability. */
RAQIB_FILE_SYSCALL(setxattr,
                   syscall_enter(AT, RAQIB_FILE_SETCAP, CWD, ctx->args[0], 0, ctx->args[1], 0))
RAQIB_FILE_SYSCALL(lsetxattr,
                   syscall_enter(AT, RAQIB_FILE_SETCAP, CWD, ctx->args[0], 0, ctx->args[1], 0))
RAQIB_FILE_SYSCALL(fsetxattr, syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_SETCAP, ctx->args[0], 0, 0,
                                            ctx->args[1], 0))
/* setxattrat(dfd, path, at_flags, name, struct xattr_args *, size) */
RAQIB_FILE_SYSCALL(setxattrat, syscall_enter(AT, RAQIB_FILE_SETCAP, ctx->args[0], ctx->args[1], 0,
                                             ctx->args[3], 0))

/* Mount changes, on their target; each also starts a new path generation. */
#define MOUNT RAQIB_FILE_MOUNT
/* mount(source, target, type, flags, data): the source is text (a device,
 * a file system's name, or a path for a bind mount). */
RAQIB_FILE_SYSCALL(mount, syscall_enter(RAQIB_RESOLVE_AT_TEXT, MOUNT, CWD, ctx->args[1], 0,
                                        ctx->args[0], 0))
RAQIB_FILE_SYSCALL(umount, syscall_enter(AT, RAQIB_FILE_UMOUNT, CWD, ctx->args[0], 0, 0, 0))
/* move_mount(from_dfd, from_path, to_dfd, to_path, flags) */
RAQIB_FILE_SYSCALL(move_mount, syscall_enter(RAQIB_RESOLVE_AT_AT, MOUNT, ctx->args[2], ctx->args[3],
                                             ctx->args[0], ctx->args[1], 0))
/* pivot_root(new_root, put_old) */
RAQIB_FILE_SYSCALL(pivot_root, syscall_enter(RAQIB_RESOLVE_AT_AT, MOUNT, CWD, ctx->args[0], CWD,
                                             ctx->args[1], 0))

/* A file mapped executable (not anonymous memory). */
RAQIB_FILE_SYSCALL(mmap,
                   if ((ctx->args[2] & 4) && !(ctx->args[3] & 0x20) && (long)ctx->args[4] >= 0)
                       syscall_enter(RAQIB_RESOLVE_FD, RAQIB_FILE_MMAP_EXEC, ctx->args[4], 0, 0, 0,
                                     0)) /* PROT_EXEC, MAP_ANONYMOUS */

/* ---- other entries: ia32, io_uring, open_by_handle_at (abi.bpf.h) ---- */
#include "abi.bpf.h"

/* ---- network (net.bpf.h) --------------------------------------------- */
#include "net.bpf.h"

/* ---- tamper evidence (tamper.bpf.h) ---------------------------------- */
#include "tamper.bpf.h"
