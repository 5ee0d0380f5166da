// BM_queue_*: core/bounded_queue.hpp, the queue between the drain and each plugin thread.
#include <benchmark/benchmark.h>

#include <memory>
#include <thread>
#include <vector>

#include "bounded_queue.hpp"

namespace raqib::bench {
namespace {

using Item = std::shared_ptr<const int>;  // records travel as shared pointers

// BoundedQueue::tryPush then popBatch, one thread: the per-record cost without contention.
void BM_queue_push_pop_batch(benchmark::State &state) {
  const size_t batch = size_t(state.range(0));
  BoundedQueue<Item> q(batch);
  auto item = std::make_shared<const int>(1);
  std::vector<Item> out;
  for (auto _ : state) {
    for (size_t i = 0; i < batch; i++) q.tryPush(item);
    out.clear();
    q.popBatch(out);
  }
  state.SetItemsProcessed(int64_t(state.iterations() * batch));
}
BENCHMARK(BM_queue_push_pop_batch)->Arg(1)->Arg(256);

// BoundedQueue::tryPush from the drain thread while a plugin thread drains it.
void BM_queue_cross_thread(benchmark::State &state) {
  BoundedQueue<Item> q(4096);
  std::thread consumer([&] {
    std::vector<Item> out;
    while (q.popBatch(out)) out.clear();
  });
  auto item = std::make_shared<const int>(1);
  uint64_t refused = 0;
  for (auto _ : state) refused += !q.tryPush(item);
  q.close();
  consumer.join();
  state.counters["refused"] = double(refused);
  state.SetItemsProcessed(int64_t(state.iterations()));
}
BENCHMARK(BM_queue_cross_thread)->UseRealTime();

}  // namespace
}  // namespace raqib::bench
