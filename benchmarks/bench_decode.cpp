// BM_decode_*: turning drained kernel map entries into the records plugins see.
#include <benchmark/benchmark.h>
#include <bpf/bpf.h>
#include <unistd.h>

#include "bench_support.hpp"
#include "bpf_monitor.hpp"

namespace raqib::bench {
namespace {

// core/record_snapshot.cpp RecordSnapshot::file: one file record with its process and ancestry.
void BM_decode_file_snapshot(benchmark::State &state) {
  ProcessTable table = sampleTable();
  for (auto _ : state) benchmark::DoNotOptimize(fileSnapshot(table, "/etc/shadow"));
}
BENCHMARK(BM_decode_file_snapshot);

// core/process_table.cpp splitArgs: a full 512-byte NUL-separated argv.
void BM_decode_split_args(benchmark::State &state) {
  char args[RAQIB_ARGS_MAX];
  for (size_t i = 0; i < sizeof args; i++) args[i] = (i % 24 == 23) ? '\0' : char('a' + i % 26);
  for (auto _ : state) {
    bool truncated = false;
    benchmark::DoNotOptimize(splitArgs(args, sizeof args, truncated));
  }
}
BENCHMARK(BM_decode_split_args);

// core/process_table.cpp ProcessTable::apply: merging one drained exec record.
void BM_decode_exec_apply(benchmark::State &state) {
  ProcessTable table = sampleTable();
  static const char args[] = "/usr/bin/true\0--version";
  uint32_t pid = 2000;
  for (auto _ : state) {
    table.apply(procRecord(pid, 900, "true", args, sizeof args), "/usr/bin/true");
    if (++pid == 6000) pid = 2000;  // a bounded table, as expire() keeps it
  }
}
BENCHMARK(BM_decode_exec_apply);

// core/bpf_monitor_drain.hpp drainMap: batched lookup-and-delete of a file
// activity map holding range(0) entries (needs root: a real BPF hash map).
void BM_decode_drain_file_map(benchmark::State &state) {
  const uint32_t entries = uint32_t(state.range(0));
  int fd = bpf_map_create(BPF_MAP_TYPE_HASH, "bm_file", sizeof(raqib_file_key),
                          sizeof(raqib_file_value), entries, nullptr);
  if (fd < 0) {
    state.SkipWithError("bpf_map_create failed (needs root)");
    return;
  }
  uint64_t drained = 0;
  for (auto _ : state) {
    state.PauseTiming();
    for (uint32_t i = 0; i < entries; i++) {
      raqib_file_key k{};
      k.path_hash = 0x9e3779b97f4a7c15ull * (i + 1);
      k.tgid = 1000 + i % 64;
      k.actions = RAQIB_FILE_OPEN | RAQIB_FILE_READ;
      raqib_file_value v{i + 1ull, 1, 2};
      bpf_map_update_elem(fd, &k, &v, BPF_ANY);
    }
    state.ResumeTiming();
    auto s = drainMap<raqib_file_key, raqib_file_value>(
        fd, [&](const raqib_file_key &, const raqib_file_value &v) { drained += v.count; });
    benchmark::DoNotOptimize(s);
  }
  close(fd);
  state.SetItemsProcessed(int64_t(state.iterations()) * entries);
}
BENCHMARK(BM_decode_drain_file_map)->Arg(1024)->Arg(16384);

}  // namespace
}  // namespace raqib::bench
