// EpochPair on real kernel maps: a map taken out of service goes back in
// only once it has been drained to empty, so a drain that failed part-way
// is retried instead of handing a still-full map to the programs.
#include <gtest/gtest.h>
#include <bpf/bpf.h>
#include <unistd.h>

#include <cerrno>
#include <utility>

#include "bpf_monitor.hpp"

namespace raqib {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd &operator=(Fd &&other) noexcept {
    std::swap(fd_, other.fd_);
    return *this;
  }
  int get() const { return fd_; }

 private:
  int fd_;
};

// The inner map's id in the outer map's one slot.
uint32_t slotId(int outer) {
  uint32_t key = 0, id = 0;
  EXPECT_EQ(bpf_map_lookup_elem(outer, &key, &id), 0);
  return id;
}

uint32_t idOf(int fd) {
  bpf_map_info info{};
  uint32_t len = sizeof info;
  EXPECT_EQ(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
  return info.id;
}

// Two inner hash maps, a in the outer map's slot.
class EpochPairTest : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_GE(a.get(), 0) << "needs root to create BPF maps";
    ASSERT_GE(b.get(), 0);
    LIBBPF_OPTS(bpf_map_create_opts, opts, .inner_map_fd = static_cast<__u32>(a.get()));
    outer = Fd(bpf_map_create(BPF_MAP_TYPE_ARRAY_OF_MAPS, "raqib_test_o", 4, 4, 1, &opts));
    ASSERT_GE(outer.get(), 0);
    uint32_t slot = 0;
    int a_fd = a.get();
    ASSERT_EQ(bpf_map_update_elem(outer.get(), &slot, &a_fd, BPF_ANY), 0);
  }
  Fd a{bpf_map_create(BPF_MAP_TYPE_HASH, "raqib_test_a", 4, 8, 64, nullptr)};
  Fd b{bpf_map_create(BPF_MAP_TYPE_HASH, "raqib_test_b", 4, 8, 64, nullptr)};
  Fd outer{-1};
};

TEST_F(EpochPairTest, AMapWhoseDrainFailedIsNotPutBackInService) {
  EpochPair pair(outer.get(), a.get(), b.get());
  auto first = pair.flip();
  ASSERT_TRUE(first) << first.error();
  EXPECT_EQ(*first, a.get());
  EXPECT_EQ(slotId(outer.get()), idOf(b.get()));

  // The drain of a failed part-way (not marked drained): the next flip
  // hands a back for draining again and leaves b in service.
  auto retry = pair.flip();
  ASSERT_TRUE(retry) << retry.error();
  EXPECT_EQ(*retry, a.get());
  EXPECT_EQ(slotId(outer.get()), idOf(b.get()));

  // Drained to empty: now the flip swaps.
  pair.drained();
  auto next = pair.flip();
  ASSERT_TRUE(next) << next.error();
  EXPECT_EQ(*next, b.get());
  EXPECT_EQ(slotId(outer.get()), idOf(a.get()));
}

// A guard whose own entry is no entry at all: a map holds only its own when
// it is empty.
class EmptyIsIdle : public EpochGuard {
 public:
  void takenOut(int) override {}
  void emptied(int) override {}
  bool holdsOnlyItsOwn(int fd) override {
    uint32_t key;
    return bpf_map_get_next_key(fd, nullptr, &key) == -ENOENT;
  }
};

TEST_F(EpochPairTest, IdleMapsStayInPlaceUntilEitherHoldsAnEntry) {
  EmptyIsIdle guard;
  EpochPair pair(outer.get(), a.get(), b.get());
  pair.guard(&guard);

  auto idle = pair.flip();
  ASSERT_TRUE(idle) << idle.error();
  EXPECT_EQ(*idle, EpochPair::kNothingToDrain);
  EXPECT_EQ(slotId(outer.get()), idOf(a.get())) << "no swap while both are idle";
  pair.drained();  // nothing was taken out: nothing changes

  // An entry in the map out of service (b) is enough: it goes into service,
  // and a, empty, is taken out.
  uint32_t key = 1;
  uint64_t value = 1;
  ASSERT_EQ(bpf_map_update_elem(b.get(), &key, &value, BPF_ANY), 0);
  auto swapped = pair.flip();
  ASSERT_TRUE(swapped) << swapped.error();
  EXPECT_EQ(*swapped, a.get());
  EXPECT_EQ(slotId(outer.get()), idOf(b.get()));
  pair.drained();
  auto next = pair.flip();  // b, in service, holds the entry
  ASSERT_TRUE(next) << next.error();
  EXPECT_EQ(*next, b.get());
  pair.unguard();
}

}  // namespace
}  // namespace raqib
