/* SPDX-License-Identifier: Apache-2.0 */
/* The raqib plugin ABI, version 1.2.0: what a detection plugin or a printer
 * exports, and what the daemon (the host) hands it. Plain C so any compiler
 * can build a plugin. docs/sdk.md is the guide.
 *
 * Rules that hold for every struct here:
 *  - Append-only: members are never removed or reordered; new ones go at the
 *    end and bump RAQIB_PLUGIN_API_VERSION_MINOR.
 *  - Each struct starts with struct_size, set by whoever fills it in. A reader
 *    uses a member only when struct_size says it is there.
 *  - Strings are UTF-8 (paths: raw bytes), NUL-terminated, never NULL unless
 *    the member says it may be.
 *
 * Compatibility: the host refuses a plugin whose required major differs from
 * its own, or whose required minor is newer than its own. It reads
 * RAQIB_PLUGIN_API_VERSION_SYMBOL from the ELF file before dlopen, so such a
 * plugin runs no code at all (not even static constructors); the descriptor
 * is checked after dlopen, before any of its functions is called. See
 * docs/sdk.md, "Compatibility rules".
 *
 * Threads: the host calls every function of one plugin from one thread of
 * its own, never concurrently. Before the library is loaded (dlopen, on that
 * thread: static constructors included), the thread drops every capability
 * and installs a seccomp filter built from the descriptor's resources as the
 * file declares them: a detector may not open files, exec, fork or start
 * threads, connect, ptrace, call bpf(), block signals or map executable
 * memory; a printer gets what it declares and no more. A forbidden syscall
 * fails with EPERM and the plugin is then restarted; so is a call of exit(),
 * abort() and the like, which ends the plugin's call, not the process.
 */
#ifndef RAQIB_PLUGIN_API_H
#define RAQIB_PLUGIN_API_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RAQIB_PLUGIN_API_VERSION_MAJOR 1
#define RAQIB_PLUGIN_API_VERSION_MINOR 2
#define RAQIB_PLUGIN_API_VERSION_PATCH 0

/* Required. A const struct raqib_plugin_descriptor. */
#define RAQIB_PLUGIN_DESCRIPTOR_SYMBOL "raqib_plugin"
/* Required. A const uint32_t[3] {major, minor, patch} in read-only data: the
 * API version the plugin needs. The host reads it from the file before it
 * loads the plugin; it must equal the descriptor's api_major/minor/patch.
 * RAQIB_PLUGIN_EXPORT_API_VERSION defines it. */
#define RAQIB_PLUGIN_API_VERSION_SYMBOL "raqib_plugin_api_version"

#ifdef __cplusplus
#define RAQIB_EXTERN_C_ extern "C"
#else
#define RAQIB_EXTERN_C_
#endif
#define RAQIB_PLUGIN_EXPORT_API_VERSION                                         \
  RAQIB_EXTERN_C_ __attribute__((visibility("default")))                        \
  const uint32_t raqib_plugin_api_version[3] = {RAQIB_PLUGIN_API_VERSION_MAJOR, \
                                                RAQIB_PLUGIN_API_VERSION_MINOR, \
                                                RAQIB_PLUGIN_API_VERSION_PATCH}

/* Return values of on_record and on_output. */
#define RAQIB_OK 0
#define RAQIB_ERROR (-1)           /* the call failed; last_error says why */
#define RAQIB_ERROR_EXCEPTION (-2) /* a C++ exception was caught at the boundary */

typedef enum raqib_plugin_kind {
  RAQIB_PLUGIN_DETECTOR = 1, /* consumes behaviour records, emits detections */
  RAQIB_PLUGIN_PRINTER = 2,  /* consumes outputs (detections, health), writes them somewhere */
} raqib_plugin_kind;

/* Record kinds, as bits of raqib_plugin_descriptor.subscriptions. */
typedef enum raqib_record_kind {
  RAQIB_RECORD_EXEC = 1u << 0,
  RAQIB_RECORD_FILE = 1u << 1,
  RAQIB_RECORD_FLOW = 1u << 2,
  RAQIB_RECORD_DNS = 1u << 3,
  RAQIB_RECORD_DETECTION = 1u << 4, /* printers: detections */
  RAQIB_RECORD_HEALTH = 1u << 5,    /* printers: a plugin faulted (docs/events.md) */
  RAQIB_RECORD_INFO = 1u << 6,      /* printers: every drained record, with --events all */
  /* Since 1.1, printers: an attenuator. Each detection comes to this printer
   * before any other, and goes on to them when it calls
   * raqib_host_api.forward, possibly annotated, or unchanged once
   * [core] attenuator_hold has passed. At most one printer may have it. */
  RAQIB_RECORD_ATTENUATE = 1u << 7,
  /* Since 1.2, printers: tamper evidence, another process acting on raqib
   * itself (its maps, programs, links or process), a BPF program loaded,
   * a blind spot, an integrity failure (docs/events.md). */
  RAQIB_RECORD_TAMPER = 1u << 8,
} raqib_record_kind;

/* What a plugin needs beyond computing, as bits of
 * raqib_plugin_descriptor.resources. Its thread's seccomp filter allows these
 * and nothing else. Every plugin may allocate memory, use futexes, read clocks
 * and log through the host. */
typedef enum raqib_resource {
  RAQIB_RESOURCE_STDOUT = 1u << 0,      /* write(2) to fd 1, and isatty(1) */
  RAQIB_RESOURCE_FILE_WRITE = 1u << 1,  /* open, write, sync, rename, unlink and close files;
                                           since 1.1 also ftruncate, fchmod and mkdir (the
                                           path is not enforced by seccomp; see docs/sdk.md) */
  RAQIB_RESOURCE_NET_TCP_OUT = 1u << 2, /* socket, connect, send and receive over TCP;
                                           since 1.1 also epoll, eventfd, timerfd and
                                           ioctl(FIONBIO) for an event loop */
  RAQIB_RESOURCE_DGRAM_OUT = 1u << 3,   /* since 1.1: datagram sockets (UDP over IPv4/IPv6,
                                           unix datagram), connect and send */
} raqib_resource;

/* Every resource bit this API version knows; others make a descriptor malformed. */
#define RAQIB_RESOURCE_ALL                                                    \
  (RAQIB_RESOURCE_STDOUT | RAQIB_RESOURCE_FILE_WRITE | RAQIB_RESOURCE_NET_TCP_OUT | \
   RAQIB_RESOURCE_DGRAM_OUT)

typedef enum raqib_importance {
  RAQIB_IMPORTANCE_LOW = 1,
  RAQIB_IMPORTANCE_MEDIUM = 2,
  RAQIB_IMPORTANCE_HIGH = 3,
  RAQIB_IMPORTANCE_CRITICAL = 4,
} raqib_importance;

/* File actions, as bits of raqib_file_record.actions. */
typedef enum raqib_file_action {
  RAQIB_ACTION_OPEN = 1u << 0,
  RAQIB_ACTION_READ = 1u << 1,
  RAQIB_ACTION_WRITE = 1u << 2,
  RAQIB_ACTION_CREATE = 1u << 3,
  RAQIB_ACTION_TRUNCATE = 1u << 4,   /* O_TRUNC, truncate, ftruncate */
  RAQIB_ACTION_UNLINK = 1u << 5,     /* unlink, unlinkat, rmdir */
  RAQIB_ACTION_RENAME = 1u << 6,     /* path renamed to other_path */
  RAQIB_ACTION_LINK = 1u << 7,       /* path made a hard link to other_path */
  RAQIB_ACTION_SYMLINK = 1u << 8,    /* path made a symlink whose text is other_path */
  RAQIB_ACTION_CHMOD = 1u << 9,
  RAQIB_ACTION_CHOWN = 1u << 10,
  RAQIB_ACTION_SETCAP = 1u << 11,    /* setxattr of security.capability */
  RAQIB_ACTION_MMAP_EXEC = 1u << 12, /* mapped executable */
  RAQIB_ACTION_EXEC = 1u << 13,      /* executed */
  RAQIB_ACTION_MOUNT = 1u << 14,     /* path mounted on; other_path: the source */
  RAQIB_ACTION_UMOUNT = 1u << 15,    /* path unmounted */
} raqib_file_action;

/* Log levels for raqib_host_api.log. */
typedef enum raqib_log_level {
  RAQIB_LOG_DEBUG = 1,
  RAQIB_LOG_INFO = 2,
  RAQIB_LOG_WARN = 3,
  RAQIB_LOG_ERROR = 4,
} raqib_log_level;

/* Flags of raqib_process.flags. */
#define RAQIB_PROCESS_ARGS_TRUNCATED (1u << 0) /* args holds only the first ones */
#define RAQIB_PROCESS_EXITED (1u << 1)         /* the process has exited */
/* As of its last exec: environment variables set (in the first 4000 bytes of
 * its environment; RAQIB_PROCESS_ENV_TRUNCATED when there was more) and
 * standard streams that were IPv4/IPv6 sockets (unix sockets are not). */
#define RAQIB_PROCESS_ENV_LD_PRELOAD (1u << 2)
#define RAQIB_PROCESS_ENV_LD_LIBRARY_PATH (1u << 3)
#define RAQIB_PROCESS_ENV_LD_AUDIT (1u << 4)
#define RAQIB_PROCESS_ENV_TRUNCATED (1u << 5)
#define RAQIB_PROCESS_STDIN_SOCKET (1u << 6)
#define RAQIB_PROCESS_STDOUT_SOCKET (1u << 7)
#define RAQIB_PROCESS_STDERR_SOCKET (1u << 8)

/* Flags of raqib_process.exe_flags: where the executable came from. */
#define RAQIB_EXE_DELETED (1u << 0) /* unlinked while running */
#define RAQIB_EXE_MEMFD (1u << 1)   /* an anonymous memfd, not a file */
#define RAQIB_EXE_HIDDEN (1u << 2)  /* a path component starts with '.' */
#define RAQIB_EXE_LOADER (1u << 3)  /* the dynamic loader run as a program (ld-linux.so FILE) */

/* A process as the host knows it. */
typedef struct raqib_process {
  uint32_t struct_size;
  uint32_t pid; /* thread-group id */
  uint32_t ppid;
  uint32_t uid;
  uint32_t euid;
  uint32_t gid;
  uint32_t argc;
  uint32_t flags;           /* RAQIB_PROCESS_* */
  const char *exe;          /* canonical path of the executable; "" if unknown */
  const char *comm;         /* the kernel's short name */
  const char *const *args;  /* argc arguments */
  uint64_t cgroup_id;       /* cgroup v2 id */
  int64_t start_unix_ns;    /* start time, ns since the Unix epoch */
  uint32_t mnt_ns;          /* namespace inode numbers; 0 if unknown */
  uint32_t pid_ns;
  uint32_t net_ns;
  uint32_t exe_flags;       /* RAQIB_EXE_* */
} raqib_process;

/* Flags of raqib_file_record.path_flags. */
#define RAQIB_PATH_TRUNCATED (1u << 0)  /* only the last part of a long path */
#define RAQIB_PATH_UNRESOLVED (1u << 1) /* as passed to a failed call, not canonical */
#define RAQIB_PATH_LEXICAL (1u << 2) /* canonical directory + the name as passed, with . and ..
                                        folded; a symlink inside the name is not followed */
/* Since 1.2: a name this record carries was read from the program's memory at
 * the syscall's exit, not at its entry (not paged in yet, or no room to keep
 * it), so a racing thread may have changed it after the kernel used it. */
#define RAQIB_PATH_READ_AT_EXIT (1u << 3)

/* Files one process touched with one set of actions during one drain. */
typedef struct raqib_file_record {
  uint32_t struct_size;
  uint32_t actions; /* raqib_file_action bits */
  const char *path; /* canonical absolute path */
  uint32_t path_flags;
  int32_t error;  /* 0, or the negative errno of a failed call */
  uint64_t count; /* occurrences */
  int64_t first_unix_ns;
  int64_t last_unix_ns;
  const char *other_path; /* rename: the new name; link: the target; symlink: its text;
                             mount: its source; else NULL */
  /* The watched file path reaches under another name (a hard link, a bind
   * mount), matched by device and inode and named as the recipes name it;
   * else NULL. Present when struct_size covers it. */
  const char *watched_path;
} raqib_file_record;

/* What happened to a process during one drain interval: raqib_exec_record.events. */
#define RAQIB_EXEC_FORKED (1u << 0)
#define RAQIB_EXEC_EXECED (1u << 1)
#define RAQIB_EXEC_EXITED (1u << 2)
#define RAQIB_EXEC_UNSHARED (1u << 3) /* unshare(2): namespaces are the new ones */
#define RAQIB_EXEC_SETNS (1u << 4)    /* setns(2): likewise */

/* A process's lifecycle events during one drain interval. The process
 * itself (exe, args, ...) is raqib_record.process. */
typedef struct raqib_exec_record {
  uint32_t struct_size;
  uint32_t events;    /* RAQIB_EXEC_* */
  int32_t exit_code;  /* as wait(2) reports it; valid with RAQIB_EXEC_EXITED */
  uint32_t _reserved;
  int64_t exec_unix_ns; /* valid with RAQIB_EXEC_EXECED */
  int64_t exit_unix_ns; /* valid with RAQIB_EXEC_EXITED */
} raqib_exec_record;

/* Network records. What raqib_flow_record.direction says the record is. */
#define RAQIB_FLOW_CONNECT 1 /* the process connected out (or sent UDP to a new peer) */
#define RAQIB_FLOW_ACCEPT 2  /* the process accepted a TCP connection */
#define RAQIB_FLOW_FLOW 3    /* traffic of one 5-tuple: bytes, packets, TCP state */

/* Flags of raqib_dns_record.flags. */
#define RAQIB_DNS_NAME_TRUNCATED (1u << 0)    /* the name was too long to keep whole */
#define RAQIB_DNS_ANSWERS_TRUNCATED (1u << 1) /* some answers were not kept */

/* A connect, an accept, or a flow of one process during one drain interval.
 * Addresses are text ("127.0.0.1", "::1"). For connects the local address
 * and port are not known yet ("" and 0); for accepts remote_port is the
 * last connection's. Byte and packet counts are 0 except for flows. */
typedef struct raqib_flow_record {
  uint32_t struct_size;
  uint32_t direction; /* RAQIB_FLOW_* */
  uint32_t protocol;  /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
  uint32_t family;    /* 4 or 6 */
  const char *local_addr;
  const char *remote_addr;
  uint32_t local_port;
  uint32_t remote_port;
  uint64_t bytes_out; /* transport payload bytes sent */
  uint64_t bytes_in;  /* transport payload bytes received */
  uint64_t packets_out;
  uint64_t packets_in;
  const char *state;         /* last TCP state ("ESTABLISHED", ...); "" if none */
  const char *const *names;  /* DNS names that resolved to remote_addr, newest first */
  uint32_t names_len;
  int32_t error;             /* 0, or the negative errno of a failed connect */
  uint64_t count;            /* connects or accepts; for flows, packets both ways */
  int64_t first_unix_ns;
  int64_t last_unix_ns;
} raqib_flow_record;

/* DNS questions a process asked for one name and type during one drain
 * interval, with the answers of the last response. */
typedef struct raqib_dns_record {
  uint32_t struct_size;
  uint32_t qtype;             /* 1 A, 28 AAAA, ... */
  const char *name;           /* dotted, no trailing dot */
  const char *const *answers; /* A/AAAA addresses as text */
  uint32_t answers_len;
  uint32_t rcode;             /* of the last response; 0 NOERROR, 3 NXDOMAIN */
  uint32_t flags;             /* RAQIB_DNS_* */
  uint32_t _reserved;
  uint64_t queries;           /* questions sent */
  uint64_t responses;         /* responses received */
  int64_t first_unix_ns;
  int64_t last_unix_ns;
} raqib_dns_record;

/* A record handed to a detector. Valid only during the call it is passed to;
 * owned by the host. */
typedef struct raqib_record {
  uint32_t struct_size;
  uint32_t kind;                 /* one raqib_record_kind */
  const raqib_process *process;  /* the process the record is about */
  const raqib_process *ancestry; /* parent first, up to pid 1 */
  uint32_t ancestry_len;
  const raqib_file_record *file;   /* kind == RAQIB_RECORD_FILE, else NULL */
  const raqib_exec_record *exec;   /* kind == RAQIB_RECORD_EXEC, else NULL */
  const raqib_flow_record *flow;   /* kind == RAQIB_RECORD_FLOW, else NULL */
  const raqib_dns_record *dns;     /* kind == RAQIB_RECORD_DNS, else NULL */
} raqib_record;

/* A detection a detector emits about a record it was handed. */
typedef struct raqib_detection {
  uint32_t struct_size;
  uint32_t importance;        /* raqib_importance */
  const char *name;           /* recipe name, e.g. "credentials_files_access" */
  const char *tactic;         /* MITRE ATT&CK tactic, e.g. "credential-access" */
  const char *technique;      /* MITRE ATT&CK technique, e.g. "T1552" */
  const raqib_record *record; /* the record the detection is about */
} raqib_detection;

/* An output handed to a printer: one detection or health record, already
 * serialised. Valid only during the call; owned by the host. */
typedef struct raqib_output {
  uint32_t struct_size;
  uint32_t kind;    /* RAQIB_RECORD_DETECTION, HEALTH, INFO or (since 1.2) TAMPER */
  const char *json; /* one JSON object, no trailing newline (docs/events.md) */
  size_t json_len;
  const char *text; /* one human-readable line, no trailing newline */
  size_t text_len;
  uint64_t id; /* since 1.1: this output, for raqib_host_api.forward */
} raqib_output;

/* A plugin's counters, as the host keeps them (raqib_host_api.counters). */
typedef struct raqib_plugin_counters {
  uint32_t struct_size;
  uint32_t restarts; /* times the host restarted the plugin after a fault */
  uint64_t handled;  /* calls of on_record / on_output that returned */
  uint64_t dropped;  /* records refused because the plugin's queue was full */
  uint64_t failed;   /* calls that returned an error or threw */
  uint64_t faults;   /* crashes, seccomp violations and hangs */
  uint64_t emitted;  /* detections emitted (detectors) */
} raqib_plugin_counters;

/* What the host offers a plugin. Handed to init; valid until destroy returns.
 * Every function is called from the plugin's own thread only, and never from
 * init for emit. All members are required: the host fills every one. */
typedef struct raqib_host_api {
  uint32_t struct_size;
  void *host; /* opaque; pass it back as the first argument */
  /* Emit a detection about the record on_record is handling. The host copies
   * what it needs before returning. Returns 0, or -1 when the detection is
   * malformed or emitted outside on_record (logged). Detectors only. */
  int (*emit)(void *host, const raqib_detection *detection);
  /* Log a line through the daemon's logger, tagged with the plugin's name.
   * message is copied; NULL logs an empty line. */
  void (*log)(void *host, raqib_log_level level, const char *message);
  /* The plugin's own section of the daemon's configuration ([plugins.NAME] or
   * [printers.NAME] without "enabled"), as TOML text; "" when there is none.
   * Owned by the host, valid until destroy returns. */
  const char *(*config)(void *host);
  /* The process pid and its ancestry (parent first, up to pid 1), as the
   * record being handled knows them. Returns the process, owned by the host
   * and valid until on_record returns, and sets *ancestry and *ancestry_len; NULL
   * when pid is not part of the current record (or outside on_record).
   * ancestry and ancestry_len may be NULL. */
  const raqib_process *(*process)(void *host, uint32_t pid, const raqib_process **ancestry,
                                  uint32_t *ancestry_len);
  /* Copy this plugin's counters into out; out->struct_size must be set by the
   * caller and bounds what is written. Returns 0, or -1 when out is NULL. */
  int (*counters)(void *host, raqib_plugin_counters *out);
  /* Since 1.1 (check struct_size). How many times the operator has asked
   * printers to reopen the files they write (SIGHUP, e.g. from logrotate);
   * starts at 0. A printer that keeps a file open compares it before each
   * write and reopens the file when it changed. Any thread may call it. */
  uint64_t (*reopen_generation)(void *host);
  /* Since 1.1 (check struct_size). Printers only, from init: ask the host to
   * call tick(state) on the plugin's thread about every interval_ms (10 to
   * 60000), between outputs and while none come, until destroy; for
   * retries, batching and flushing. tick returns as on_output does; a
   * failed tick is counted and reported like a failed output. A restarted
   * plugin registers again in its init. Returns 0, or -1 when called from
   * a detector, outside init, with tick NULL or interval_ms out of range. */
  int (*set_tick)(void *host, int (*tick)(void *state), uint32_t interval_ms);
  /* Since 1.1 (check struct_size). Attenuators only (RAQIB_RECORD_ATTENUATE):
   * hand the detection with raqib_output.id on to the other printers, as
   * json (one JSON object, json_len bytes, copied) or unchanged when json is
   * NULL. Once per id. Returns 0, or -1 when the id is unknown or was
   * already handed on (the host does that itself when the hold passed). */
  int (*forward)(void *host, uint64_t id, const char *json, size_t json_len);
} raqib_host_api;

/* The descriptor a plugin exports as RAQIB_PLUGIN_DESCRIPTOR_SYMBOL. Static,
 * constant data owned by the plugin: the host reads it after loading and
 * before calling anything, and refuses it, naming the member, when a
 * required member is missing or out of range. */
typedef struct raqib_plugin_descriptor {
  uint32_t struct_size; /* required: sizeof(raqib_plugin_descriptor) */
  /* Required: the API version the plugin was built against (the macros
   * above); equal to the RAQIB_PLUGIN_API_VERSION_SYMBOL export. */
  uint32_t api_major;
  uint32_t api_minor;
  uint32_t api_patch;
  uint32_t kind;           /* required: one raqib_plugin_kind */
  const char *name;        /* required: [a-z0-9_-]+, the NAME of raqib-NAME.so */
  const char *version;     /* required: the plugin's own version, e.g. "1.2.0" */
  const char *description; /* required: one line */
  /* Required: raqib_record_kind bits it wants. A detector: EXEC, FILE, FLOW,
   * DNS (and the kinds later minors add); a printer: DETECTION, HEALTH, INFO
   * and/or (since 1.2) TAMPER. */
  uint32_t subscriptions;
  /* raqib_resource bits it needs (0: none). Detectors may declare none. */
  uint32_t resources;
  /* Required. Called once on the plugin's thread, under its seccomp filter,
   * before anything else, and again after each restart. Returns the plugin's
   * state (non-NULL), or NULL and a message in err (err_len bytes,
   * NUL-terminated) when it cannot start. host stays valid until destroy. */
  void *(*init)(const raqib_host_api *host, char *err, size_t err_len);
  /* Required. Called once on the plugin's thread when it stops; frees the
   * state. Not called for a state abandoned after a crash or hang. */
  void (*destroy)(void *state);
  /* Detectors: required (printers: NULL). One record, owned by the host and
   * valid during the call. Returns RAQIB_OK, RAQIB_ERROR or
   * RAQIB_ERROR_EXCEPTION; must not let an exception escape. */
  int (*on_record)(void *state, const raqib_record *record);
  /* Printers: required (detectors: NULL). One output; returns as on_record. */
  int (*on_output)(void *state, const raqib_output *output);
  /* Required. The reason of the last error, owned by the plugin, valid until
   * its next call; may return NULL or "". */
  const char *(*last_error)(void *state);
} raqib_plugin_descriptor;

#ifdef __cplusplus
}
#endif

#endif /* RAQIB_PLUGIN_API_H */
