/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Tamper evidence: what other processes do to raqib itself. bpf() calls
 * that reach raqib's maps, programs or links (matched by the ids the core
 * registers in raqib_objects at start), every BPF program load, ptrace,
 * process_vm_readv/writev, pidfd_getfd and signals aimed at the daemon. Each move is one
 * entry of tamper_activity per (actor, move, detail, object type) and epoch;
 * the core drains it into "tamper" records (core/tamper.cpp). Included by
 * raqib.bpf.c. */
#ifndef RAQIB_TAMPER_BPF_H
#define RAQIB_TAMPER_BPF_H

/* raqib_objects: raqib_object_key -> 1 for every map, program and link of
 * raqib, written by the core before its privileges drop. Bound: 1024 (the
 * object has about 70 programs and links and 25 maps). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 1024);
  __type(key, struct raqib_object_key);
  __type(value, __u32);
} raqib_objects SEC(".maps");

/* tamper_activity: raqib_tamper_key -> raqib_tamper_value. Bound: config
 * [tamper] map_entries; a full map counts RAQIB_MAP_TAMPER failed. */
RAQIB_EPOCH_PAIR(tamper_activity, struct raqib_tamper_key, struct raqib_tamper_value, 1024);

/* Count one move of the current process in the current epoch: one entry
 * per actor, move, detail and object (all of a kind's objects for fds got
 * by id, the value naming the last). */
static __always_inline struct raqib_tamper_value *record_tamper(__u32 move, __u32 detail,
                                                               __u32 object_type, __u32 object_id,
                                                               __u32 attach_type,
                                                               const char *name) {
  struct raqib_tamper_key key = {};
  key.tgid = bpf_get_current_pid_tgid() >> 32;
  key.move = move;
  key.detail = detail;
  key.object_type = object_type;
  key.object_id = move == RAQIB_TAMPER_BPF_GET_FD ? 0 : object_id;
  __u64 now = bpf_ktime_get_boot_ns();
  void *inner = current_epoch(&tamper_activity);
  if (!inner) return NULL;
  struct raqib_tamper_value *v = bpf_map_lookup_elem(inner, &key);
  if (!v) {
    struct raqib_tamper_value init = {.first_ns = now};
    long err = bpf_map_update_elem(inner, &key, &init, BPF_NOEXIST);
    if (err != 0 && err != -EEXIST) {
      count_map(RAQIB_MAP_TAMPER, RAQIB_CNT_FAILED);
      return NULL;
    }
    if (err == 0) count_map(RAQIB_MAP_TAMPER, RAQIB_CNT_INSERT);
    v = bpf_map_lookup_elem(inner, &key);
    if (!v) return NULL;
  } else {
    count_map(RAQIB_MAP_TAMPER, RAQIB_CNT_UPDATE);
  }
  __sync_fetch_and_add(&v->count, 1);
  v->last_ns = now;
  v->object_id = object_id;
  v->attach_type = attach_type;
  if (name) bpf_probe_read_user(v->name, sizeof(v->name), name);
  return v;
}

static __always_inline bool is_raqib_object(__u32 type, __u32 id) {
  struct raqib_object_key key = {.type = type, .id = id};
  return bpf_map_lookup_elem(&raqib_objects, &key) != NULL;
}

/* The id of the BPF object of type that fd is in the current task's table,
 * or 0 when fd is not one. BPF objects are anonymous-inode files named
 * "bpf-map", "bpf-prog" and "bpf_link" or "bpf-link"; their private data is
 * the object. */
static __always_inline __u32 bpf_fd_object_id(long fd, __u32 type) {
  struct task_struct *task = bpf_get_current_task_btf();
  if (fd < 0 || fd >= BPF_CORE_READ(task, files, fdt, max_fds)) return 0;
  struct file *file = fd_file(task, fd);
  if (!file) return 0;
  char name[9] = {};
  bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
  void *priv = BPF_CORE_READ(file, private_data);
  switch (type) {
    case RAQIB_OBJ_MAP:
      if (name[0] != 'b' || name[3] != '-' || name[4] != 'm' || name[7] != 0) return 0;
      return BPF_CORE_READ((struct bpf_map *)priv, id);
    case RAQIB_OBJ_PROG:
      if (name[0] != 'b' || name[3] != '-' || name[4] != 'p' || name[8] != 0) return 0;
      return BPF_CORE_READ((struct bpf_prog *)priv, aux, id);
    default:
      /* "bpf_link" as created, "bpf-link" as got by id */
      if (name[0] != 'b' || (name[3] != '_' && name[3] != '-') || name[4] != 'l' || name[8] != 0)
        return 0;
      return BPF_CORE_READ((struct bpf_link *)priv, id);
  }
}

/* A u32 of the bpf() call's attribute union, from user memory. */
static __always_inline __u32 attr_u32(const void *attr, __u32 offset) {
  __u32 v = 0;
  bpf_probe_read_user(&v, sizeof(v), (const char *)attr + offset);
  return v;
}

/* The move when the call's object (named by id, or through an fd) is raqib's. */
static __always_inline void bpf_object_move(__u32 cmd, __u32 move, __u32 type, __u32 id) {
  if (id && is_raqib_object(type, id)) record_tamper(move, cmd, type, id, 0, NULL);
}

#define RAQIB_ATTR(field) offsetof(union bpf_attr, field)

SEC("tracepoint/syscalls/sys_enter_bpf")
int raqib_tamper_bpf(struct trace_event_raw_sys_enter *ctx) {
  if ((bpf_get_current_pid_tgid() >> 32) == self_tgid) return 0;
  __u32 cmd = ctx->args[0];
  const void *attr = (const void *)ctx->args[1];
  switch (cmd) {
    case BPF_MAP_GET_FD_BY_ID:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_GET_FD, RAQIB_OBJ_MAP,
                      attr_u32(attr, RAQIB_ATTR(map_id)));
      break;
    case BPF_PROG_GET_FD_BY_ID:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_GET_FD, RAQIB_OBJ_PROG,
                      attr_u32(attr, RAQIB_ATTR(prog_id)));
      break;
    case BPF_LINK_GET_FD_BY_ID:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_GET_FD, RAQIB_OBJ_LINK,
                      attr_u32(attr, RAQIB_ATTR(link_id)));
      break;
    case BPF_MAP_LOOKUP_ELEM:
    case BPF_MAP_GET_NEXT_KEY:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_MAP_READ, RAQIB_OBJ_MAP,
                      bpf_fd_object_id(attr_u32(attr, RAQIB_ATTR(map_fd)), RAQIB_OBJ_MAP));
      break;
    case BPF_MAP_UPDATE_ELEM:
    case BPF_MAP_DELETE_ELEM:
    case BPF_MAP_LOOKUP_AND_DELETE_ELEM:
    case BPF_MAP_FREEZE:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_MAP_WRITE, RAQIB_OBJ_MAP,
                      bpf_fd_object_id(attr_u32(attr, RAQIB_ATTR(map_fd)), RAQIB_OBJ_MAP));
      break;
    case BPF_MAP_LOOKUP_BATCH:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_MAP_READ, RAQIB_OBJ_MAP,
                      bpf_fd_object_id(attr_u32(attr, RAQIB_ATTR(batch.map_fd)), RAQIB_OBJ_MAP));
      break;
    case BPF_MAP_LOOKUP_AND_DELETE_BATCH:
    case BPF_MAP_UPDATE_BATCH:
    case BPF_MAP_DELETE_BATCH:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_MAP_WRITE, RAQIB_OBJ_MAP,
                      bpf_fd_object_id(attr_u32(attr, RAQIB_ATTR(batch.map_fd)), RAQIB_OBJ_MAP));
      break;
    case BPF_LINK_DETACH:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_DETACH, RAQIB_OBJ_LINK,
                      bpf_fd_object_id(attr_u32(attr, RAQIB_ATTR(link_detach.link_fd)),
                                       RAQIB_OBJ_LINK));
      break;
    case BPF_LINK_UPDATE:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_DETACH, RAQIB_OBJ_LINK,
                      bpf_fd_object_id(attr_u32(attr, RAQIB_ATTR(link_update.link_fd)),
                                       RAQIB_OBJ_LINK));
      break;
    case BPF_PROG_DETACH:
      bpf_object_move(cmd, RAQIB_TAMPER_BPF_DETACH, RAQIB_OBJ_PROG,
                      bpf_fd_object_id(attr_u32(attr, RAQIB_ATTR(attach_bpf_fd)), RAQIB_OBJ_PROG));
      break;
    case BPF_PROG_LOAD:
      record_tamper(RAQIB_TAMPER_BPF_PROG_LOAD, attr_u32(attr, RAQIB_ATTR(prog_type)), 0, 0,
                    attr_u32(attr, RAQIB_ATTR(expected_attach_type)),
                    (const char *)attr + RAQIB_ATTR(prog_name));
      break;
    default:
      break;
  }
  return 0;
}

/* ---- the daemon's process ------------------------------------------- */

/* raqib_threads: tid -> 1 for every thread of the daemon but its main one
 * (they start after the load, from the core's plugin host). Bound: 4096; a
 * thread beyond is not recognised as raqib's (counted RAQIB_MAP_TAMPER
 * failed). */
struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, 4096);
  __type(key, __u32);
  __type(value, __u32);
} raqib_threads SEC(".maps");

SEC("tp_btf/task_newtask")
int BPF_PROG(raqib_tamper_newtask, struct task_struct *task, __u64 clone_flags) {
  if (task->tgid != self_tgid || task->pid == self_tgid) return 0;
  __u32 tid = task->pid, one = 1;
  if (bpf_map_update_elem(&raqib_threads, &tid, &one, BPF_ANY) != 0)
    count_map(RAQIB_MAP_TAMPER, RAQIB_CNT_FAILED);
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(raqib_tamper_thread_exit, struct task_struct *task) {
  if (task->tgid != self_tgid) return 0;
  __u32 tid = task->pid;
  bpf_map_delete_elem(&raqib_threads, &tid);
  return 0;
}

/* pid (a kernel, initial-namespace id) is a thread of the daemon. */
static __always_inline bool is_raqib_task(__u32 pid) {
  return pid == self_tgid || bpf_map_lookup_elem(&raqib_threads, &pid) != NULL;
}

static __always_inline bool from_self(void) {
  return (bpf_get_current_pid_tgid() >> 32) == self_tgid;
}

/* Whether the kfunc bpf_task_from_vpid (Linux 6.13 and later) loads here:
 * set by the core from its probe (core/features.cpp). Both kfuncs are weak:
 * on a kernel without them libbpf leaves the calls unresolved and the
 * verifier drops them as dead code, this constant being 0. */
const volatile __u32 resolve_vpid = 0;
extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

/* The kernel id of the daemon's thread that vpid names in the calling
 * process's pid namespace (as ptrace and process_vm_* read their argument),
 * or 0: the daemon is matched by identity, whatever number the caller's
 * namespace gives it. Without the kfunc, the number is compared with the
 * daemon's kernel ids, for a caller in the initial pid namespace only
 * (elsewhere the number is of another namespace: it could be an unrelated
 * process's). */
static __always_inline __u32 raqib_thread_named(__s32 vpid) {
  if (vpid <= 0) return 0;
  if (!resolve_vpid) {
    if (BPF_CORE_READ(bpf_get_current_task_btf(), thread_pid, level) != 0) return 0;
    return is_raqib_task(vpid) ? vpid : 0;
  }
  struct task_struct *task = bpf_task_from_vpid(vpid);
  if (!task) return 0;
  __u32 tid = task->tgid == self_tgid ? task->pid : 0;
  bpf_task_release(task);
  return tid;
}

#define RAQIB_PTRACE_TRACEME 0
#define RAQIB_PID_FS_MAGIC 0x50494446

/* The kernel id of the thread or process a pidfd of the calling process
 * refers to, or 0 when fd is no pidfd (pidfs: the inode's private data is
 * the struct pid). */
static __always_inline __u32 pidfd_target(long fd) {
  struct file *file = fd_file(bpf_get_current_task_btf(), fd);
  if (!file) return 0;
  struct inode *inode = BPF_CORE_READ(file, f_inode);
  if (BPF_CORE_READ(inode, i_sb, s_magic) != RAQIB_PID_FS_MAGIC) return 0;
  struct pid *pid = BPF_CORE_READ(inode, i_private);
  return pid ? BPF_CORE_READ(pid, numbers[0].nr) : 0;
}

/* The BPF object an fd of the calling process is (its type into *type), or
 * 0. */
static __always_inline __u32 bpf_fd_object(long fd, __u32 *type) {
  for (__u32 t = RAQIB_OBJ_MAP; t <= RAQIB_OBJ_LINK; t++) {
    __u32 id = bpf_fd_object_id(fd, t);
    if (id) {
      *type = t;
      return id;
    }
  }
  return 0;
}

/* The system calls tamper_syscall_exit records. */
enum raqib_tamper_call {
  RAQIB_CALL_NONE,
  RAQIB_CALL_INIT_MODULE,
  RAQIB_CALL_FINIT_MODULE,
  RAQIB_CALL_PTRACE,
  RAQIB_CALL_VM_READV,
  RAQIB_CALL_VM_WRITEV,
  RAQIB_CALL_PIDFD_GETFD,
};

/* x86-64 numbers, and ia32 ones offset by 1000 (one switch for both). */
static __always_inline enum raqib_tamper_call tamper_call(bool compat, long id) {
  if (id == 438) return RAQIB_CALL_PIDFD_GETFD; /* the same number on both */
  switch (compat ? id + 1000 : id) {
    case 175:
    case 1128:
      return RAQIB_CALL_INIT_MODULE;
    case 313:
    case 1350:
      return RAQIB_CALL_FINIT_MODULE;
    case 101:
    case 1026:
      return RAQIB_CALL_PTRACE;
    case 310:
    case 1347:
      return RAQIB_CALL_VM_READV;
    case 311:
    case 1348:
      return RAQIB_CALL_VM_WRITEV;
    default:
      return RAQIB_CALL_NONE;
  }
}

/* The system calls on the daemon's process that name it by a number of
 * the caller's (ptrace, process_vm_*) or through a pidfd (pidfd_getfd):
 * called from the syscall exit program of abi.bpf.h, which sees every
 * syscall with its first two arguments (a0, a1) and its result, so no
 * tracepoint of their own runs, and a tp_btf program may resolve the number
 * in the caller's pid namespace (bpf_task_from_vpid, where the kernel has
 * it: raqib_thread_named). Refused calls are
 * recorded too. Kernel module loads come here as well: the init_module and
 * finit_module tracepoints exist only on kernels with loadable modules.
 * Every other syscall costs the compares of tamper_call. True when id was
 * one of them. */
static __always_inline bool tamper_syscall_exit(bool compat, long id, __u64 a0, __u64 a1,
                                                long ret) {
  enum raqib_tamper_call call = tamper_call(compat, id);
  if (call == RAQIB_CALL_NONE) return false;
  if (from_self()) return true;
  __u32 tid, type = 0;
  switch (call) {
    case RAQIB_CALL_INIT_MODULE:
    case RAQIB_CALL_FINIT_MODULE: {
      /* detail: 0 init_module, 1 finit_module (object_id: its fd) */
      __u32 finit = call == RAQIB_CALL_FINIT_MODULE;
      record_tamper(RAQIB_TAMPER_MODULE_LOAD, finit, 0, finit ? (__s32)a0 : 0, 0, NULL);
      break;
    }
    case RAQIB_CALL_PTRACE:
      if (a0 != RAQIB_PTRACE_TRACEME && (tid = raqib_thread_named(a1)))
        record_tamper(RAQIB_TAMPER_PTRACE, a0, 0, tid, 0, NULL);
      break;
    case RAQIB_CALL_VM_READV:
    case RAQIB_CALL_VM_WRITEV:
      if ((tid = raqib_thread_named(a0)))
        record_tamper(RAQIB_TAMPER_PROCESS_VM, call == RAQIB_CALL_VM_WRITEV, 0, tid, 0, NULL);
      break;
    case RAQIB_CALL_PIDFD_GETFD: {
      tid = pidfd_target((__s32)a0);
      if (!tid || !is_raqib_task(tid)) break;
      /* detail: the daemon's fd; object: the BPF object it is, if one */
      __u32 taken = ret >= 0 ? bpf_fd_object(ret, &type) : 0;
      struct raqib_tamper_value *v =
          record_tamper(RAQIB_TAMPER_PIDFD_GETFD, (__u32)a1, type, tid, 0, NULL);
      if (v) v->taken_id = taken;
      break;
    }
    default:
      break;
  }
  return true;
}

#define RAQIB_SI_USER 0
#define RAQIB_SI_QUEUE (-1)
#define RAQIB_SI_TKILL (-6)
#define RAQIB_SEND_SIG_PRIV 1

/* A signal to any thread of the daemon sent by another process: kill,
 * tkill, tgkill, rt_sigqueueinfo, pidfd_send_signal all come here. Signals
 * the kernel raises (a child's exit, a timer, SIGIO, the OOM killer) have
 * no sender to name and are left out: only user si_codes are kept. */
SEC("tp_btf/signal_generate")
int BPF_PROG(raqib_tamper_signal, int sig, struct kernel_siginfo *info, struct task_struct *task,
             int type, int result) {
  if (task->tgid != self_tgid || from_self()) return 0;
  if ((__u64)info == RAQIB_SEND_SIG_PRIV) return 0;
  int code = info ? BPF_CORE_READ(info, si_code) : RAQIB_SI_USER;
  if (code != RAQIB_SI_USER && code != RAQIB_SI_QUEUE && code != RAQIB_SI_TKILL) return 0;
  record_tamper(RAQIB_TAMPER_SIGNAL, sig, 0, task->pid, 0, NULL);
  return 0;
}

#define RAQIB_PROC_SUPER_MAGIC 0x9fa0

/* At an open's exit: the file opened is /proc/<pid>/mem or
 * /proc/<pid>/task/<tid>/mem of a thread of the daemon (procfs, named
 * "mem", its proc inode's pid one of raqib's: whatever path, mount or pid
 * namespace reached it). */
static __always_inline void proc_mem_opened(long ret) {
  if (ret < 0 || from_self()) return;
  struct file *file = fd_file(bpf_get_current_task_btf(), ret);
  if (!file) return;
  struct inode *inode = BPF_CORE_READ(file, f_inode);
  if (BPF_CORE_READ(inode, i_sb, s_magic) != RAQIB_PROC_SUPER_MAGIC) return;
  char name[4] = {};
  bpf_probe_read_kernel(name, sizeof(name), BPF_CORE_READ(file, f_path.dentry, d_name.name));
  if (name[0] != 'm' || name[1] != 'e' || name[2] != 'm' || name[3] != 0) return;
  struct proc_inode *pi = container_of(inode, struct proc_inode, vfs_inode);
  __u32 pid = BPF_CORE_READ(pi, pid, numbers[0].nr);
  if (is_raqib_task(pid))
    record_tamper(RAQIB_TAMPER_PROC_MEM, BPF_CORE_READ(file, f_mode) & 3, 0, pid, 0, NULL);
}

SEC("tracepoint/syscalls/sys_exit_open")
int raqib_tamper_open_exit(struct trace_event_raw_sys_exit *ctx) {
  proc_mem_opened(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat")
int raqib_tamper_openat_exit(struct trace_event_raw_sys_exit *ctx) {
  proc_mem_opened(ctx->ret);
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_openat2")
int raqib_tamper_openat2_exit(struct trace_event_raw_sys_exit *ctx) {
  proc_mem_opened(ctx->ret);
  return 0;
}

#endif /* RAQIB_TAMPER_BPF_H */
