// The BPF object and the core must agree on every shared layout
// (bpf/include/raqib/records.h); tests/unit/test_layout.cpp also compares
// these with the BTF of the built object.
#include <cstddef>

#include <raqib/plugin_api.h>

#include "raqib/records.h"

static_assert(sizeof(raqib_rec_header) == 8);
static_assert(sizeof(raqib_live_task) == 16);
static_assert(offsetof(raqib_live_task, start_ns) == 8);
static_assert(sizeof(raqib_proc) == 104 + RAQIB_COMM_LEN + RAQIB_ARGS_MAX);
static_assert(offsetof(raqib_proc, exec_seq) == 96 + RAQIB_COMM_LEN + RAQIB_ARGS_MAX);
static_assert(offsetof(raqib_proc, tgid) == 8);
static_assert(offsetof(raqib_proc, start_ns) == 32);
static_assert(offsetof(raqib_proc, exe_hash) == 64);
static_assert(offsetof(raqib_proc, flags) == 72);
static_assert(offsetof(raqib_proc, mnt_ns) == 80);
static_assert(offsetof(raqib_proc, comm) == 96);
static_assert(offsetof(raqib_proc, args) == 96 + RAQIB_COMM_LEN);
static_assert(sizeof(raqib_file_key) == 48);
static_assert(offsetof(raqib_file_key, exec_seq) == 32);
static_assert(offsetof(raqib_file_key, start_ns) == 40);
static_assert(sizeof(raqib_image) == 16);
static_assert(offsetof(raqib_image, start_ns) == 8);
static_assert(offsetof(raqib_file_key, other_hash) == 8);
static_assert(offsetof(raqib_file_key, tgid) == 16);
static_assert(offsetof(raqib_file_key, error) == 24);
static_assert(offsetof(raqib_file_key, path_flags) == 28);
static_assert(sizeof(raqib_file_value) == 24);
static_assert(sizeof(raqib_string) == 8 + RAQIB_PATH_MAX + 8);
static_assert(sizeof(raqib_map_counters) == 32);
static_assert(sizeof(raqib_watch_actions) == 16);
static_assert(sizeof(raqib_inode_id) == 16);
static_assert(sizeof(raqib_watch_inode) == 16);
static_assert(offsetof(raqib_watched_value, canonical_hash) == 24);
static_assert(offsetof(raqib_watched_value, match) == 32);
static_assert(offsetof(raqib_watched_value, path) == 40);
static_assert(sizeof(raqib_watched_value) == 40 + sizeof(raqib_string));
static_assert(offsetof(raqib_watched_proc, match) == sizeof(raqib_proc));
static_assert(offsetof(raqib_watched_proc, exe) == sizeof(raqib_proc) + 8);
static_assert(sizeof(raqib_watched_proc) == sizeof(raqib_proc) + 8 + sizeof(raqib_string));
static_assert(offsetof(raqib_watched_dns, match) == sizeof(raqib_dns_value));
static_assert(offsetof(raqib_watched_dns, name) == sizeof(raqib_dns_value) + 8);

// The kernel's file action bits are handed to plugins unchanged.
#define SAME_BIT(name) static_assert(unsigned(RAQIB_FILE_##name) == unsigned(RAQIB_ACTION_##name))
SAME_BIT(OPEN);
SAME_BIT(READ);
SAME_BIT(WRITE);
SAME_BIT(CREATE);
SAME_BIT(TRUNCATE);
SAME_BIT(UNLINK);
SAME_BIT(RENAME);
SAME_BIT(LINK);
SAME_BIT(SYMLINK);
SAME_BIT(CHMOD);
SAME_BIT(CHOWN);
SAME_BIT(SETCAP);
SAME_BIT(MMAP_EXEC);
SAME_BIT(EXEC);
SAME_BIT(MOUNT);
SAME_BIT(UMOUNT);

// Network (records.h "network").
static_assert(sizeof(raqib_peer_key) == 48);
static_assert(offsetof(raqib_peer_key, tgid) == 16);
static_assert(offsetof(raqib_peer_key, rport) == 20);
static_assert(offsetof(raqib_peer_key, lport) == 22);
static_assert(offsetof(raqib_peer_key, family) == 24);
static_assert(offsetof(raqib_peer_key, direction) == 26);
static_assert(offsetof(raqib_peer_key, exec_seq) == 32);
static_assert(offsetof(raqib_peer_key, start_ns) == 40);
static_assert(sizeof(raqib_peer_value) == 32);
static_assert(offsetof(raqib_peer_value, error) == 24);
static_assert(offsetof(raqib_peer_value, last_rport) == 28);
static_assert(sizeof(raqib_flow_key) == 40);
static_assert(offsetof(raqib_flow_key, raddr) == 16);
static_assert(offsetof(raqib_flow_key, lport) == 32);
static_assert(offsetof(raqib_flow_key, family) == 36);
static_assert(sizeof(raqib_flow_value) == 72);
static_assert(offsetof(raqib_flow_value, first_ns) == 32);
static_assert(offsetof(raqib_flow_value, tgid) == 48);
static_assert(offsetof(raqib_flow_value, state) == 52);
static_assert(offsetof(raqib_flow_value, exec_seq) == 56);
static_assert(offsetof(raqib_flow_value, start_ns) == 64);
static_assert(sizeof(raqib_dns_key) == 16);
static_assert(offsetof(raqib_dns_key, tgid) == 8);
static_assert(offsetof(raqib_dns_key, qtype) == 12);
static_assert(sizeof(raqib_dns_value) == 104);
static_assert(offsetof(raqib_dns_value, answers) == 32);
static_assert(offsetof(raqib_dns_value, answer_family) == 96);
static_assert(offsetof(raqib_dns_value, answers_len) == 100);
static_assert(offsetof(raqib_dns_value, rcode) == 101);
static_assert(offsetof(raqib_dns_value, flags) == 102);
static_assert(sizeof(raqib_sock_owner) == 16);
static_assert(offsetof(raqib_sock_owner, start_ns) == 8);
static_assert(sizeof(raqib_peer_prefix) == 24);
static_assert(offsetof(raqib_peer_prefix, data) == 4);
static_assert(sizeof(raqib_peer_watch) == 8);
static_assert(sizeof(raqib_watched_peer) == sizeof(raqib_peer_value) + 8);
static_assert(sizeof(raqib_peer_epoch) == 24);
static_assert(sizeof(raqib_peer_share) == 16);

// The kernel's direction and DNS flag bits are handed to plugins unchanged.
static_assert(RAQIB_NET_CONNECT == RAQIB_FLOW_CONNECT);
static_assert(RAQIB_NET_ACCEPT == RAQIB_FLOW_ACCEPT);
static_assert(int(RAQIB_DNSV_NAME_TRUNCATED) == int(RAQIB_DNS_NAME_TRUNCATED));
static_assert(int(RAQIB_DNSV_ANSWERS_TRUNCATED) == int(RAQIB_DNS_ANSWERS_TRUNCATED));
// Tamper evidence (records.h "tamper evidence").
static_assert(sizeof(raqib_object_key) == 8);
static_assert(sizeof(raqib_tamper_key) == 24);
static_assert(offsetof(raqib_tamper_key, object_id) == 16);
static_assert(offsetof(raqib_tamper_key, detail) == 8);
static_assert(sizeof(raqib_tamper_value) == 56);
static_assert(offsetof(raqib_tamper_value, object_id) == 24);
static_assert(offsetof(raqib_tamper_value, name) == 32);
static_assert(offsetof(raqib_tamper_value, taken_id) == 48);
