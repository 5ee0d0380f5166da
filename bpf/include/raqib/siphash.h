/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* SipHash-2-4 (Aumasson and Bernstein), shared by the BPF programs and the
 * core so both compute the same keyed hash of a path. The input must be
 * zero-filled from len up to the next multiple of 8: the last block is read
 * as a whole word, which is what lets the BPF verifier accept the loop.
 *
 * It is also taken one word at a time (raqib_sip_init, _word, _finish), so
 * that one pass over a path gives the hash of every prefix of it: the state
 * after the path's first k words, finished with the prefix's last partial
 * word, is raqib_siphash24 of the prefix. The watched sets use that to look
 * up every directory prefix of a path (bpf/watched.bpf.h).
 * tests/unit/test_siphash.cpp checks both against the reference vectors. */
#ifndef RAQIB_SIPHASH_H
#define RAQIB_SIPHASH_H

#include "records.h"

#define RAQIB_ROTL64(x, b) (((x) << (b)) | ((x) >> (64 - (b))))

#define RAQIB_SIPROUND(v0, v1, v2, v3) \
  do {                                 \
    v0 += v1;                          \
    v1 = RAQIB_ROTL64(v1, 13);         \
    v1 ^= v0;                          \
    v0 = RAQIB_ROTL64(v0, 32);         \
    v2 += v3;                          \
    v3 = RAQIB_ROTL64(v3, 16);         \
    v3 ^= v2;                          \
    v0 += v3;                          \
    v3 = RAQIB_ROTL64(v3, 21);         \
    v3 ^= v0;                          \
    v2 += v1;                          \
    v1 = RAQIB_ROTL64(v1, 17);         \
    v1 ^= v2;                          \
    v2 = RAQIB_ROTL64(v2, 32);         \
  } while (0)

/* One little-endian word of the input (x86 and BPF on it are). A plain
 * load for the verifier; elsewhere a copy, which C's aliasing rules allow on
 * a byte buffer. */
#ifdef __bpf__
#define RAQIB_SIP_LOAD64(p) (*(const __u64 *)(p))
#else
static inline __u64 raqib_sip_load64(const __u8 *p) {
  __u64 w;
  __builtin_memcpy(&w, p, sizeof w);
  return w;
}
#define RAQIB_SIP_LOAD64(p) raqib_sip_load64(p)
#endif

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

/* Hash len bytes of data. len is at most RAQIB_PATH_MAX; data holds len
 * rounded up to 8 bytes, zero-filled. */
static inline __u64 raqib_siphash24(const __u8 *data, __u32 len, __u64 k0, __u64 k1) {
  struct raqib_sipstate s;
  __u32 full = len / 8;
  __u32 i;

  raqib_sip_init(&s, k0, k1);
  for (i = 0; i < RAQIB_PATH_MAX / 8; i++) {
    if (i >= full) break;
    raqib_sip_word(&s, RAQIB_SIP_LOAD64(data + ((i * 8) & (RAQIB_PATH_MAX - 1))));
  }
  /* Tail: the remaining len % 8 bytes (zero-filled after them). i is at most
   * RAQIB_PATH_MAX / 8 here, which bounds the read for the verifier. */
  return raqib_sip_finish(&s, RAQIB_SIP_LOAD64(data + ((i * 8) & (2 * RAQIB_PATH_MAX - 1))), len);
}

#endif /* RAQIB_SIPHASH_H */
