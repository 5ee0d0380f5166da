// SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause)
/* Feature probe: one trivial program per hook type raqib could use, and per
 * kfunc it calls where the kernel has it. The core loads and attaches each
 * alone (core/features.cpp) to learn what this kernel allows; none of them
 * records anything. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tp_btf/sched_process_exec")
int BPF_PROG(probe_tp_btf) { return 0; }

SEC("raw_tp/sched_process_exec")
int probe_raw_tp(void *ctx) { return 0; }

SEC("tracepoint/syscalls/sys_enter_openat")
int probe_tracepoint(void *ctx) { return 0; }

SEC("fentry/do_sys_openat2")
int BPF_PROG(probe_fentry) { return 0; }

SEC("lsm/file_open")
int BPF_PROG(probe_lsm) { return 0; }

SEC("kprobe/do_sys_openat2")
int probe_kprobe(void *ctx) { return 0; }

/* Weak: a kernel without them (before 6.13) fails this program only. */
extern struct task_struct *bpf_task_from_vpid(s32 vpid) __ksym __weak;
extern void bpf_task_release(struct task_struct *p) __ksym __weak;

SEC("tp_btf/sys_exit")
int BPF_PROG(probe_task_from_vpid) {
  struct task_struct *task = bpf_task_from_vpid(1);
  if (task) bpf_task_release(task);
  return 0;
}

SEC("cgroup_skb/egress")
int probe_cgroup_skb(struct __sk_buff *skb) { return 1; }

SEC("cgroup/connect4")
int probe_cgroup_connect(struct bpf_sock_addr *ctx) { return 1; }

struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} probe_ringbuf SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, int);
} probe_task_storage SEC(".maps");
