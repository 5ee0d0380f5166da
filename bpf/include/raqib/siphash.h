/* SPDX-License-Identifier: (LGPL-2.1 OR BSD-2-Clause) */
/* SipHash-2-4 (Aumasson and Bernstein), shared by the BPF programs and the
 * core so both compute the same keyed hash of a path. The input must be
 * zero-filled from len up to the next multiple of 8: the last block is read
 * as a whole word, which is what lets the BPF verifier accept the loop.
 * tests/unit/test_siphash.cpp checks it against the reference vectors. */
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

/* Hash len bytes of data (little-endian words; x86 and BPF on it are). len is
 * at most RAQIB_PATH_MAX; data holds len rounded up to 8 bytes, zero-filled. */
static inline __u64 raqib_siphash24(const __u8 *data, __u32 len, __u64 k0, __u64 k1) {
  __u64 v0 = 0x736f6d6570736575ULL ^ k0;
  __u64 v1 = 0x646f72616e646f6dULL ^ k1;
  __u64 v2 = 0x6c7967656e657261ULL ^ k0;
  __u64 v3 = 0x7465646279746573ULL ^ k1;
  __u32 full = len / 8;
  __u64 m;
  __u32 i;

  for (i = 0; i < RAQIB_PATH_MAX / 8; i++) {
    if (i >= full) break;
    m = *(const __u64 *)(data + ((i * 8) & (RAQIB_PATH_MAX - 1)));
    v3 ^= m;
    RAQIB_SIPROUND(v0, v1, v2, v3);
    RAQIB_SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
  }
  /* Tail: the remaining len % 8 bytes (zero-filled after them) and len. i is
   * at most RAQIB_PATH_MAX / 8 here, which bounds the read for the verifier. */
  m = *(const __u64 *)(data + ((i * 8) & (2 * RAQIB_PATH_MAX - 1)));
  m |= ((__u64)len) << 56;
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

#endif /* RAQIB_SIPHASH_H */
