// BM_recipe_file_*: the file plugin (raqib-file.so, loaded as the daemon loads
// it) matching one record against its default recipes.
#include <benchmark/benchmark.h>

#include "bench_support.hpp"
#include "plugin_loader.hpp"

namespace raqib::bench {
namespace {

struct LoadedFilePlugin {
  LoadedFilePlugin() {
    auto lib = openPlugin(RAQIB_FILE_PLUGIN);
    if (!lib) {
      error = lib.error();
      return;
    }
    library = std::move(*lib);
    api.struct_size = sizeof api;
    api.host = this;
    api.emit = [](void *self, const raqib_detection *) {
      static_cast<LoadedFilePlugin *>(self)->detections++;
      return 0;
    };
    api.log = [](void *, raqib_log_level, const char *) {};
    api.config = [](void *) { return ""; };
    char err[256] = "";
    state = library.descriptor->init(&api, err, sizeof err);
    if (!state) error = err;
  }
  ~LoadedFilePlugin() {
    if (state) library.descriptor->destroy(state);
  }
  PluginLibrary library;
  raqib_host_api api{};
  void *state = nullptr;
  uint64_t detections = 0;
  std::string error;
};

void matchPath(benchmark::State &state, const std::string &path, bool expect_detection) {
  LoadedFilePlugin plugin;
  if (!plugin.state) {
    state.SkipWithError(("raqib-file.so: " + plugin.error).c_str());
    return;
  }
  ProcessTable table = sampleTable();
  auto record = fileSnapshot(table, path);
  for (auto _ : state) plugin.library.descriptor->on_record(plugin.state, &record->view());
  if ((plugin.detections > 0) != expect_detection) state.SkipWithError("unexpected verdict");
}

// plugins/file/file_detector.cpp onRecord: /etc/shadow, detected.
void BM_recipe_file_match(benchmark::State &state) {
  matchPath(state, "/etc/shadow", true);
}
BENCHMARK(BM_recipe_file_match);

// plugins/file/file_detector.cpp onRecord: an ordinary library, every pattern tried.
void BM_recipe_file_miss(benchmark::State &state) {
  matchPath(state, "/usr/lib/x86_64-linux-gnu/libc.so.6", false);
}
BENCHMARK(BM_recipe_file_miss);

// plugins/file/file_detector.cpp onRecord: a public key, matched then excluded.
void BM_recipe_file_excluded(benchmark::State &state) {
  matchPath(state, "/home/alice/.ssh/id_ed25519.pub", false);
}
BENCHMARK(BM_recipe_file_excluded);

}  // namespace
}  // namespace raqib::bench
