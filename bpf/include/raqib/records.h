/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* Records and keys shared by the BPF programs (bpf/) and the core (core/).
 *
 * Every type here has fixed-width members and explicit padding, so the BPF
 * object and the core agree byte for byte; core/layout_check.cpp
 * static_asserts the sizes and offsets, and tests/unit/test_layout.cpp compares
 * them with the BTF of the built object. Enums carry explicit numbers. Change
 * a layout only by appending, and bump RAQIB_RECORD_VERSION when you do.
 */
#ifndef RAQIB_RECORDS_H
#define RAQIB_RECORDS_H

#ifndef __bpf__
#include <linux/types.h>
#endif

#define RAQIB_RECORD_VERSION 2

#define RAQIB_COMM_LEN 16
/* Longest path kept; longer paths keep their last RAQIB_PATH_MAX - 1 bytes
 * and carry RAQIB_STR_TRUNCATED. Power of two: the BPF code masks with it. */
#define RAQIB_PATH_MAX 1024
/* argv bytes kept per exec (NUL-separated). */
#define RAQIB_ARGS_MAX 512
/* How many dentries and mounts one path walk visits at most. */
#define RAQIB_PATH_DEPTH_MAX 48

enum raqib_rec_kind {
  RAQIB_REC_PROC = 1,
  RAQIB_REC_FILE = 2,
  RAQIB_REC_FILE_EVENT = 3, /* one file event on the ring-buffer transport */
};

/* Common header of every record a map value holds. */
struct raqib_rec_header {
  __u16 kind;    /* enum raqib_rec_kind */
  __u16 version; /* RAQIB_RECORD_VERSION */
  __u32 size;    /* sizeof the whole record */
};

/* ---- processes ------------------------------------------------------- */

/* What a proc record carries; an epoch's entry for a tgid merges every event
 * the tgid had during the epoch. */
enum raqib_proc_flags {
  RAQIB_PROC_FORKED = 1u << 0, /* fork fields are valid */
  RAQIB_PROC_EXECED = 1u << 1, /* exec fields (exe, args, comm) valid */
  RAQIB_PROC_EXITED = 1u << 2, /* exit fields valid */
  RAQIB_PROC_ARGS_TRUNCATED = 1u << 3,
  RAQIB_PROC_EXE_DELETED = 1u << 4, /* the exe had no links left when it ran */
  /* Found at exec in the first RAQIB_ENV_SCAN_MAX bytes of the environment. */
  RAQIB_PROC_ENV_LD_PRELOAD = 1u << 5,
  RAQIB_PROC_ENV_LD_LIBRARY_PATH = 1u << 6,
  RAQIB_PROC_ENV_LD_AUDIT = 1u << 7,
  RAQIB_PROC_ENV_TRUNCATED = 1u << 8, /* the environment was longer than was scanned */
  /* At exec, fd 0, 1 or 2 was an IPv4 or IPv6 socket. */
  RAQIB_PROC_STDIN_INET = 1u << 9,
  RAQIB_PROC_STDOUT_INET = 1u << 10,
  RAQIB_PROC_STDERR_INET = 1u << 11,
  RAQIB_PROC_UNSHARED = 1u << 12, /* unshare(2) succeeded; the namespaces are the new ones */
  RAQIB_PROC_SETNS = 1u << 13,    /* setns(2) succeeded; likewise */
};
/* Environment bytes scanned per exec for the RAQIB_PROC_ENV_* markers. */
#define RAQIB_ENV_SCAN_MAX 4000

/* One live process as the task iterator (raqib_live_tasks) writes it: the
 * core reconciles its process table with these, so entries whose exit was
 * never recorded (a full exec map) do not stay forever. */
struct raqib_live_task {
  __u32 tgid;
  __u32 pad;
  __u64 start_ns; /* CLOCK_BOOTTIME, as raqib_proc.start_ns */
};

struct raqib_proc {
  struct raqib_rec_header hdr;
  __u32 tgid;
  __u32 ppid;
  __u32 uid;
  __u32 euid;
  __u32 gid;
  __s32 exit_code;
  __u64 start_ns; /* task start, CLOCK_BOOTTIME ns */
  __u64 exec_ns;  /* CLOCK_BOOTTIME ns of the last exec */
  __u64 exit_ns;  /* CLOCK_BOOTTIME ns of the exit */
  __u64 cgroup_id;
  __u64 exe_hash; /* key of the exe path in the strings map */
  __u32 flags;    /* enum raqib_proc_flags */
  __u32 args_len; /* bytes of args kept */
  __u32 mnt_ns;   /* namespace inode numbers */
  __u32 pid_ns;
  __u32 net_ns;
  __u32 _pad1;
  char comm[RAQIB_COMM_LEN];
  char args[RAQIB_ARGS_MAX]; /* argv, NUL-separated */
  __u32 exec_seq;            /* which image of the process (struct raqib_image) */
  __u32 _pad2;
};

/* A process image: the process (tgid and start) and which exec of it
 * (the task's self_exec_id, which each exec bumps). The exec map keeps one
 * entry per image of the epoch and every file record names its image, so
 * an exec after the act, an exec chain or a pid reused inside one interval
 * still name the image that acted. */
struct raqib_image {
  __u32 tgid;
  __u32 exec_seq;
  __u64 start_ns; /* the process's start, CLOCK_BOOTTIME, as raqib_proc.start_ns */
};

/* ---- files ----------------------------------------------------------- */

enum raqib_file_act {
  RAQIB_FILE_OPEN = 1u << 0,
  RAQIB_FILE_READ = 1u << 1,      /* opened for reading */
  RAQIB_FILE_WRITE = 1u << 2,     /* opened for writing */
  RAQIB_FILE_CREATE = 1u << 3,    /* O_CREAT */
  RAQIB_FILE_TRUNCATE = 1u << 4,  /* O_TRUNC, truncate(2), ftruncate(2) */
  RAQIB_FILE_UNLINK = 1u << 5,    /* unlink, unlinkat, rmdir */
  RAQIB_FILE_RENAME = 1u << 6,    /* renamed away; other_hash is the new name */
  RAQIB_FILE_LINK = 1u << 7,      /* a hard link made; other_hash is its target */
  RAQIB_FILE_SYMLINK = 1u << 8,   /* a symlink made; other_hash is its text */
  RAQIB_FILE_CHMOD = 1u << 9,
  RAQIB_FILE_CHOWN = 1u << 10,
  RAQIB_FILE_SETCAP = 1u << 11,   /* setxattr of security.capability */
  RAQIB_FILE_MMAP_EXEC = 1u << 12, /* mapped with PROT_EXEC */
  RAQIB_FILE_EXEC = 1u << 13,     /* executed */
  RAQIB_FILE_MOUNT = 1u << 14,    /* mounted on (mount, move_mount, pivot_root); other_hash: the
                                     source, as text for mount(2) */
  RAQIB_FILE_UMOUNT = 1u << 15,   /* unmounted */
};

/* One entry per (process, path, action set, result) per epoch. */
struct raqib_file_key {
  __u64 path_hash;  /* keyed SipHash-2-4 of the path; the path is in strings */
  __u64 other_hash; /* the second name of a rename, link or symlink; else 0 */
  __u32 tgid;
  __u32 actions; /* enum raqib_file_act */
  __s32 error;      /* 0, or the negative errno of a failed call */
  __u32 path_flags; /* enum raqib_str_flags: how this record's path was found */
  __u32 exec_seq;   /* with tgid and start_ns: the image that acted (struct raqib_image) */
  __u32 _pad;
  __u64 start_ns;
};

struct raqib_file_value {
  __u64 count;
  __u64 first_ns; /* CLOCK_BOOTTIME */
  __u64 last_ns;  /* CLOCK_BOOTTIME */
};

/* One file event, streamed through the ring buffer when the transport is
 * "ringbuf" (the way streaming monitors work, kept for comparison). Only
 * path.len bytes of path.str are sent. */
struct raqib_file_event {
  struct raqib_rec_header hdr;
  struct raqib_file_key key;
  __u64 time_ns; /* CLOCK_BOOTTIME */
  struct raqib_file_path {
    __u16 len;
    __u16 _pad0;
    __u32 _pad1;
    char str[RAQIB_PATH_MAX + 8];
  } path;
};

/* ---- strings --------------------------------------------------------- */

enum raqib_str_flags {
  RAQIB_STR_TRUNCATED = 1u << 0, /* path walk hit RAQIB_PATH_DEPTH_MAX or RAQIB_PATH_MAX */
  RAQIB_STR_UNRESOLVED = 1u << 1, /* as the syscall passed it (the open failed) */
  RAQIB_STR_JOINED = 1u << 2,     /* a canonical directory joined with a name as passed */
  RAQIB_STR_READ_AT_EXIT = 1u << 3, /* a name in it was read at the syscall's exit, not its
                                       entry (not paged in, or no room to keep it) */
};

/* A string stored once, keyed by its keyed hash. The bytes after len up to
 * the next multiple of 8 are zero (SipHash reads whole words). flags says
 * how it was found; the record naming it carries them (the same text can be
 * found in several ways), the strings map keeps only the text. */
struct raqib_string {
  __u16 len;
  __u16 flags; /* enum raqib_str_flags */
  __u32 _pad;
  char str[RAQIB_PATH_MAX + 8];
};

/* ---- accounting ------------------------------------------------------ */

/* Index into the map_counters per-CPU array. */
enum raqib_map_id {
  RAQIB_MAP_PROC = 0,
  RAQIB_MAP_FILE = 1,
  RAQIB_MAP_STRINGS = 2,
  RAQIB_MAP_PEERS = 3,
  RAQIB_MAP_FLOWS = 4,
  RAQIB_MAP_DNS = 5,
  RAQIB_MAP_RINGBUF = 6, /* the streaming transport: inserts = records, failed = dropped */
  RAQIB_MAP_TAMPER = 7,  /* tamper_activity */
  RAQIB_MAP_FILE_WATCHED = 8, /* the watched lane of file activity (bpf/watched.bpf.h) */
  RAQIB_MAP_EXEC_WATCHED = 9, /* the watched lane of processes (bpf/exec_watched.bpf.h) */
  RAQIB_MAP_DNS_WATCHED = 10, /* the watched lane of DNS (bpf/dns_watched.bpf.h) */
  /* Path names a file syscall's entry could not copy, read at its exit
   * instead (bpf/syscall_names.bpf.h): failed = no room, capped = user
   * memory not paged in at the entry. Inserts and updates are not counted. */
  RAQIB_MAP_SYSCALL_NAMES = 11,
  /* io_uring file requests from submission to completion (bpf/abi.bpf.h):
   * failed = a completion whose request was evicted (not recorded). */
  RAQIB_MAP_URING_REQUESTS = 12,
  RAQIB_MAP_PEERS_WATCHED = 13, /* the watched lane of peers (bpf/peers_watched.bpf.h) */
  RAQIB_MAP_COUNT = 14,
};

struct raqib_map_counters {
  __u64 inserts; /* new entries */
  __u64 updates; /* entries updated in place */
  __u64 failed;  /* inserts refused because the map was full */
  __u64 capped;  /* inserts refused because the process had its share of the epoch */
};

/* ---- watched sets (bpf/watched.bpf.h, core/watched_set.cpp) ----------- */

/* watched_paths: keyed hash of a string -> the actions recipes watch when a
 * path is that string (exact), starts with it (a directory prefix ending in
 * '/'), or has it as its last component (basename). */
struct raqib_watch_actions {
  __u32 exact;    /* enum raqib_file_act */
  __u32 prefix;
  __u32 basename;
  __u32 _pad;
};

/* A bit of raqib_watch_actions no file act has: an exec recipe names the
 * string as an executable (the exec lane, bpf/exec_watched.bpf.h). */
#define RAQIB_WATCH_EXEC_RECIPE (1u << 31)
/* Likewise: a net recipe names the string as a domain, in DNS wire format
 * and lower case; exact: that name, prefix: it and every name under it (the
 * DNS lane, bpf/dns_watched.bpf.h). */
#define RAQIB_WATCH_DNS_RECIPE (1u << 30)

/* watched_inodes: keyed hash of struct raqib_inode_id -> the watched file
 * that inode is, whatever name reaches it (hard links, bind mounts). */
struct raqib_inode_id {
  __u64 dev; /* the kernel's dev_t: major << 20 | minor */
  __u64 ino;
};
struct raqib_watch_inode {
  __u64 canonical_hash; /* keyed hash of the watched file's name, as the recipe names it */
  __u32 actions;        /* enum raqib_file_act */
  __u32 _pad;
};

enum raqib_watch_match {
  RAQIB_WATCH_EXACT = 1u << 0,
  RAQIB_WATCH_PREFIX = 1u << 1,
  RAQIB_WATCH_BASENAME = 1u << 2,
  RAQIB_WATCH_INODE = 1u << 3, /* by (device, inode): canonical_hash names the file */
  RAQIB_WATCH_FACTS = 1u << 4, /* an exec by a fact of it (exec_watch_facts) */
};

/* The facts of an exec the exec lane can watch (exec_watch_facts): the
 * RAQIB_PROC_ENV_*, RAQIB_PROC_STD*_INET and RAQIB_PROC_EXE_DELETED flags,
 * and two the exe's path gives, never stored in a record: */
#define RAQIB_EXEC_FACT_HIDDEN (1u << 30) /* a component of the path starts with '.' */
#define RAQIB_EXEC_FACT_LOADER (1u << 31) /* the basename starts with "ld-" */

/* The watched lane (file_watched): keyed like file_activity, and the value
 * carries the path itself, so nothing can evict it before the drain. */
struct raqib_watched_value {
  __u64 count;
  __u64 first_ns; /* CLOCK_BOOTTIME */
  __u64 last_ns;
  __u64 canonical_hash; /* RAQIB_WATCH_INODE: the watched file's name in the core's table */
  __u32 match;          /* enum raqib_watch_match */
  __u32 _pad;
  struct raqib_string path;
};

/* What a word on file_pressure asks the core to drain early: a map or lane
 * past its mark (or a lane share used up). */
enum raqib_pressure {
  RAQIB_PRESSURE_FILE = 1u << 0, /* file_activity (the exec maps are drained with it) */
  RAQIB_PRESSURE_EXEC = 1u << 1, /* exec_watched */
  RAQIB_PRESSURE_DNS = 1u << 2,  /* dns_watched */
  RAQIB_PRESSURE_PEERS = 1u << 3, /* peers or peers_watched */
  RAQIB_PRESSURE_FLOWS = 1u << 4, /* flows */
};

/* dns_lane_epoch: the DNS lane's entries inserted since the core's last
 * flip of dns_watched (it zeroes them), and whether file_pressure was sent. */
struct raqib_dns_lane_epoch {
  __u64 filled;
  __u64 signalled;
};

/* exec_lane_epoch: the exec lane's entries inserted since the core's last
 * flip of exec_watched (it zeroes them), whether file_pressure was sent,
 * and the entries each kind of match but the exact path took: a storm of
 * one kind cannot take the room of another. */
struct raqib_exec_lane_epoch {
  __u64 filled;
  __u64 signalled;
  __u64 patterned; /* by a directory prefix or a basename */
  __u64 by_facts;  /* by facts alone */
};

/* The watched lane of processes (exec_watched): keyed like exec_activity,
 * and the value carries the executable's path itself, so nothing can evict
 * it before the drain. */
struct raqib_watched_proc {
  struct raqib_proc proc; /* proc.exe_hash is the hash of exe */
  __u32 match;            /* enum raqib_watch_match */
  __u32 _pad;
  struct raqib_string exe;
};

/* ---- network ---------------------------------------------------------- */

/* Addresses are 16 bytes in network order: IPv4 in the first 4, the rest 0.
 * Ports are in host order. family is 4 or 6, protocol an IPPROTO_ number. */
#define RAQIB_DNS_NAME_MAX 128    /* wire-format bytes of a question name kept */
#define RAQIB_DNS_LABELS_MAX 32   /* labels followed to find the name's end */
#define RAQIB_DNS_ANSWERS_MAX 4   /* A/AAAA answers kept per response */
#define RAQIB_DNS_RR_MAX 8        /* answer records examined per response */
#define RAQIB_DNS_MSG_MAX 512     /* message bytes parsed after the header (power of two) */
/* raqib_string.flags: the string is a DNS name in wire format (length-prefixed
 * labels); the core turns it into dotted text. */
#define RAQIB_STR_DNS_WIRE (1u << 2)

enum raqib_net_direction {
  RAQIB_NET_CONNECT = 1, /* outgoing connect(), or a UDP send to a new peer */
  RAQIB_NET_ACCEPT = 2,  /* a TCP connection accepted */
};

/* One entry per (process, direction, peer) per epoch. Accepts are keyed by
 * the local (listening) port and the remote address; the remote's ephemeral
 * port is in the value. Connects are keyed by the remote address and port. */
struct raqib_peer_key {
  __u8 raddr[16];
  __u32 tgid;
  __u16 rport;    /* connects: the remote port; accepts: 0 */
  __u16 lport;    /* accepts: the local port; connects: 0 */
  __u8 family;    /* 4 or 6 */
  __u8 protocol;  /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
  __u8 direction; /* enum raqib_net_direction */
  __u8 _pad[5];
  __u32 exec_seq; /* with tgid and start_ns: the image that acted (struct raqib_image) */
  __u32 _pad2;
  __u64 start_ns;
};

struct raqib_peer_value {
  __u64 count;
  __u64 first_ns; /* CLOCK_BOOTTIME */
  __u64 last_ns;
  __s32 error;      /* connects: 0, or the negative errno of the last failed one */
  __u16 last_rport; /* accepts: the remote port of the last one */
  __u16 _pad;
};

/* One entry per 5-tuple per epoch, seen from the local socket. The owning
 * process is in the value: the socket's owner is learnt at socket creation,
 * connect, send or accept, and a packet before that (an accepted
 * connection's handshake) is kept under the same key with tgid 0 until the
 * owner is known. */
struct raqib_flow_key {
  __u8 laddr[16];
  __u8 raddr[16];
  __u16 lport;
  __u16 rport;
  __u8 family;
  __u8 protocol;
  __u16 _pad;
};

struct raqib_flow_value {
  __u64 bytes_out; /* transport payload bytes (TCP/UDP data, headers not counted) */
  __u64 bytes_in;
  __u64 packets_out; /* IP packets (a GSO packet counts its segments) */
  __u64 packets_in;
  __u64 first_ns; /* CLOCK_BOOTTIME */
  __u64 last_ns;
  __u32 tgid;  /* owning process; 0 when unknown */
  __u32 state; /* last TCP state (the kernel's TCP_* numbers); 0 for UDP */
  __u32 exec_seq; /* with tgid and start_ns: the owner's image (struct raqib_image); 0s unknown */
  __u32 _pad;
  __u64 start_ns;
};

/* DNS: one entry per (process, question name, question type) per epoch. */
struct raqib_dns_key {
  __u64 name_hash; /* keyed hash of the wire-format name; the name is in strings */
  __u32 tgid;
  __u16 qtype;
  __u16 _pad;
};

enum raqib_dns_flags {
  RAQIB_DNSV_NAME_TRUNCATED = 1u << 0,    /* longer than RAQIB_DNS_NAME_MAX or too many labels */
  RAQIB_DNSV_ANSWERS_TRUNCATED = 1u << 1, /* more answers than kept, or not parsed */
};

struct raqib_dns_value {
  __u64 queries;   /* questions sent */
  __u64 responses; /* answers received */
  __u64 first_ns;  /* CLOCK_BOOTTIME */
  __u64 last_ns;
  __u8 answers[RAQIB_DNS_ANSWERS_MAX][16]; /* of the last response */
  __u8 answer_family[RAQIB_DNS_ANSWERS_MAX]; /* 4 or 6 */
  __u8 answers_len;
  __u8 rcode; /* of the last response */
  __u16 flags; /* enum raqib_dns_flags */
};

/* The watched lane of DNS (dns_watched): keyed like dns, and the value
 * carries the name itself (wire format), so nothing can evict it before the
 * drain. */
struct raqib_watched_dns {
  struct raqib_dns_value dns;
  __u32 match; /* enum raqib_watch_match: exact or prefix (a watched domain's suffix) */
  __u32 _pad;
  struct raqib_string name;
};

/* The process image a socket belongs to, by socket cookie. */
struct raqib_sock_owner {
  __u32 tgid;
  __u32 exec_seq; /* with tgid and start_ns: the image (struct raqib_image) */
  __u64 start_ns;
};

/* ---- the peers lane (bpf/peers_watched.bpf.h, core/peer_lane.cpp) ----- */

/* watched_peers: an LPM trie of the addresses net recipes watch. data is
 * the family (4 or 6) then the address as in raqib_peer_key.raddr;
 * prefixlen counts the family's 8 bits too. */
struct raqib_peer_prefix {
  __u32 prefixlen;
  __u8 data[17];
  __u8 _pad[3];
};

/* What a watched prefix is watched for. */
struct raqib_peer_watch {
  __u32 directions; /* 1u << enum raqib_net_direction */
  __u32 exact;      /* 1: a single address (/32 or /128), which may fill the lane */
};

/* peer_watch_ports (rodata): one bit per port, connects' (remote port) then
 * accepts' (local port), set for the ports of net recipes no address they
 * name singles out. */
#define RAQIB_PORT_BITS 65536

/* The peers lane (peers_watched): keyed like peers; only connects and
 * accepts of a watched address reach it. */
struct raqib_watched_peer {
  struct raqib_peer_value peer;
  __u32 match; /* enum raqib_watch_match: exact (one address) or prefix (a wider CIDR) */
  __u32 _pad;
};

/* peer_epoch: the entries inserted since the core's last flip of a map,
 * which zeroes them: [0] peers_watched, [1] peers, [2] flows. seq numbers
 * the epochs of peers and flows for the per-process shares. */
enum raqib_peer_epoch_slot {
  RAQIB_PEER_EPOCH_LANE = 0,
  RAQIB_PEER_EPOCH_CONTEXT = 1,
  RAQIB_PEER_EPOCH_FLOWS = 2,
};
struct raqib_peer_epoch {
  __u64 seq;
  __u64 filled;
  __u64 signalled; /* file_pressure was sent this epoch */
};

/* peer_share, flow_share: per process, the entries it inserted in epoch
 * seq of peers, of flows. */
struct raqib_peer_share {
  __u64 seq;
  __u64 inserted;
};

/* ---- tamper evidence (bpf/tamper.bpf.h, core/tamper.cpp) -------------- */

/* What another process did to raqib. */
enum raqib_tamper_move {
  RAQIB_TAMPER_BPF_GET_FD = 1,    /* got an fd of a raqib map, program or link by its id */
  RAQIB_TAMPER_BPF_MAP_READ = 2,  /* read a raqib map's entries through an fd */
  RAQIB_TAMPER_BPF_MAP_WRITE = 3, /* updated, deleted or froze a raqib map's entries */
  RAQIB_TAMPER_BPF_DETACH = 4,    /* detached or replaced a raqib link or program */
  RAQIB_TAMPER_BPF_PROG_LOAD = 5, /* loaded a BPF program (any) */
  RAQIB_TAMPER_MODULE_LOAD = 6,   /* init_module or finit_module (any) */
  RAQIB_TAMPER_PTRACE = 7,        /* ptrace of the daemon */
  RAQIB_TAMPER_PROCESS_VM = 8,    /* process_vm_readv/writev of the daemon */
  RAQIB_TAMPER_SIGNAL = 9,        /* a signal sent to the daemon */
  RAQIB_TAMPER_PROC_MEM = 10,     /* /proc/<daemon>/mem (or a thread's) opened */
  RAQIB_TAMPER_PIDFD_GETFD = 11,  /* pidfd_getfd through a pidfd of the daemon */
  RAQIB_TAMPER_URING_UNNAMED_OPEN = 12, /* an io_uring open whose success posts no completion
                                           (IOSQE_CQE_SKIP_SUCCESS): its file is never named */
};

/* The kind of a BPF object (raqib_object_key.type, raqib_tamper_key.object_type). */
enum raqib_object_type {
  RAQIB_OBJ_MAP = 1,
  RAQIB_OBJ_PROG = 2,
  RAQIB_OBJ_LINK = 3,
};

/* One of raqib's own BPF objects, as the core registers them at start. */
struct raqib_object_key {
  __u32 type; /* enum raqib_object_type */
  __u32 id;   /* the kernel's id of the object */
};

/* One entry per (actor, move, detail, object type) per epoch. */
struct raqib_tamper_key {
  __u32 tgid; /* the actor */
  __u32 move; /* enum raqib_tamper_move */
  /* bpf moves: the bpf() command; PROG_LOAD: the program type; PTRACE: the
   * request; PROCESS_VM: 0 read, 1 write; SIGNAL: the signal number;
   * PROC_MEM: the open's access, 1 read, 2 write, 3 both; PIDFD_GETFD: the
   * daemon's fd taken. */
  __u32 detail;
  __u32 object_type; /* enum raqib_object_type, or 0 (PIDFD_GETFD: of the fd taken) */
  /* The object (map reads and writes, detaches) or target thread (ptrace,
   * process_vm, signal, proc_mem, pidfd_getfd: its kernel id); 0 for moves
   * counted over all objects (getting fds by id: listing tools get one per
   * object). */
  __u32 object_id;
  __u32 _pad;
};

struct raqib_tamper_value {
  __u64 count;
  __u64 first_ns; /* CLOCK_BOOTTIME */
  __u64 last_ns;
  __u32 object_id;   /* the last object's id (bpf moves), or the target thread id
                        (ptrace, process_vm, signal, proc_mem, pidfd_getfd) */
  __u32 attach_type; /* PROG_LOAD: the expected attach type */
  char name[16];     /* PROG_LOAD: the program's name as the loader gave it */
  __u32 taken_id;    /* PIDFD_GETFD: the id of the BPF object the fd taken is (the
                        type in the key's object_type), or 0 */
  __u32 _pad2;
};

#endif /* RAQIB_RECORDS_H */
