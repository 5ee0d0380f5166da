// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* The floor: no-op programs on exactly the hooks raqib.bpf.c uses. The
 * benchmark harness (benchmarks/raqib-bench) attaches them to measure what
 * any eBPF monitor on these hooks costs before it does any work. Keep the
 * hook list in step with raqib.bpf.c. The network hooks (cgroup programs,
 * attached to a cgroup rather than auto-attached) are not mirrored: the
 * floor covers the process and file hooks, which carry the load's events. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_process_exec")
int BPF_PROG(floor_exec, struct task_struct *task, pid_t old_pid, struct linux_binprm *bprm) {
  return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(floor_fork, struct task_struct *parent, struct task_struct *child) {
  return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(floor_exit, struct task_struct *task) {
  return 0;
}

#define FLOOR_SYSCALL(name)                                       \
  SEC("tracepoint/syscalls/sys_enter_" #name)                     \
  int floor_enter_##name(struct trace_event_raw_sys_enter *ctx) { \
    return 0;                                                     \
  }                                                               \
  SEC("tracepoint/syscalls/sys_exit_" #name)                      \
  int floor_exit_##name(struct trace_event_raw_sys_exit *ctx) {   \
    return 0;                                                     \
  }

FLOOR_SYSCALL(open)
FLOOR_SYSCALL(openat)
FLOOR_SYSCALL(openat2)
FLOOR_SYSCALL(creat)
FLOOR_SYSCALL(unlink)
FLOOR_SYSCALL(unlinkat)
FLOOR_SYSCALL(rmdir)
FLOOR_SYSCALL(rename)
FLOOR_SYSCALL(renameat)
FLOOR_SYSCALL(renameat2)
FLOOR_SYSCALL(link)
FLOOR_SYSCALL(linkat)
FLOOR_SYSCALL(symlink)
FLOOR_SYSCALL(symlinkat)
FLOOR_SYSCALL(chmod)
FLOOR_SYSCALL(fchmod)
FLOOR_SYSCALL(fchmodat)
FLOOR_SYSCALL(fchmodat2)
FLOOR_SYSCALL(chown)
FLOOR_SYSCALL(lchown)
FLOOR_SYSCALL(fchown)
FLOOR_SYSCALL(fchownat)
FLOOR_SYSCALL(truncate)
FLOOR_SYSCALL(ftruncate)
FLOOR_SYSCALL(setxattr)
FLOOR_SYSCALL(lsetxattr)
FLOOR_SYSCALL(fsetxattr)
FLOOR_SYSCALL(setxattrat)
FLOOR_SYSCALL(mmap)
FLOOR_SYSCALL(open_by_handle_at)

/* Namespace changes: their exits only. */
SEC("tracepoint/syscalls/sys_exit_unshare")
int floor_unshare(struct trace_event_raw_sys_exit *ctx) {
  return 0;
}

SEC("tracepoint/syscalls/sys_exit_setns")
int floor_setns(struct trace_event_raw_sys_exit *ctx) {
  return 0;
}

/* abi.bpf.h: the ia32 ABI on raw sys_exit (every syscall), and io_uring
 * submissions, completions and completions that overflowed. */
SEC("tp_btf/sys_exit")
int BPF_PROG(floor_compat_exit, struct pt_regs *regs, long ret) {
  return 0;
}

SEC("tp_btf/io_uring_complete")
int BPF_PROG(floor_uring_complete, struct io_ring_ctx *ring, void *req, struct io_uring_cqe *cqe) {
  return 0;
}

SEC("tp_btf/io_uring_submit_req")
int BPF_PROG(floor_uring_submit, struct io_kiocb *req) {
  return 0;
}

SEC("tp_btf/io_uring_cqe_overflow")
int BPF_PROG(floor_uring_overflow, void *ring, __u64 user_data, __s32 res, __u32 cflags,
             void *ocqe) {
  return 0;
}
