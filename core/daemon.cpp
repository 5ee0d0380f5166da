#include "daemon.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <functional>

#include <nlohmann/json.hpp>

#include "bpf_monitor.hpp"
#include "drain.hpp"
#include "plugin_host.hpp"
#include "privileges.hpp"
#include "process_table.hpp"

namespace raqib {

namespace {

// Re-arms itself every cadence; a failed drain is logged and retried.
class CadenceTimer {
 public:
  CadenceTimer(boost::asio::io_context &io, std::chrono::milliseconds cadence,
               std::function<void()> tick)
      : timer_(io), cadence_(cadence), tick_(std::move(tick)) {
    arm();
  }
  void cancel() { timer_.cancel(); }

 private:
  void arm() {
    timer_.expires_after(cadence_);
    timer_.async_wait([this](const boost::system::error_code &ec) {
      if (ec) return;
      tick_();
      arm();
    });
  }
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds cadence_;
  std::function<void()> tick_;
};

void logFailure(const Status &s) {
  if (!s) spdlog::error("{}", s.error());
}

constexpr const char *kMapNames[RAQIB_MAP_COUNT] = {
    "exec", "file_access", "strings", "network_peers", "network_flows", "dns", "ringbuf"};

// Everything raqib counted, as one JSON object (the "raqib stats" log line).
std::string statsJson(const BpfMonitor &bpf, const Drainer &drainer, const PluginHost &plugins) {
  nlohmann::ordered_json j;
  if (auto counters = bpf.counters()) {
    for (uint32_t id = 0; id < RAQIB_MAP_COUNT; id++) {
      const MapCounters &c = (*counters)[id];
      j["maps"][kMapNames[id]] = {
          {"inserts", c.inserts}, {"updates", c.updates}, {"failed", c.failed}};
    }
  } else {
    j["maps_error"] = counters.error();
  }
  j["drained"] = {{"exec", drainer.stats().exec_records},
                  {"file", drainer.stats().file_records},
                  {"peers", drainer.stats().peer_records},
                  {"flows", drainer.stats().flow_records},
                  {"dns", drainer.stats().dns_records}};
  j["strings_evicted"] = drainer.strings().lost();
  for (const auto &p : plugins.stats())
    j["plugins"][p.name] = {{"handled", p.handled}, {"dropped", p.dropped}, {"failed", p.failed}};
  return j.dump();
}

// Warn about every map that refused inserts since the last check: what a
// full map loses is never silent.
class OverflowWatch {
 public:
  void check(const BpfMonitor &bpf) {
    auto counters = bpf.counters();
    if (!counters) return logFailure(Error{counters.error()});
    for (uint32_t id = 0; id < RAQIB_MAP_COUNT; id++) {
      uint64_t failed = (*counters)[id].failed;
      if (failed > last_[id])
        spdlog::warn(
            "map {} was full: {} behaviours not recorded since the last drain ({} in "
            "all); raise its map_entries or shorten its cadence",
            kMapNames[id], failed - last_[id], failed);
      last_[id] = failed;
    }
  }

 private:
  std::array<uint64_t, RAQIB_MAP_COUNT> last_{};
};

}  // namespace

int runDaemon(const Config &config, const std::filesystem::path &exe_dir) {
  auto bpf = BpfMonitor::start(config);
  if (!bpf) {
    spdlog::error("{}", bpf.error());
    return 1;
  }
  ProcessTable processes;
  if (auto s = processes.seedFromProc(); !s) {
    spdlog::error("{}", s.error());
    return 1;
  }
  auto plugins = PluginHost::load(config, exe_dir);
  if (!plugins) {
    spdlog::error("{}", plugins.error());
    return 1;
  }
  // Everything privileged is done: the BPF programs are attached, /proc is
  // read and the plugins are mapped. From here on only held fds are used.
  if (auto s = dropPrivileges(); !s) {
    spdlog::error("{}", s.error());
    return 1;
  }
  if (auto s = (*plugins)->start(); !s) {
    spdlog::error("{}", s.error());
    return 1;
  }

  Drainer drainer(**bpf, processes, **plugins, config.strings_map_entries, config.events);
  boost::asio::io_context io;
  OverflowWatch overflow;
  CadenceTimer exec_timer(io, config.exec.cadence, [&] {
    logFailure(drainer.drainExec());
    overflow.check(**bpf);
  });
  CadenceTimer file_timer(io, config.file_access.cadence, [&] {
    logFailure(drainer.drainExec());
    logFailure(drainer.drainFile());
    overflow.check(**bpf);
  });
  // Network: processes first (records name them), then DNS (flows and peers
  // carry the names that resolved to their remote address).
  CadenceTimer dns_timer(io, config.dns.cadence, [&] {
    logFailure(drainer.drainExec());
    logFailure(drainer.drainDns());
    overflow.check(**bpf);
  });
  CadenceTimer peers_timer(io, config.network_peers.cadence, [&] {
    logFailure(drainer.drainExec());
    logFailure(drainer.drainDns());
    logFailure(drainer.drainPeers());
    overflow.check(**bpf);
  });
  CadenceTimer flows_timer(io, config.network_flows.cadence, [&] {
    logFailure(drainer.drainExec());
    logFailure(drainer.drainDns());
    logFailure(drainer.drainFlows());
    overflow.check(**bpf);
  });
  boost::asio::signal_set hup(io, SIGHUP);
  boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  stop_signals.async_wait([&](const boost::system::error_code &ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: draining once more and stopping", signal);
    exec_timer.cancel();
    file_timer.cancel();
    dns_timer.cancel();
    peers_timer.cancel();
    flows_timer.cancel();
    hup.cancel();
  });
  std::function<void()> on_hup = [&] {
    hup.async_wait([&](const boost::system::error_code &ec, int) {
      if (ec) return;
      spdlog::warn(
          "SIGHUP: reloading is not supported yet; restart raqib to apply a new "
          "configuration");
      on_hup();
    });
  };
  on_hup();

  spdlog::info("raqib ready: pid {}, {} processes known, config {}", getpid(), processes.size(),
               config.source);
  io.run();

  // What the kernel recorded since the last tick still reaches the printers.
  logFailure(drainer.drainExec());
  logFailure(drainer.drainFile());
  logFailure(drainer.drainDns());
  logFailure(drainer.drainPeers());
  logFailure(drainer.drainFlows());
  (*plugins)->stop();
  overflow.check(**bpf);
  spdlog::info("raqib stats {}", statsJson(**bpf, drainer, **plugins));
  return 0;
}

}  // namespace raqib
