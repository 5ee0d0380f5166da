// The SipHash-2-4 the BPF programs and the core share, against the reference
// implementation's vectors (key 00..0f, messages 00, 00 01, ...).
#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "raqib/siphash.h"

#include <string>

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

namespace {

// Hashing a path one word at a time and finishing at each '/' gives the
// hash of every directory prefix, as hashing each prefix whole does (the
// BPF watched-set pass, bpf/watched.bpf.h, relies on it).
TEST(SipHashStream, EveryPrefixHashEqualsTheWholeHash) {
  const std::string path = "/usr/lib/x86_64-linux-gnu/security/pam_unix.so/a/bc/defghij/k";
  std::vector<uint8_t> buf(path.size() + 16, 0);
  std::memcpy(buf.data(), path.data(), path.size());
  uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
  raqib_sipstate st;
  raqib_sip_init(&st, k0, k1);
  int checked = 0;
  for (size_t word = 0; word * 8 < path.size(); word++) {
    uint64_t m;
    std::memcpy(&m, &buf[word * 8], 8);
    for (size_t j = 0; j < 8 && word * 8 + j < path.size(); j++) {
      size_t len = word * 8 + j + 1;
      if (path[len - 1] != '/') continue;
      std::vector<uint8_t> prefix(path.begin(), path.begin() + len);
      prefix.resize(len + 8, 0);
      uint64_t whole = raqib_siphash24(prefix.data(), uint32_t(len), k0, k1);
      uint64_t streamed;
      if (j < 7) {
        streamed = raqib_sip_finish(&st, m & ((1ULL << (8 * (j + 1))) - 1), uint32_t(len));
      } else {
        raqib_sipstate after = st;
        raqib_sip_word(&after, m);
        streamed = raqib_sip_finish(&after, 0, uint32_t(len));
      }
      EXPECT_EQ(streamed, whole) << path.substr(0, len);
      checked++;
    }
    raqib_sip_word(&st, m);
  }
  EXPECT_EQ(checked, 9);
  // And the whole path, finished after its last whole word.
  size_t full = path.size() / 8 * 8;
  uint64_t tail = 0;
  std::memcpy(&tail, &buf[full], path.size() - full);
  raqib_sipstate whole_st;
  raqib_sip_init(&whole_st, k0, k1);
  for (size_t word = 0; word < full / 8; word++) {
    uint64_t m;
    std::memcpy(&m, &buf[word * 8], 8);
    raqib_sip_word(&whole_st, m);
  }
  EXPECT_EQ(raqib_sip_finish(&whole_st, tail, uint32_t(path.size())),
            raqib_siphash24(buf.data(), uint32_t(path.size()), k0, k1));
}

}  // namespace
