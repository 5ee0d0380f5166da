// Records per second through the plugin host to a no-op detector: the
// drain thread's dispatch(), the bounded queue, and the plugin's own
// seccomp-confined thread taking batches and calling on_record.
#include <benchmark/benchmark.h>
#include <sched.h>

#include <thread>

#include "plugin_host.hpp"
#include "process_table.hpp"
#include "record_snapshot.hpp"

namespace raqib {
namespace {

constexpr size_t kBatch = 4096;  // records per drain, as a busy cadence might have

std::unique_ptr<PluginHost> startHost() {
  SupervisionOptions options;
  options.queue_capacity = 1 << 16;
  auto host =
      PluginHost::loadFiles({{RAQIB_NOOP_PLUGIN, PluginConfig{"noop", true, 0, ""}}}, options);
  if (!host || !(*host)->start()) return nullptr;
  return std::move(*host);
}

void dispatchToNoop(benchmark::State &state) {
  auto host = startHost();
  if (!host) return state.SkipWithError("cannot load " RAQIB_NOOP_PLUGIN);
  ProcessTable table;
  FileActivity activity;
  activity.path = "/etc/shadow";
  activity.actions = RAQIB_ACTION_OPEN | RAQIB_ACTION_READ;
  activity.count = 1;
  auto record = RecordSnapshot::file(table, 1, activity, 0);
  uint64_t sent = 0;
  for (auto _ : state) {
    for (size_t i = 0; i < kBatch; i++) host->dispatch(record);
    sent += kBatch;
    // Until the plugin has handled (or the host dropped) all of them.
    for (;;) {
      auto s = host->stats()[0];
      if (s.handled + s.dropped >= sent) break;
      std::this_thread::yield();
    }
  }
  auto s = host->stats()[0];
  state.counters["dropped"] = double(s.dropped);
  state.SetItemsProcessed(int64_t(s.handled));
  host->stop();
}

// Producer (drain) and plugin thread pinned to one core: the target.
void BM_host_dispatch_noop_one_core(benchmark::State &state) {
  cpu_set_t one, all;
  sched_getaffinity(0, sizeof all, &all);
  CPU_ZERO(&one);
  CPU_SET(0, &one);
  sched_setaffinity(0, sizeof one, &one);  // threads started now inherit it
  dispatchToNoop(state);
  sched_setaffinity(0, sizeof all, &all);
}
BENCHMARK(BM_host_dispatch_noop_one_core)->Unit(benchmark::kMillisecond)->UseRealTime();

// The same, free to run on any core.
void BM_host_dispatch_noop(benchmark::State &state) {
  dispatchToNoop(state);
}
BENCHMARK(BM_host_dispatch_noop)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace
}  // namespace raqib

BENCHMARK_MAIN();
