// BM_json_*: serialising one detection for the printers (done once per detection).
#include <benchmark/benchmark.h>

#include "bench_support.hpp"
#include "output_format.hpp"

namespace raqib::bench {
namespace {

DetectionMeta sampleMeta() {
  DetectionMeta m;
  m.uuid = "51c8e4b2-3696-49e8-a592-5f2155e1d21a";
  m.time_unix_ns = 1764030000123456789;
  m.name = "credentials_files_access";
  m.plugin = "file";
  m.tactic = "credential-access";
  m.technique = "T1552";
  m.importance = RAQIB_IMPORTANCE_CRITICAL;
  m.host = "bench-host";
  return m;
}

// core/output_format.cpp detectionJson: an ordinary detection with three ancestors.
void BM_json_detection(benchmark::State &state) {
  ProcessTable table = sampleTable();
  auto record = fileSnapshot(table, "/etc/shadow");
  DetectionMeta meta = sampleMeta();
  for (auto _ : state) benchmark::DoNotOptimize(detectionJson(meta, record->view()));
}
BENCHMARK(BM_json_detection);

// core/output_format.cpp detectionJson: a hostile path (control bytes, invalid UTF-8).
void BM_json_detection_hostile_path(benchmark::State &state) {
  ProcessTable table = sampleTable();
  std::string path = "/tmp/";
  for (int i = 0; i < 200; i++) path += char(i % 3 == 0 ? '\x01' : i % 3 == 1 ? '\xff' : 'x');
  auto record = fileSnapshot(table, path);
  DetectionMeta meta = sampleMeta();
  for (auto _ : state) benchmark::DoNotOptimize(detectionJson(meta, record->view()));
}
BENCHMARK(BM_json_detection_hostile_path);

// core/output_format.cpp detectionText: the human-readable line.
void BM_json_text_line(benchmark::State &state) {
  ProcessTable table = sampleTable();
  auto record = fileSnapshot(table, "/etc/shadow");
  DetectionMeta meta = sampleMeta();
  for (auto _ : state) benchmark::DoNotOptimize(detectionText(meta, record->view()));
}
BENCHMARK(BM_json_text_line);

}  // namespace
}  // namespace raqib::bench
