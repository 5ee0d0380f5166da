#include "daemon.hpp"

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <functional>

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

void logCounters(const BpfMonitor &bpf, const Drainer &drainer) {
  auto counters = bpf.counters();
  if (!counters) return logFailure(Error{counters.error()});
  static constexpr const char *kNames[RAQIB_MAP_COUNT] = {"exec", "file_access", "strings"};
  for (uint32_t id = 0; id < RAQIB_MAP_COUNT; id++) {
    const MapCounters &c = (*counters)[id];
    spdlog::info("map {}: {} inserts, {} updates, {} failed (full)", kNames[id], c.inserts,
                 c.updates, c.failed);
  }
  spdlog::info("drained {} process and {} file records; {} paths evicted before they were read",
               drainer.stats().exec_records, drainer.stats().file_records,
               drainer.strings().lost());
}

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
  if (auto s = dropPrivileges({config.user, config.keep_capabilities}); !s) {
    spdlog::error("{}", s.error());
    return 1;
  }
  if (auto s = (*plugins)->start(); !s) {
    spdlog::error("{}", s.error());
    return 1;
  }

  Drainer drainer(**bpf, processes, **plugins, config.strings_map_entries);
  boost::asio::io_context io;
  CadenceTimer exec_timer(io, config.exec.cadence, [&] { logFailure(drainer.drainExec()); });
  CadenceTimer file_timer(io, config.file_access.cadence, [&] {
    logFailure(drainer.drainExec());
    logFailure(drainer.drainFile());
  });
  boost::asio::signal_set hup(io, SIGHUP);
  boost::asio::signal_set stop_signals(io, SIGINT, SIGTERM);
  stop_signals.async_wait([&](const boost::system::error_code &ec, int signal) {
    if (ec) return;
    spdlog::info("signal {}: draining once more and stopping", signal);
    exec_timer.cancel();
    file_timer.cancel();
    hup.cancel();
  });
  std::function<void()> on_hup = [&] {
    hup.async_wait([&](const boost::system::error_code &ec, int) {
      if (ec) return;
      spdlog::warn("SIGHUP: reloading is not supported yet; restart raqib to apply a new "
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
  (*plugins)->stop();
  (*plugins)->logMetrics();
  logCounters(**bpf, drainer);
  return 0;
}

}  // namespace raqib
