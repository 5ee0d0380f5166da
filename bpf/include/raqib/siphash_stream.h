/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* SipHash-2-4 one word at a time, so that one pass over a path gives the
 * hash of every prefix of it: the state after the path's first k words,
 * finished with the prefix's last partial word, is raqib_siphash24 of the
 * prefix (tests/unit/test_siphash.cpp checks that). The watched sets use it
 * to look up every directory prefix of a path (bpf/watched.bpf.h). */
#ifndef RAQIB_SIPHASH_STREAM_H
#define RAQIB_SIPHASH_STREAM_H

#include "siphash.h"

struct raqib_sipstate {
  __u64 v0, v1, v2, v3;
};

static inline void raqib_sip_init(struct raqib_sipstate *s, __u64 k0, __u64 k1) {
  s->v0 = 0x736f6d6570736575ULL ^ k0;
  s->v1 = 0x646f72616e646f6dULL ^ k1;
  s->v2 = 0x6c7967656e657261ULL ^ k0;
  s->v3 = 0x7465646279746573ULL ^ k1;
}

/* Absorb one whole 8-byte word (little-endian) of the input. */
static inline void raqib_sip_word(struct raqib_sipstate *s, __u64 m) {
  __u64 v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
  v3 ^= m;
  RAQIB_SIPROUND(v0, v1, v2, v3);
  RAQIB_SIPROUND(v0, v1, v2, v3);
  v0 ^= m;
  s->v0 = v0;
  s->v1 = v1;
  s->v2 = v2;
  s->v3 = v3;
}

/* The hash of an input of len bytes whose whole words s has absorbed; tail
 * holds its last len % 8 bytes, zero above them. s is not changed. */
static inline __u64 raqib_sip_finish(const struct raqib_sipstate *s, __u64 tail, __u32 len) {
  __u64 v0 = s->v0, v1 = s->v1, v2 = s->v2, v3 = s->v3;
  __u64 m = tail | ((__u64)len << 56);
  v3 ^= m;
  RAQIB_SIPROUND(v0, v1, v2, v3);
  RAQIB_SIPROUND(v0, v1, v2, v3);
  v0 ^= m;
  v2 ^= 0xff;
  RAQIB_SIPROUND(v0, v1, v2, v3);
  RAQIB_SIPROUND(v0, v1, v2, v3);
  RAQIB_SIPROUND(v0, v1, v2, v3);
  RAQIB_SIPROUND(v0, v1, v2, v3);
  return v0 ^ v1 ^ v2 ^ v3;
}

#endif /* RAQIB_SIPHASH_STREAM_H */
