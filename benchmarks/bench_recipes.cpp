// BM_recipe_<plugin>_*: a recipe plugin (raqib-file.so, raqib-exec.so,
// raqib-net.so, loaded as the daemon loads them, whole built-in catalogue)
// matching one record. Each case checks the verdict it expects.
#include <benchmark/benchmark.h>

#include "bench_support.hpp"
#include "plugin_loader.hpp"

namespace raqib::bench {
namespace {

struct LoadedPlugin {
  explicit LoadedPlugin(const char *path) {
    auto lib = openPlugin(path);
    if (!lib) {
      error = lib.error();
      return;
    }
    library = std::move(*lib);
    api.struct_size = sizeof api;
    api.host = this;
    api.emit = [](void *self, const raqib_detection *) {
      static_cast<LoadedPlugin *>(self)->detections++;
      return 0;
    };
    api.log = [](void *, raqib_log_level, const char *) {};
    api.config = [](void *) { return ""; };
    char err[256] = "";
    state = library.descriptor->init(&api, err, sizeof err);
    if (!state) error = err;
  }
  ~LoadedPlugin() {
    if (state) library.descriptor->destroy(state);
  }
  PluginLibrary library;
  raqib_host_api api{};
  void *state = nullptr;
  uint64_t detections = 0;
  std::string error;
};

void run(benchmark::State &state, const char *plugin_path, const raqib_record &record,
         bool expect_detection) {
  LoadedPlugin plugin(plugin_path);
  if (!plugin.state) {
    state.SkipWithError((std::string(plugin_path) + ": " + plugin.error).c_str());
    return;
  }
  for (auto _ : state) plugin.library.descriptor->on_record(plugin.state, &record);
  if ((plugin.detections > 0) != expect_detection) state.SkipWithError("unexpected verdict");
}

void matchPath(benchmark::State &state, const std::string &path, bool expect_detection) {
  ProcessTable table = sampleTable();
  run(state, RAQIB_FILE_PLUGIN, fileSnapshot(table, path)->view(), expect_detection);
}

// An exec record of pid 1001 (a child of bash 900) running exe with args.
void matchExec(benchmark::State &state, const char *exe, const char *comm, const std::string &args,
               bool expect_detection) {
  ProcessTable table = sampleTable();
  table.apply(procRecord(1001, 900, comm, args.data(), args.size()), exe);
  ExecActivity a;
  a.events = RAQIB_EXEC_FORKED | RAQIB_EXEC_EXECED;
  a.exec_unix_ns = 1764030000000000000;
  auto record = RecordSnapshot::exec(table, 1001, a, 0);
  run(state, RAQIB_EXEC_PLUGIN, record->view(), expect_detection);
}

void matchConnect(benchmark::State &state, const char *addr, bool expect_detection) {
  ProcessTable table = sampleTable();
  FlowActivity a;
  a.direction = RAQIB_FLOW_CONNECT;
  a.protocol = 6;
  a.family = 4;
  a.remote_addr = addr;
  a.remote_port = 443;
  a.names = {"deb.debian.org"};
  a.count = 1;
  a.last_unix_ns = 1764030000000000000;
  run(state, RAQIB_NET_PLUGIN, RecordSnapshot::flow(table, 1000, a, 0)->view(), expect_detection);
}

void matchDns(benchmark::State &state, const char *name, bool expect_detection) {
  ProcessTable table = sampleTable();
  DnsActivity a;
  a.name = name;
  a.qtype = 1;
  a.queries = 1;
  a.last_unix_ns = 1764030000000000000;
  run(state, RAQIB_NET_PLUGIN, RecordSnapshot::dns(table, 1000, a, 0)->view(), expect_detection);
}

// plugins/file: /etc/shadow, detected.
void BM_recipe_file_match(benchmark::State &state) {
  matchPath(state, "/etc/shadow", true);
}
BENCHMARK(BM_recipe_file_match);

// plugins/file: an ordinary library, every recipe tried.
void BM_recipe_file_miss(benchmark::State &state) {
  matchPath(state, "/usr/lib/x86_64-linux-gnu/libc.so.6", false);
}
BENCHMARK(BM_recipe_file_miss);

// plugins/file: a public key, matched then excluded.
void BM_recipe_file_excluded(benchmark::State &state) {
  matchPath(state, "/home/alice/.ssh/id_ed25519.pub", false);
}
BENCHMARK(BM_recipe_file_excluded);

// plugins/exec: a scanner by its basename, detected.
void BM_recipe_exec_match(benchmark::State &state) {
  matchExec(state, "/usr/bin/nmap", "nmap",
            std::string("nmap\0-sS\0"
                        "10.0.0.0/24",
                        21),
            true);
}
BENCHMARK(BM_recipe_exec_match);

// plugins/exec: ls with arguments, every recipe tried (argument regex included).
void BM_recipe_exec_miss(benchmark::State &state) {
  matchExec(state, "/usr/bin/ls", "ls", std::string("ls\0-la\0/var/log", 15), false);
}
BENCHMARK(BM_recipe_exec_miss);

// plugins/net: a connect to an ordinary address, every recipe tried.
void BM_recipe_net_connect_miss(benchmark::State &state) {
  matchConnect(state, "151.101.2.132", false);
}
BENCHMARK(BM_recipe_net_connect_miss);

// plugins/net: a connect to the cloud metadata address, detected.
void BM_recipe_net_connect_match(benchmark::State &state) {
  matchConnect(state, "169.254.169.254", true);
}
BENCHMARK(BM_recipe_net_connect_match);

// plugins/net: an ordinary DNS question, every list and the entropy score tried.
void BM_recipe_net_dns_miss(benchmark::State &state) {
  matchDns(state, "security.debian.org", false);
}
BENCHMARK(BM_recipe_net_dns_miss);

// plugins/net: a dynamic-DNS name, detected by suffix.
void BM_recipe_net_dns_match(benchmark::State &state) {
  matchDns(state, "c2.duckdns.org", true);
}
BENCHMARK(BM_recipe_net_dns_match);

}  // namespace
}  // namespace raqib::bench
