// The SipHash-2-4 the BPF programs and the core share, against the reference
// implementation's vectors (key 00..0f, messages 00, 00 01, ...).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "raqib/siphash.h"

namespace {

uint64_t hashOf(size_t len) {
  std::vector<uint8_t> buf(len + 8, 0);  // zero-filled past len, as the BPF side keeps it
  for (size_t i = 0; i < len; i++) buf[i] = uint8_t(i);
  uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
  return raqib_siphash24(buf.data(), uint32_t(len), k0, k1);
}

TEST(SipHash, ReferenceVectors) {
  // From the SipHash paper's reference implementation (vectors.h), read as
  // little-endian 64-bit words.
  EXPECT_EQ(hashOf(0), 0x726fdb47dd0e0e31ULL);
  EXPECT_EQ(hashOf(1), 0x74f839c593dc67fdULL);
  EXPECT_EQ(hashOf(7), 0xab0200f58b01d137ULL);
  EXPECT_EQ(hashOf(8), 0x93f5f5799a932462ULL);
  EXPECT_EQ(hashOf(15), 0xa129ca6149be45e5ULL);
  EXPECT_EQ(hashOf(16), 0x3f2acc7f57c29bdbULL);
  EXPECT_EQ(hashOf(24), 0xb8ad50c6f649af94ULL);
  EXPECT_EQ(hashOf(63), 0x958a324ceb064572ULL);
}

TEST(SipHash, KeyChangesTheHash) {
  uint8_t path[16] = "/etc/shadow";
  EXPECT_NE(raqib_siphash24(path, 11, 1, 2), raqib_siphash24(path, 11, 1, 3));
}

}  // namespace
