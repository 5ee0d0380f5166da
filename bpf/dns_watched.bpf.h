/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* The watched lane of DNS. The core compiles the domains the net recipes
 * name into watched_paths, in wire format and lower case, marked
 * RAQIB_WATCH_DNS_RECIPE: a name exactly ("c2.example", exact) or that name
 * and every name under it (".example", in the prefix field). A question
 * whose name is watched is recorded in dns_watched, which only such
 * questions reach, with the name itself in the value: a flood of questions
 * for other names can fill the dns map and the strings LRU, not this.
 * Names are matched case-insensitively: the name is lowered word by word,
 * its labels counted, then each suffix that starts at a label and has as
 * many labels as some watched domain is hashed and looked up.
 * docs/architecture.md, "Lanes". */
#ifndef RAQIB_DNS_WATCHED_BPF_H
#define RAQIB_DNS_WATCHED_BPF_H

#include "watched.bpf.h"

/* Set by the core between open and load (core/dns_lane.cpp). */
const volatile __u32 dns_watch_enabled = 0; /* the net recipes name some domain */
/* The fewest and most labels of a watched domain: only suffixes of a name
 * with that many labels are hashed. */
const volatile __u32 dns_watch_labels_min = 0;
const volatile __u32 dns_watch_labels_max = 0;
/* Lane entries past which only exact names get in: a flood of names under a
 * watched domain cannot take the room of the names watched exactly. */
const volatile __u32 dns_lane_soft = 0;
const volatile __u32 dns_lane_mark = 0; /* lane entries that start an early drain */

/* dns_watched: the watched lane, raqib_dns_key -> raqib_watched_dns, drained
 * with dns. Allocated as it fills. */
RAQIB_LANE_PAIR(dns_watched, struct raqib_dns_key, struct raqib_watched_dns, 1024);

/* dns_lane_epoch: struct raqib_dns_lane_epoch. */
struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct raqib_dns_lane_epoch);
} dns_lane_epoch SEC(".maps");

/* Wake the core to drain the lane early, once per epoch. */
static __always_inline void dns_lane_pressure(struct raqib_dns_lane_epoch *ep) {
  if (ep->signalled) return;
  ep->signalled = 1;
  __u64 word = RAQIB_PRESSURE_DNS;
  bpf_ringbuf_output(&file_pressure, &word, sizeof(word), BPF_RB_FORCE_WAKEUP);
}

#define RAQIB_DNS_LOWER_MAX (2 * RAQIB_DNS_NAME_MAX) /* a suffix's start and length, each masked \
                                                      */

/* Per-CPU working space; slot 0 for egress, 1 for ingress (as net_scratch). */
struct raqib_dns_watch_scratch {
  struct raqib_watched_dns val;        /* the lane entry being made */
  char lower[RAQIB_DNS_LOWER_MAX + 8]; /* the name in lower case */
  char buf[2 * RAQIB_PATH_MAX + 8];    /* one suffix, zero-filled after (SipHash reads words) */
};
struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, 2);
  __type(key, __u32);
  __type(value, struct raqib_dns_watch_scratch);
} dns_watch_scratch SEC(".maps");

/* The eight bytes of w with ASCII capitals lowered (length bytes, below
 * 64, and other bytes are kept). */
static __always_inline __u64 dns_lower_word(__u64 w) {
  const __u64 ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
  __u64 seven = w & ~high;
  __u64 ge_a = seven + (0x80 - 'A') * ones;     /* high bit: byte >= 'A' */
  __u64 gt_z = seven + (0x80 - 'Z' - 1) * ones; /* high bit: byte > 'Z' */
  __u64 upper = ge_a & ~gt_z & ~w & high;
  return w | (upper >> 2);
}

struct dns_watch_walk {
  __u32 slot;
  __u32 pos; /* the label the suffix starts at */
  __u32 len; /* of the name, its terminating zero included */
  __u32 match;
  __u32 labels; /* in the suffix at pos */
};

/* One label of the lowered name: counted. 1 at its end. */
static long dns_count_label(__u32 index, void *ctx) {
  struct dns_watch_walk *w = ctx;
  struct raqib_dns_watch_scratch *ds = bpf_map_lookup_elem(&dns_watch_scratch, &w->slot);
  if (!ds || w->pos >= w->len || w->pos >= RAQIB_DNS_NAME_MAX) return 1;
  __u8 label = ds->lower[w->pos & (RAQIB_DNS_NAME_MAX - 1)];
  if (label == 0 || (label & 0xc0)) return 1;
  w->labels++;
  w->pos += label + 1;
  return 0;
}

/* The suffix at the walk's label: a watched domain? 1 ends the walk. */
static long dns_watch_label(__u32 index, void *ctx) {
  struct dns_watch_walk *w = ctx;
  struct raqib_dns_watch_scratch *ds = bpf_map_lookup_elem(&dns_watch_scratch, &w->slot);
  if (!ds || w->pos >= w->len || w->pos >= RAQIB_DNS_NAME_MAX) return 1;
  if (w->labels < dns_watch_labels_min) return 1; /* shorter than any watched domain */
  __u32 pos = w->pos & (RAQIB_DNS_NAME_MAX - 1);
  __u8 label = ds->lower[pos];
  if (label == 0 || (label & 0xc0)) return 1;
  w->labels--;
  w->pos = pos + label + 1;
  if (w->labels + 1 > dns_watch_labels_max) return 0; /* longer than any: not hashed */
  __u32 n = (w->len - pos) & (RAQIB_DNS_NAME_MAX - 1);
  if (n == 0) n = RAQIB_DNS_NAME_MAX; /* only a whole name is that long */
  bpf_probe_read_kernel(ds->buf, n, &ds->lower[pos]);
  __builtin_memset(&ds->buf[n], 0, 8);
  __u64 h = raqib_siphash24((const __u8 *)ds->buf, n, hash_key0, hash_key1);
  struct raqib_watch_actions *a = bpf_map_lookup_elem(&watched_paths, &h);
  if (a && (a->prefix & RAQIB_WATCH_DNS_RECIPE)) w->match |= RAQIB_WATCH_PREFIX;
  if (a && pos == 0 && (a->exact & RAQIB_WATCH_DNS_RECIPE)) w->match |= RAQIB_WATCH_EXACT;
  return 0;
}

/* How the wire-format name s (complete, not truncated) is watched by net
 * recipes: enum raqib_watch_match, 0 if not. */
static __always_inline __u32 dns_watch_match(__u32 slot, const struct raqib_string *s) {
  struct raqib_dns_watch_scratch *ds = bpf_map_lookup_elem(&dns_watch_scratch, &slot);
  if (!ds || s->len == 0 || s->len > RAQIB_DNS_NAME_MAX) return 0;
#pragma unroll
  for (int i = 0; i < RAQIB_DNS_NAME_MAX / 8; i++)
    *(__u64 *)&ds->lower[i * 8] = dns_lower_word(*(const __u64 *)&s->str[i * 8]);
  struct dns_watch_walk w = {.slot = slot, .len = s->len};
  bpf_loop(RAQIB_DNS_LABELS_MAX, dns_count_label, &w, 0);
  w.pos = 0;
  bpf_loop(RAQIB_DNS_LABELS_MAX, dns_watch_label, &w, 0);
  return w.match;
}

/* The lane's entry for key: found, or made when the name s is watched
 * (first seen at now). NULL when the question is not watched, or the lane
 * refused it (counted: capped past the soft mark, failed when full); the
 * caller records it as context then. Past the mark, or once capped, the
 * core is woken to drain the lane early. */
static __always_inline struct raqib_dns_value *dns_lane_entry(__u32 slot,
                                                              const struct raqib_dns_key *key,
                                                              const struct raqib_string *s,
                                                              __u64 now) {
  if (!dns_watch_enabled) return NULL;
  void *lane = current_epoch(&dns_watched);
  if (!lane) return NULL;
  struct raqib_watched_dns *v = bpf_map_lookup_elem(lane, key);
  if (v) {
    count_map(RAQIB_MAP_DNS_WATCHED, RAQIB_CNT_UPDATE);
    return &v->dns;
  }
  __u32 match = dns_watch_match(slot, s);
  struct raqib_dns_watch_scratch *ds = bpf_map_lookup_elem(&dns_watch_scratch, &slot);
  __u32 zero = 0;
  struct raqib_dns_lane_epoch *ep = bpf_map_lookup_elem(&dns_lane_epoch, &zero);
  if (!match || !ds || !ep) return NULL;
  if (!(match & RAQIB_WATCH_EXACT) && ep->filled >= dns_lane_soft) {
    count_capped(RAQIB_MAP_DNS_WATCHED);
    dns_lane_pressure(ep);
    return NULL;
  }
  __builtin_memset(&ds->val.dns, 0, sizeof(ds->val.dns));
  ds->val.dns.first_ns = now;
  ds->val.match = match;
  watch_copy_string(&ds->val.name, s);
  long err = bpf_map_update_elem(lane, key, &ds->val, BPF_NOEXIST);
  if (err == 0) {
    count_map(RAQIB_MAP_DNS_WATCHED, RAQIB_CNT_INSERT);
    if (__sync_fetch_and_add(&ep->filled, 1) + 1 >= dns_lane_mark) dns_lane_pressure(ep);
  } else if (err != -EEXIST) {
    count_map(RAQIB_MAP_DNS_WATCHED, RAQIB_CNT_FAILED);
    return NULL;
  }
  v = bpf_map_lookup_elem(lane, key);
  return v ? &v->dns : NULL;
}

#endif /* RAQIB_DNS_WATCHED_BPF_H */
