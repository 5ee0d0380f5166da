// The queue between the drain and each plugin thread: several producers, one
// consumer, bounded, never blocking a producer. Run under ThreadSanitizer by
// test.sh (suite "threads").
#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "bounded_queue.hpp"

namespace raqib {
namespace {

using namespace std::chrono_literals;

TEST(BoundedQueue, EveryItemIsDeliveredOrRefusedUnderConcurrentProducers) {
  constexpr int kProducers = 4;
  constexpr int kItemsEach = 20000;
  BoundedQueue<int> queue(64);
  std::atomic<int> refused{0};
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; p++)
    producers.emplace_back([&] {
      for (int i = 0; i < kItemsEach; i++)
        if (!queue.tryPush(1)) refused++;
    });
  long delivered = 0;
  std::thread consumer([&] {
    std::vector<int> batch;
    while (queue.popBatch(batch)) {
      EXPECT_LE(batch.size(), queue.capacity());
      for (int item : batch) delivered += item;
      batch.clear();
    }
  });
  for (auto &t : producers) t.join();
  queue.close();
  consumer.join();
  EXPECT_EQ(delivered + refused.load(), kProducers * kItemsEach);
  EXPECT_GT(delivered, 0);
}

TEST(BoundedQueue, CloseWakesTheConsumerAfterItHasTakenWhatWasQueued) {
  BoundedQueue<int> queue(4);
  ASSERT_TRUE(queue.tryPush(7));
  std::vector<int> taken;
  std::atomic<bool> ended{false};
  std::thread consumer([&] {
    std::vector<int> batch;
    while (queue.popBatch(batch)) {
      taken.insert(taken.end(), batch.begin(), batch.end());
      batch.clear();
    }
    ended = true;
  });
  EXPECT_FALSE(queue.waitClosedFor(10ms));
  queue.close();
  EXPECT_TRUE(queue.waitClosedFor(0ms));
  EXPECT_FALSE(queue.tryPush(8)) << "a closed queue refuses new items";
  consumer.join();
  EXPECT_TRUE(ended);
  EXPECT_EQ(taken, std::vector<int>{7});
}

TEST(BoundedQueue, AFullQueueRefusesAndClearCountsWhatItDropped) {
  BoundedQueue<int> queue(2);
  EXPECT_TRUE(queue.tryPush(1));
  EXPECT_TRUE(queue.tryPush(2));
  EXPECT_FALSE(queue.tryPush(3));
  EXPECT_EQ(queue.clear(), 2u);
  EXPECT_TRUE(queue.tryPush(4));
}

// What recipes watch arrives after a flood has filled a detector's queue:
// it has room of its own and is handed out first.
TEST(BoundedQueue, UrgentItemsHaveRoomOfTheirOwnAndComeFirst) {
  BoundedQueue<int> queue(2);
  EXPECT_TRUE(queue.tryPush(1));
  EXPECT_TRUE(queue.tryPush(2));
  EXPECT_FALSE(queue.tryPush(3)) << "the normal part is full";
  EXPECT_TRUE(queue.tryPush(10, Priority::urgent));
  EXPECT_TRUE(queue.pushControl(4));
  EXPECT_TRUE(queue.tryPush(11, Priority::urgent));
  EXPECT_FALSE(queue.tryPush(12, Priority::urgent)) << "the urgent part has its own bound";
  std::vector<int> batch;
  ASSERT_TRUE(queue.popBatch(batch));
  EXPECT_EQ(batch, (std::vector<int>{10, 11, 1, 2, 4}));
  batch.clear();
  EXPECT_TRUE(queue.tryPush(13, Priority::urgent));
  EXPECT_EQ(queue.clear(), 1u);
  queue.close();
  EXPECT_FALSE(queue.popBatch(batch));
}

// A flood of normal items already queued delays an urgent one by at most
// one batch: the consumer takes them kBatch at a time.
TEST(BoundedQueue, AnUrgentItemWaitsBehindAtMostOneBatch) {
  constexpr size_t kQueued = 4 * BoundedQueue<int>::kBatch;
  BoundedQueue<int> queue(kQueued);
  for (size_t i = 0; i < kQueued; i++) ASSERT_TRUE(queue.tryPush(int(i)));
  std::vector<int> batch;
  ASSERT_TRUE(queue.popBatch(batch));
  ASSERT_EQ(batch.size(), BoundedQueue<int>::kBatch);
  EXPECT_EQ(batch.back(), int(BoundedQueue<int>::kBatch) - 1);
  batch.clear();
  ASSERT_TRUE(queue.tryPush(-1, Priority::urgent));
  ASSERT_TRUE(queue.popBatch(batch));
  EXPECT_EQ(batch.front(), -1);
  EXPECT_EQ(batch[1], int(BoundedQueue<int>::kBatch)) << "the normal ones follow, in order";
  EXPECT_EQ(queue.clear(), kQueued - 2 * BoundedQueue<int>::kBatch);
}

}  // namespace
}  // namespace raqib
