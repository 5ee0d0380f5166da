/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The watched lane of peers, and the bounds of the network context maps.
 * The core compiles the addresses and networks
 * the net recipes name (connect and accept recipes) into watched_peers, an
 * LPM trie, and the ports of those that name no address into
 * peer_watch_ports. A connect, UDP send or accept whose remote address or
 * port is watched and new to the epoch is recorded in peers_watched, which only such peers
 * reach: a flood of connections to other peers can fill the peers map, not
 * this. Any other peer is context, bounded per process in each epoch
 * (peer_proc_cap) so no one process can take the peers map for itself, and
 * so are flows (flow_proc_cap, by the socket's owner). file_pressure wakes
 * the core to drain early when the peers map, the lane or the flows map
 * passes its mark. docs/architecture.md, "Lanes". */
#ifndef RAQIB_PEERS_WATCHED_BPF_H
#define RAQIB_PEERS_WATCHED_BPF_H

#include "watched.bpf.h"

/* Set by the core between open and load (core/peer_lane.cpp). */
const volatile __u32 peer_watch_enabled = 0; /* the net recipes name some address */
/* Lane entries past which only single watched addresses get in: a flood of
 * connections across a watched network cannot take their room. */
const volatile __u32 peer_lane_soft = 0;
const volatile __u32 peer_lane_mark = 0; /* lane entries that start an early drain */
const volatile __u32 peer_proc_cap = 0;  /* peers entries per process per epoch; 0: none */
const volatile __u32 peer_fill_mark = 0; /* peers entries that start an early drain; 0: none */
const volatile __u32 flow_proc_cap = 0;  /* flows entries per process per epoch; 0: none */
const volatile __u32 flow_fill_mark = 0; /* flows entries that start an early drain; 0: none */
/* The watched ports, a bit per (direction, port): see RAQIB_PORT_BITS. */
const volatile __u64 peer_watch_ports[2 * RAQIB_PORT_BITS / 64] = {};

/* watched_peers: raqib_peer_prefix -> raqib_peer_watch. Bound: config, what
 * the recipes name. */
struct {
  __uint(type, BPF_MAP_TYPE_LPM_TRIE);
  __uint(map_flags, BPF_F_NO_PREALLOC);
  __uint(max_entries, 1);
  __type(key, struct raqib_peer_prefix);
  __type(value, struct raqib_peer_watch);
} watched_peers SEC(".maps");

/* peers_watched: the watched lane, raqib_peer_key -> raqib_watched_peer,
 * drained with peers. Allocated as it fills. */
RAQIB_LANE_PAIR(peers_watched, struct raqib_peer_key, struct raqib_watched_peer, 1024);

/* peer_epoch: enum raqib_peer_epoch_slot -> struct raqib_peer_epoch. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 3);
  __type(key, __u32);
  __type(value, struct raqib_peer_epoch);
} peer_epoch SEC(".maps");

/* peer_share, flow_share: tgid -> raqib_peer_share. Hashes, not task
 * storage: flows are recorded in softirq, where the current task is not the
 * owner. LRU: a process that made no entry for a while ages out (its share
 * starts over, as at the next epoch). */
struct raqib_share_map {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, 8192);
  __type(key, __u32);
  __type(value, struct raqib_peer_share);
};
struct raqib_share_map peer_share SEC(".maps"), flow_share SEC(".maps");

static __always_inline struct raqib_peer_epoch *peer_epoch_of(__u32 slot) {
  return bpf_map_lookup_elem(&peer_epoch, &slot);
}

/* Wake the core to drain early (word: enum raqib_pressure), once per
 * epoch of the slot. */
static __always_inline void net_pressure(struct raqib_peer_epoch *ep, __u64 word) {
  if (ep->signalled) return;
  ep->signalled = 1;
  bpf_ringbuf_output(&file_pressure, &word, sizeof(word), BPF_RB_FORCE_WAKEUP);
}

/* How key is watched for its direction: enum raqib_watch_match, 0 if not.
 * By its remote address first (the core ORs into each prefix the directions
 * of the wider ones that contain it, so the longest match says it all),
 * else by its port (as a prefix: a flood to a watched port across many
 * addresses cannot take the room of a single watched address). */
static __always_inline __u32 peer_watch_match(const struct raqib_peer_key *key) {
  struct raqib_peer_prefix p = {.prefixlen = 8 + 128};
  p.data[0] = key->family;
  __builtin_memcpy(&p.data[1], key->raddr, 16);
  struct raqib_peer_watch *w = bpf_map_lookup_elem(&watched_peers, &p);
  if (w && (w->directions & (1u << (key->direction & 31))))
    return w->exact ? RAQIB_WATCH_EXACT : RAQIB_WATCH_PREFIX;
  __u32 accept = key->direction == RAQIB_NET_ACCEPT;
  __u32 bit = (accept ? RAQIB_PORT_BITS + key->lport : key->rport) & (2 * RAQIB_PORT_BITS - 1);
  return peer_watch_ports[bit / 64] & (1ull << (bit % 64)) ? RAQIB_WATCH_PREFIX : 0;
}

/* The lane's entry for key, NULL when it has none. */
static __always_inline struct raqib_peer_value *peer_lane_find(const struct raqib_peer_key *key) {
  if (!peer_watch_enabled) return NULL;
  void *lane = current_epoch(&peers_watched);
  struct raqib_watched_peer *v = lane ? bpf_map_lookup_elem(lane, key) : NULL;
  return v ? &v->peer : NULL;
}

/* The lane's entry for key: found, or made (first seen at now, count 0)
 * when its peer is watched. NULL when the peer is not watched, or the lane
 * refused it (counted: capped past the soft mark, failed when full); the
 * caller records it as context then. */
static __always_inline struct raqib_peer_value *peer_lane_entry(const struct raqib_peer_key *key,
                                                                __u64 now) {
  if (!peer_watch_enabled) return NULL;
  void *lane = current_epoch(&peers_watched);
  if (!lane) return NULL;
  struct raqib_watched_peer *v = bpf_map_lookup_elem(lane, key);
  if (v) {
    count_map(RAQIB_MAP_PEERS_WATCHED, RAQIB_CNT_UPDATE);
    return &v->peer;
  }
  __u32 match = peer_watch_match(key);
  struct raqib_peer_epoch *ep = peer_epoch_of(RAQIB_PEER_EPOCH_LANE);
  if (!match || !ep) return NULL;
  if (!(match & RAQIB_WATCH_EXACT) && ep->filled >= peer_lane_soft) {
    count_capped(RAQIB_MAP_PEERS_WATCHED);
    net_pressure(ep, RAQIB_PRESSURE_PEERS);
    return NULL;
  }
  struct raqib_watched_peer init = {.peer = {.first_ns = now}, .match = match};
  long err = bpf_map_update_elem(lane, key, &init, BPF_NOEXIST);
  if (err == 0) {
    count_map(RAQIB_MAP_PEERS_WATCHED, RAQIB_CNT_INSERT);
    if (__sync_fetch_and_add(&ep->filled, 1) + 1 >= peer_lane_mark)
      net_pressure(ep, RAQIB_PRESSURE_PEERS);
  } else if (err != -EEXIST) {
    count_map(RAQIB_MAP_PEERS_WATCHED, RAQIB_CNT_FAILED);
    return NULL;
  }
  v = bpf_map_lookup_elem(lane, key);
  return v ? &v->peer : NULL;
}

/* Whether process tgid (0: not known, not bounded) may insert one more
 * entry in this epoch of a map (its slot, share map, cap and map id); a
 * refusal is counted as capped. */
static __always_inline bool net_share_left(__u32 slot, void *shares, __u32 cap, __u32 map_id,
                                           __u32 tgid) {
  struct raqib_peer_epoch *ep = peer_epoch_of(slot);
  if (!cap || !ep || !tgid) return true;
  struct raqib_peer_share *share = bpf_map_lookup_elem(shares, &tgid);
  if (!share) {
    struct raqib_peer_share first = {.seq = ep->seq, .inserted = 1};
    bpf_map_update_elem(shares, &tgid, &first, BPF_ANY);
    return true;
  }
  if (share->seq != ep->seq) {
    share->seq = ep->seq;
    share->inserted = 0;
  }
  if (share->inserted >= cap) {
    count_capped(map_id);
    return false;
  }
  __sync_fetch_and_add(&share->inserted, 1);
  return true;
}

/* An entry was inserted in the map of slot: past mark, wake the core once. */
static __always_inline void net_context_inserted(__u32 slot, __u32 mark, __u64 word) {
  struct raqib_peer_epoch *ep = peer_epoch_of(slot);
  if (!ep || !mark) return;
  if (__sync_fetch_and_add(&ep->filled, 1) + 1 >= mark) net_pressure(ep, word);
}

static __always_inline bool peer_share_left(__u32 tgid) {
  return net_share_left(RAQIB_PEER_EPOCH_CONTEXT, &peer_share, peer_proc_cap, RAQIB_MAP_PEERS,
                        tgid);
}

static __always_inline void peer_context_inserted(void) {
  net_context_inserted(RAQIB_PEER_EPOCH_CONTEXT, peer_fill_mark, RAQIB_PRESSURE_PEERS);
}

static __always_inline bool flow_share_left(__u32 tgid) {
  return net_share_left(RAQIB_PEER_EPOCH_FLOWS, &flow_share, flow_proc_cap, RAQIB_MAP_FLOWS, tgid);
}

static __always_inline void flow_context_inserted(void) {
  net_context_inserted(RAQIB_PEER_EPOCH_FLOWS, flow_fill_mark, RAQIB_PRESSURE_FLOWS);
}

#endif /* RAQIB_PEERS_WATCHED_BPF_H */
