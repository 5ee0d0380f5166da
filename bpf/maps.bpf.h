/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Every map of the raqib BPF object, with what it holds, its key and bound.
 * Sizes marked "config" are set by the core between open and load. */
#ifndef RAQIB_MAPS_BPF_H
#define RAQIB_MAPS_BPF_H

#include "raqib/records.h"

/* Activity maps come in pairs behind a one-slot map-of-maps: programs write
 * into whichever inner map the slot holds; the core swaps the slot to the
 * idle map (the kernel waits for running programs to finish before the
 * update returns) and drains the map it swapped out, which nothing writes
 * any more. */
#define RAQIB_EPOCH_PAIR_OF(name, key_t, value_t, default_entries, flags)         \
  struct name##_inner {                                                            \
    __uint(type, BPF_MAP_TYPE_HASH);                                               \
    __uint(map_flags, flags);                                                      \
    __uint(max_entries, default_entries);                                          \
    __type(key, key_t);                                                            \
    __type(value, value_t);                                                        \
  };                                                                               \
  struct name##_inner name##_a SEC(".maps"), name##_b SEC(".maps");                \
  struct {                                                                         \
    __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);                                      \
    __uint(max_entries, 1);                                                        \
    __type(key, __u32);                                                            \
    __array(values, struct name##_inner);                                          \
  } name SEC(".maps") = {.values = {&name##_a}}
#define RAQIB_EPOCH_PAIR(name, key_t, value_t, default_entries) \
  RAQIB_EPOCH_PAIR_OF(name, key_t, value_t, default_entries, 0)
/* A watched lane's pair: allocated as it fills, as few acts are watched. */
#define RAQIB_LANE_PAIR(name, key_t, value_t, entries) \
  RAQIB_EPOCH_PAIR_OF(name, key_t, value_t, entries, BPF_F_NO_PREALLOC)

/* exec_activity: raqib_image -> raqib_proc, every fork/exec/exit of the
 * epoch merged per process image (an exec starts a new entry). Bound:
 * config [exec] map_entries. */
RAQIB_EPOCH_PAIR(exec_activity, struct raqib_image, struct raqib_proc, 16384);

/* file_activity: raqib_file_key -> raqib_file_value. Bound: config
 * [file_access] map_entries. */
RAQIB_EPOCH_PAIR(file_activity, struct raqib_file_key, struct raqib_file_value, 16384);

/* strings: keyed path hash -> the path, stored once. LRU: a string is
 * refreshed whenever a new activity entry names it, and the core caches
 * every string it has read. Bound: config [strings] map_entries. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 16384);
  __type(key, __u64);
  __type(value, struct raqib_string);
} strings SEC(".maps");

/* events: the ring-buffer transport's stream of raqib_file_event. Bound:
 * config [core] ringbuf_bytes. Unused (and minimal) on the query transport. */
struct {
  __uint(type, BPF_MAP_TYPE_RINGBUF);
  __uint(max_entries, 4096);
} events SEC(".maps");

/* path_cache: the path hash of a file by (dentry, mount), so repeated
 * opens of one file skip the walk and the hash. An entry is used only while
 * its generation is current (renames and mount changes start a new one)
 * and the dentry still has the parent, inode and name it had (a freed
 * dentry reused for another file fails that). Bound: 8192, LRU. */
struct raqib_path_cache_key {
  __u64 dentry;
  __u64 mnt;
};
struct raqib_path_cache_val {
  __u64 path_hash;
  __u64 generation;
  __u64 parent;    /* the dentry's d_parent when cached */
  __u64 inode;     /* its d_inode */
  __u64 name_hash; /* its d_name.hash_len */
  __u32 path_flags;
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, struct raqib_path_cache_key);
  __type(value, struct raqib_path_cache_val);
} path_cache SEC(".maps");

/* path_generation: bumped by every successful rename and mount change,
 * which can change the path of files already cached. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, __u64);
} path_generation SEC(".maps");

/* map_counters: enum raqib_map_id -> inserts, updates, failed inserts. */
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, RAQIB_MAP_COUNT);
  __type(key, __u32);
  __type(value, struct raqib_map_counters);
} map_counters SEC(".maps");

/* State of one path walk (common.bpf.h resolve_path), step to step. */
struct raqib_walk {
  struct dentry *dentry;
  struct vfsmount *vfsmnt;
  struct mount *mnt;
  __u32 off; /* the path built so far is scratch.walk[off .. RAQIB_PATH_MAX) */
  __u32 flags;
};

/* scratch: per-CPU working space too large for the 512-byte BPF stack. */
struct raqib_scratch {
  struct raqib_walk w;
  struct raqib_string str;
  char walk[RAQIB_PATH_MAX + 256];
  char join[2 * RAQIB_PATH_MAX]; /* a directory and a name, joined */
  struct raqib_file_event event;  /* the ring-buffer transport's record */
  struct raqib_proc proc;
  /* The RAQIB_PROC_* facts of the exec being recorded, kept here rather
   * than on the stack: the verifier then checks the rest of the program
   * once, not once per combination of them. */
  __u32 exec_facts;
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_scratch);
} scratch SEC(".maps");

/* How a file syscall's path is found at its exit (struct raqib_syscall_args). */
enum raqib_resolve {
  RAQIB_RESOLVE_OPENED = 1,  /* the fd the call returned */
  RAQIB_RESOLVE_FD = 2,      /* the fd argument */
  RAQIB_RESOLVE_AT = 3,      /* dfd + name */
  RAQIB_RESOLVE_AT_AT = 4,   /* dfd + name, and dfd2 + name2 as the other path */
  RAQIB_RESOLVE_AT_TEXT = 5, /* dfd + name, and the text name2 as the other path */
};

/* syscall_args: per-task arguments of a file syscall in flight, from its
 * entry tracepoint to its exit. Freed with the task. */
#define RAQIB_NAME_INLINE 256 /* a path name up to this long is kept here, not in syscall_names */
struct raqib_syscall_args {
  __u64 name;  /* user pointer */
  __u64 name2; /* user pointer: the other name (rename, link), a symlink's text,
                  an xattr's name, openat2's struct open_how */
  __s32 dfd;   /* directory fd of name (AT_FDCWD), or the fd argument */
  __s32 dfd2;
  __u32 flags;   /* open flags */
  __u32 actions; /* enum raqib_file_act recorded; opens derive it from flags */
  __u32 resolve; /* enum raqib_resolve */
  __u32 active;
  __u32 kept; /* which names the entry kept, and where (syscall_names.bpf.h) */
  __u32 _pad;
  struct raqib_inode_id touched; /* a watched file the syscall changed (touched_inode) */
  __u32 touched_gone;            /* ... and removed its last name */
  __u32 _pad2;
  char name_copy[RAQIB_NAME_INLINE]; /* the path name, when shorter, copied at the entry */
};
struct {
  __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __type(key, int);
  __type(value, struct raqib_syscall_args);
} syscall_args SEC(".maps");

/* ---- network ---------------------------------------------------------- */

/* peers: raqib_peer_key -> raqib_peer_value, connects and accepts. Bound:
 * config [network_peers] map_entries. */
RAQIB_EPOCH_PAIR(peers, struct raqib_peer_key, struct raqib_peer_value, 16384);

/* flows: raqib_flow_key -> raqib_flow_value, bytes, packets and TCP state per
 * 5-tuple. Bound: config [network_flows] map_entries. */
RAQIB_EPOCH_PAIR(flows, struct raqib_flow_key, struct raqib_flow_value, 16384);

/* dns: raqib_dns_key -> raqib_dns_value, questions and answers. Bound: config
 * [dns] map_entries. */
RAQIB_EPOCH_PAIR(dns, struct raqib_dns_key, struct raqib_dns_value, 4096);

/* sock_owner: socket cookie -> the process that created, connected, sent on
 * or accepted it last. LRU: sockets are not seen to die; 4 per flow entry. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 65536);
  __type(key, __u64);
  __type(value, struct raqib_sock_owner);
} sock_owner SEC(".maps");

/* connect_inflight: thread (pid_tgid) -> the peer key of its connect() in
 * flight, from the cgroup connect hook to the syscall's exit, where a failure
 * is added to the peer. LRU: a connect whose exit is never seen ages out. */
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, __u64);
  __type(value, struct raqib_peer_key);
} connect_inflight SEC(".maps");

/* dns_asked: the DNS queries sent and not yet answered, by the socket that
 * sent them, its port and the transaction id. A response counts (and its
 * answers name addresses) only when it answers one of these: a forged
 * answer to a socket that did not ask, or with another id, is ignored. LRU:
 * a query never answered ages out. */
struct raqib_dns_asked_key {
  __u64 cookie; /* the socket's */
  __u16 lport;  /* its local port */
  __u16 id;     /* the transaction id */
  __u32 _pad;
};
struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 4096);
  __type(key, struct raqib_dns_asked_key);
  __type(value, __u8);
} dns_asked SEC(".maps");

/* net_scratch: per-CPU space for the DNS parser; slot 0 for egress, 1 for
 * ingress (softirq ingress can interrupt a process-context egress program on
 * the same CPU; the tracepoints' scratch is not used here for that reason). */
struct raqib_dns_parse {
  __u32 len;     /* bytes of msg loaded */
  __u32 pos;     /* the name scan's label, then the next answer record */
  __u32 ended;   /* the name's terminating zero was found */
  __u32 ancount; /* answer records in the message */
  __u32 n;       /* answers kept */
  __u32 flags;   /* enum raqib_dns_flags */
  __u8 answers[RAQIB_DNS_ANSWERS_MAX][16];
  __u8 answer_family[RAQIB_DNS_ANSWERS_MAX];
};
struct raqib_net_scratch {
  struct raqib_string name;
  struct raqib_dns_parse p;
  __u8 msg[RAQIB_DNS_MSG_MAX + 32]; /* the message after its header; slack for the masks */
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct raqib_net_scratch);
} net_scratch SEC(".maps");

#endif /* RAQIB_MAPS_BPF_H */
