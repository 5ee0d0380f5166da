// MemoryRanges: the memory a plugin thread made writable, as the answerer
// charges it against the plugin's memory limit. Overlaps count once, taking
// out a hole or memory never added gives nothing back, and its fixed
// capacity (it may not allocate) never loses count.
#include <gtest/gtest.h>

#include "sandbox.hpp"

namespace raqib {
namespace {

TEST(MemoryRanges, OverlapsAndTouchingRangesCountOnce) {
  MemoryRanges m;
  m.add(0x1000, 0x3000);
  EXPECT_EQ(m.bytes(), 0x2000u);
  EXPECT_EQ(m.uncovered(0x2000, 0x5000), 0x2000u);
  m.add(0x2000, 0x5000);  // overlaps
  EXPECT_EQ(m.bytes(), 0x4000u);
  m.add(0x5000, 0x6000);  // touches
  m.add(0x1000, 0x6000);  // already in
  EXPECT_EQ(m.bytes(), 0x5000u);
  EXPECT_EQ(m.uncovered(0x1000, 0x6000), 0u);
  m.add(0x8000, 0x9000);
  EXPECT_EQ(m.uncovered(0x0, 0xa000), 0xa000u - 0x6000u);
}

TEST(MemoryRanges, RemovingGivesBackOnlyWhatWasIn) {
  MemoryRanges m;
  m.add(0x10000, 0x20000);
  EXPECT_EQ(m.remove(0x40000, 0x80000), 0u);       // a hole: unmapping it frees nothing of ours
  EXPECT_EQ(m.remove(0x14000, 0x18000), 0x4000u);  // the middle: split in two
  EXPECT_EQ(m.bytes(), 0xc000u);
  EXPECT_EQ(m.uncovered(0x10000, 0x20000), 0x4000u);
  EXPECT_EQ(m.remove(0x0, 0x12000), 0x2000u);      // the head
  EXPECT_EQ(m.remove(0x1c000, 0x30000), 0x4000u);  // the tail
  EXPECT_EQ(m.bytes(), 0x6000u);
  EXPECT_EQ(m.remove(0x0, UINT64_MAX), 0x6000u);
  EXPECT_EQ(m.bytes(), 0u);
}

TEST(MemoryRanges, AFullTableKeepsCounting) {
  MemoryRanges m;
  constexpr uint64_t kPage = 0x1000;
  for (uint64_t i = 0; i < MemoryRanges::kCapacity; i++)  // disjoint: one range each
    m.add(2 * i * kPage, (2 * i + 1) * kPage);
  EXPECT_EQ(m.room(), 0u);
  EXPECT_EQ(m.bytes(), MemoryRanges::kCapacity * kPage);
  m.add(kPage, 2 * kPage);  // fills the gap between the first two: they merge
  EXPECT_EQ(m.room(), 1u);
  EXPECT_EQ(m.bytes(), (MemoryRanges::kCapacity + 1) * kPage);
  m.add(2 * kPage * MemoryRanges::kCapacity, 2 * kPage * MemoryRanges::kCapacity + kPage);
  EXPECT_EQ(m.room(), 0u);
  // Splitting one range in two needs room: it stays whole, and charged.
  uint64_t before = m.bytes();
  EXPECT_EQ(m.remove(4 * kPage + 0x10, 4 * kPage + 0x20), 0u);
  EXPECT_EQ(m.bytes(), before);
  // Taking out a whole range makes room again.
  EXPECT_EQ(m.remove(4 * kPage, 5 * kPage), kPage);
  EXPECT_EQ(m.room(), 1u);
  EXPECT_EQ(m.remove(0, UINT64_MAX), before - kPage);
  EXPECT_EQ(m.bytes(), 0u);
  EXPECT_EQ(m.room(), MemoryRanges::kCapacity);
}

}  // namespace
}  // namespace raqib
