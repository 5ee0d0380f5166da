// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The raqib BPF object: kernel hooks that record behaviour into the bounded,
 * epoch-paired activity maps of maps.bpf.h. The core drains them. */
#include "common.bpf.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ---- processes ------------------------------------------------------- */

/* The epoch's entry for tgid, created from the task's current facts when the
 * epoch has none yet. NULL when the map is full (counted). */
static __always_inline struct raqib_proc *proc_entry(struct task_struct *task, __u32 tgid) {
  void *inner = current_epoch(&exec_activity);
  if (!inner) return NULL;
  struct raqib_proc *rec = bpf_map_lookup_elem(inner, &tgid);
  if (rec) {
    count_map(RAQIB_MAP_PROC, RAQIB_CNT_UPDATE);
    return rec;
  }
  struct raqib_scratch *sc = get_scratch();
  if (!sc) return NULL;
  struct raqib_proc *p = &sc->proc;
  __builtin_memset(p, 0, sizeof(*p));
  p->hdr.kind = RAQIB_REC_PROC;
  p->hdr.version = RAQIB_RECORD_VERSION;
  p->hdr.size = sizeof(*p);
  p->tgid = tgid;
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
  long err = bpf_map_update_elem(inner, &tgid, p, BPF_NOEXIST);
  if (err == 0)
    count_map(RAQIB_MAP_PROC, RAQIB_CNT_INSERT);
  else if (err != -EEXIST) {
    count_map(RAQIB_MAP_PROC, RAQIB_CNT_FAILED);
    return NULL;
  }
  return bpf_map_lookup_elem(inner, &tgid);
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

SEC("tp_btf/sched_process_exec")
int BPF_PROG(raqib_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  __u32 tgid = task->tgid;
  if (tgid == self_tgid) return 0;
  struct raqib_proc *rec = proc_entry(task, tgid);
  struct raqib_scratch *sc = get_scratch();
  if (!rec || !sc) return 0;

  resolve_path(&bprm->file->f_path, sc);
  __u64 hash = hash_string(&sc->str);
  put_string(hash, &sc->str);

  rec->exe_hash = hash;
  rec->exec_ns = bpf_ktime_get_boot_ns();
  rec->uid = task->cred->uid.val;
  rec->euid = task->cred->euid.val;
  rec->gid = task->cred->gid.val;
  rec->flags |= RAQIB_PROC_EXECED;
  rec->flags &= ~(RAQIB_PROC_ARGS_TRUNCATED | RAQIB_PROC_EXE_DELETED);
  if (BPF_CORE_READ(bprm, file, f_path.dentry, d_inode, i_nlink) == 0)
    rec->flags |= RAQIB_PROC_EXE_DELETED;
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

/* ---- file opens ------------------------------------------------------ */

static __always_inline void open_enter(__u64 filename, __u32 flags) {
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return;
  struct task_struct *task = bpf_get_current_task_btf();
  struct raqib_open_args *a =
      bpf_task_storage_get(&open_args, task, NULL, BPF_LOCAL_STORAGE_GET_F_CREATE);
  if (!a) return;
  a->filename = filename;
  a->flags = flags;
  a->active = 1;
}

static __always_inline __u32 open_actions(__u32 flags) {
  __u32 actions = RAQIB_FILE_OPEN;
  switch (flags & 3) { /* O_ACCMODE */
    case 0: actions |= RAQIB_FILE_READ; break;
    case 1: actions |= RAQIB_FILE_WRITE; break;
    case 2: actions |= RAQIB_FILE_READ | RAQIB_FILE_WRITE; break;
  }
  if (flags & 0100) actions |= RAQIB_FILE_CREATE;   /* O_CREAT */
  if (flags & 01000) actions |= RAQIB_FILE_TRUNCATE; /* O_TRUNC */
  return actions;
}

/* Count one occurrence of (tgid, path, actions, error) in the current epoch. */
static __always_inline void record_file(__u32 tgid, struct raqib_string *s, __u32 actions,
                                        __s32 error) {
  void *inner = current_epoch(&file_activity);
  if (!inner) return;
  struct raqib_file_key key = {};
  key.path_hash = hash_string(s);
  key.tgid = tgid;
  key.actions = actions;
  key.error = error;
  __u64 now = bpf_ktime_get_boot_ns();

  struct raqib_file_value *v = bpf_map_lookup_elem(inner, &key);
  if (!v) {
    struct raqib_file_value init = {.count = 1, .first_ns = now, .last_ns = now};
    long err = bpf_map_update_elem(inner, &key, &init, BPF_NOEXIST);
    if (err == 0) {
      count_map(RAQIB_MAP_FILE, RAQIB_CNT_INSERT);
      put_string(key.path_hash, s);
      return;
    }
    if (err != -EEXIST) {
      count_map(RAQIB_MAP_FILE, RAQIB_CNT_FAILED);
      return;
    }
    v = bpf_map_lookup_elem(inner, &key); /* another CPU inserted it first */
    if (!v) return;
  }
  __sync_fetch_and_add(&v->count, 1);
  v->last_ns = now;
  count_map(RAQIB_MAP_FILE, RAQIB_CNT_UPDATE);
}

static __always_inline void open_exit(long ret) {
  struct task_struct *task = bpf_get_current_task_btf();
  struct raqib_open_args *a = bpf_task_storage_get(&open_args, task, NULL, 0);
  if (!a || !a->active) return;
  a->active = 0;
  struct raqib_scratch *sc = get_scratch();
  if (!sc) return;
  __u32 tgid = bpf_get_current_pid_tgid() >> 32;

  if (ret >= 0) {
    struct file **fds = BPF_CORE_READ(task, files, fdt, fd);
    struct file *file = NULL;
    bpf_probe_read_kernel(&file, sizeof(file), &fds[ret]);
    if (!file) return;
    resolve_path(&file->f_path, sc);
    record_file(tgid, &sc->str, open_actions(a->flags), 0);
    return;
  }
  /* Failed: the kernel resolved nothing; keep the name as it was passed. */
  long n = bpf_probe_read_user_str(sc->str.str, RAQIB_PATH_MAX, (void *)a->filename);
  sc->str.len = n > 0 ? n - 1 : 0;
  sc->str.flags = RAQIB_STR_UNRESOLVED;
  pad_string(&sc->str);
  record_file(tgid, &sc->str, open_actions(a->flags), (__s32)ret);
}

SEC("tracepoint/syscalls/sys_enter_openat")
int raqib_enter_openat(struct trace_event_raw_sys_enter *ctx) {
  open_enter(ctx->args[1], ctx->args[2]);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_openat2")
int raqib_enter_openat2(struct trace_event_raw_sys_enter *ctx) {
  struct open_how how = {};
  bpf_probe_read_user(&how, sizeof(how), (void *)ctx->args[2]);
  open_enter(ctx->args[1], how.flags);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_open")
int raqib_enter_open(struct trace_event_raw_sys_enter *ctx) {
  open_enter(ctx->args[0], ctx->args[1]);
  return 0;
}

SEC("tracepoint/syscalls/sys_enter_creat")
int raqib_enter_creat(struct trace_event_raw_sys_enter *ctx) {
  open_enter(ctx->args[0], 01 | 0100 | 01000); /* O_WRONLY | O_CREAT | O_TRUNC */
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int raqib_exit_openat(struct trace_event_raw_sys_exit *ctx) {
  open_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int raqib_exit_openat2(struct trace_event_raw_sys_exit *ctx) {
  open_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_open")
int raqib_exit_open(struct trace_event_raw_sys_exit *ctx) {
  open_exit(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_creat")
int raqib_exit_creat(struct trace_event_raw_sys_exit *ctx) {
  open_exit(ctx->ret);
  return 0;
}

/* ---- network (net.bpf.h) --------------------------------------------- */
#include "net.bpf.h"
