#include "daemon.hpp"

#include <bpf/libbpf.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <spdlog/spdlog.h>

#include <sys/eventfd.h>
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstring>
#include <functional>

#include <nlohmann/json.hpp>

#include "bpf_monitor.hpp"
#include "drain.hpp"
#include "watched_set.hpp"
#include "plugin_host.hpp"
#include "privileges.hpp"
#include "process_table.hpp"
#include "sandbox.hpp"
#include "taint.hpp"
#include "tamper.hpp"

namespace raqib {

namespace {

// Re-arms itself every cadence until stopped; a failed drain is logged and
// retried. stop() holds even when the handler is already queued, which
// cancel() alone does not: that handler would run and re-arm.
class CadenceTimer {
 public:
  CadenceTimer(boost::asio::io_context &io, std::chrono::milliseconds cadence,
               std::function<void()> tick)
      : timer_(io), cadence_(cadence), tick_(std::move(tick)) {
    arm();
  }
  void stop() {
    stopped_ = true;
    timer_.cancel();
  }

 private:
  void arm() {
    timer_.expires_after(cadence_);
    timer_.async_wait([this](const boost::system::error_code &ec) {
      if (ec || stopped_) return;
      tick_();
      if (!stopped_) arm();
    });
  }
  boost::asio::steady_timer timer_;
  std::chrono::milliseconds cadence_;
  std::function<void()> tick_;
  bool stopped_ = false;
};

// SIGTERM and SIGINT, and when the first of them came: the stop bound
// counts from the signal, not from when the drain loop, busy with a drain,
// got to it. The handler reads the clock and writes an eventfd, both
// async-signal-safe; the drain loop reads the eventfd.
class StopSignal {
 public:
  using Clock = std::chrono::steady_clock;
  static Result<std::unique_ptr<StopSignal>> install(boost::asio::io_context &io) {
    int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (fd < 0) return Error{fmt::format("eventfd for SIGTERM: {}", std::strerror(errno))};
    std::unique_ptr<StopSignal> s(new StopSignal(io, fd));
    fd_.store(fd);
    struct sigaction sa {};
    sa.sa_handler = onSignal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    for (int signal : {SIGTERM, SIGINT})
      if (sigaction(signal, &sa, nullptr) != 0)
        return Error{fmt::format("handling signal {}: {}", signal, std::strerror(errno))};
    return s;
  }
  ~StopSignal() { fd_.store(-1); }
  StopSignal(const StopSignal &) = delete;
  StopSignal &operator=(const StopSignal &) = delete;

  // When the signal came (Clock ticks); 0 before.
  static const std::atomic<Clock::rep> &came() { return came_; }

  void asyncWait(std::function<void(int signal, Clock::time_point came)> on_stop) {
    readable_.async_wait(boost::asio::posix::descriptor::wait_read,
                         [this, on_stop = std::move(on_stop)](const boost::system::error_code &ec) {
                           if (ec) return;
                           uint64_t count;
                           (void)!read(readable_.native_handle(), &count, sizeof count);
                           on_stop(signal_.load(),
                                   Clock::time_point(Clock::duration(came_.load())));
                         });
  }

 private:
  StopSignal(boost::asio::io_context &io, int fd) : readable_(io, fd) {}
  static void onSignal(int signal) {
    int saved = errno;
    Clock::rep none = 0;
    if (came_.compare_exchange_strong(none, Clock::now().time_since_epoch().count()))
      signal_.store(signal);
    uint64_t one = 1;
    (void)!write(fd_.load(), &one, sizeof one);
    errno = saved;
  }
  boost::asio::posix::stream_descriptor readable_;
  static inline std::atomic<int> fd_{-1};
  static inline std::atomic<int> signal_{0};
  static inline std::atomic<Clock::rep> came_{0};
};

void logFailure(const Status &s) {
  if (!s) spdlog::error("{}", s.error());
}

// The ring-buffer transport: file events consumed as the kernel streams
// them, the way streaming monitors work (kept to compare with the query
// transport). Processes stay on their map: each batch drains them first.
class RingbufConsumer {
 public:
  RingbufConsumer(boost::asio::io_context &io, ring_buffer *rb, Drainer &drainer)
      : rb_(rb), readable_(io, ring_buffer__epoll_fd(rb)), drainer_(drainer) {
    arm();
  }
  ~RingbufConsumer() {
    readable_.release();  // the epoll fd is the ring buffer's to close
    ring_buffer__free(rb_);
  }
  void cancel() { readable_.cancel(); }
  // Everything still in the buffer.
  void consume() {
    logFailure(drainer_.drainExec());
    if (int n = ring_buffer__consume(rb_); n < 0)
      spdlog::error("consuming the ring buffer: {}", std::strerror(-n));
  }

  static int onEvent(void *drainer, void *data, size_t size) {
    return static_cast<Drainer *>(drainer)->consumeFileEvent(data, size);
  }

 private:
  void arm() {
    readable_.async_wait(boost::asio::posix::stream_descriptor::wait_read,
                         [this](const boost::system::error_code &ec) {
                           if (ec) return;
                           consume();
                           arm();
                         });
  }
  ring_buffer *rb_;
  boost::asio::posix::stream_descriptor readable_;
  Drainer &drainer_;
};

// Drains a map or lane past its mark started (file_pressure).
struct EarlyDrains {
  uint64_t file = 0;  // with the exec maps
  uint64_t dns = 0;
  uint64_t peers = 0;
  uint64_t flows = 0;
};

constexpr const char *kMapNames[RAQIB_MAP_COUNT] = {
    "exec",        "file_access",   "strings",        "network_peers", "network_flows",
    "dns",         "ringbuf",       "tamper",         "file_watched",  "exec_watched",
    "dns_watched", "syscall_names", "uring_requests", "peers_watched"};

// Everything raqib counted, as one JSON object (the "raqib stats" log line).
std::string statsJson(const BpfMonitor &bpf, const Drainer &drainer, const ProcessTable &processes,
                      const PluginHost &plugins, const TamperWatch &tamper,
                      const EarlyDrains &early_drains) {
  nlohmann::ordered_json j;
  if (auto counters = bpf.counters()) {
    for (uint32_t id = 0; id < RAQIB_MAP_COUNT; id++) {
      const MapCounters &c = (*counters)[id];
      if (id == RAQIB_MAP_RINGBUF)
        j["ringbuf"] = {{"records", c.inserts}, {"dropped", c.failed}};
      else if (id == RAQIB_MAP_SYSCALL_NAMES)  // not a map of behaviours: nothing is lost here
        j["syscall_names"] = {{"no_room", c.failed}, {"unreadable", c.capped}};
      else if (id == RAQIB_MAP_URING_REQUESTS)  // nor here: kept or recorded at once
        j["uring_requests"] = {{"recorded_at_submission", c.capped}};
      else
        j["maps"][kMapNames[id]] = {{"inserts", c.inserts},
                                    {"updates", c.updates},
                                    {"failed", c.failed},
                                    {"capped", c.capped}};
    }
  } else {
    j["maps_error"] = counters.error();
  }
  j["drained"] = {{"exec", drainer.stats().exec_records},
                  {"file", drainer.stats().file_records},
                  {"file_watched", drainer.stats().watched_records},
                  {"exec_watched", drainer.stats().exec_watched_records},
                  {"dns_watched", drainer.stats().dns_watched_records},
                  {"peers_watched", drainer.stats().peer_watched_records},
                  {"peers", drainer.stats().peer_records},
                  {"flows", drainer.stats().flow_records},
                  {"dns", drainer.stats().dns_records}};
  j["tamper"] = {{"records", tamper.stats().records},
                 {"allowed_loads", tamper.stats().allowed_loads},
                 {"blind_spots", tamper.stats().blind_spots},
                 {"integrity_failures", tamper.stats().integrity_failures}};
  j["tainted"] = hostTainted().load();
  j["strings_evicted"] = drainer.strings().lost();
  j["dns_names_evicted"] = drainer.resolvedNames().evicted();
  j["not_drained_at_stop"] = drainer.notDrained();
  j["early_file_drains"] = early_drains.file;
  j["early_dns_drains"] = early_drains.dns;
  j["early_peer_drains"] = early_drains.peers;
  j["early_flow_drains"] = early_drains.flows;
  j["processes"] = {{"known", processes.size()},
                    {"reconciled", drainer.stats().processes_reconciled}};
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
      if (id == RAQIB_MAP_SYSCALL_NAMES) {
        warnIfGrown((*counters)[id].failed, names_no_room_, kNamesNoRoom);
        continue;
      }
      if (id == RAQIB_MAP_URING_REQUESTS) {
        warnIfGrown((*counters)[id].capped, uring_at_submission_, kUringAtSubmission);
        continue;
      }
      warnIfLost(id, (*counters)[id].failed, failed_[id], " was full",
                 "raise its map_entries or shorten its cadence");
      warnIfLost(id, (*counters)[id].capped, capped_[id], "",
                 "their process had its share of the map for the epoch");
    }
  }

 private:
  static void warnIfLost(uint32_t id, uint64_t lost, uint64_t &last, std::string_view state,
                         std::string_view why) {
    if (lost > last)
      spdlog::warn("map {}{}: {} behaviours not recorded since the last drain ({} in all): {}",
                   kMapNames[id], state, lost - last, lost, why);
    last = lost;
  }

  // A counter of things recorded in a lesser way, not lost: warned about
  // with message (its {}s: how many since the last check, and in all) when
  // it grew since.
  static void warnIfGrown(uint64_t count, uint64_t &last, std::string_view message) {
    if (count > last) spdlog::warn(fmt::runtime(message), count - last, count);
    last = count;
  }
  // Path names a syscall's entry had no room to copy: still recorded, read
  // at its exit, where a racing thread can have rewritten them. (Names not
  // paged in at the entry are only counted, as "unreadable" in the stats:
  // nothing to tune.)
  static constexpr std::string_view kNamesNoRoom =
      "syscall_names was full: {} path names not copied at their syscall's entry since the last "
      "check ({} in all): read at the exit instead, where a racing thread can have changed them";
  // io_uring file requests recorded at their submission, without their
  // result: nothing is lost, but a flood of requests in flight or a
  // user_data shared on purpose is a way to blur results.
  static constexpr std::string_view kUringAtSubmission =
      "uring_requests: {} io_uring file requests recorded at their submission, their result "
      "unknown, since the last check ({} in all): more were in flight at once than it holds, or "
      "another request in flight had the same ring and user_data";

  std::array<uint64_t, RAQIB_MAP_COUNT> failed_{};
  std::array<uint64_t, RAQIB_MAP_COUNT> capped_{};
  uint64_t names_no_room_ = 0;
  uint64_t uring_at_submission_ = 0;
};

}  // namespace

Status finishDaemonConfig(Config &config, const ConfigText &text, const ConfigOrigin &origin) {
  if (auto recipes = prepareRecipes(config, text); !recipes) return recipes;
  if (!origin.format.empty()) setPluginOption(config.printers, "stdout", "format", origin.format);
  if (!origin.transport.empty()) config.transport = *parseTransport(origin.transport);
  if (!origin.events.empty()) config.events = *parseEvents(origin.events);
  return Ok{};
}

Result<Config> readDaemonConfig(const ConfigOrigin &origin) {
  auto text = readConfigText(origin.file);
  if (!text) return Error{text.error()};
  auto config = parseConfig(text->text, text->source);
  if (!config) return config;
  if (auto s = finishDaemonConfig(*config, *text, origin); !s) return Error{s.error()};
  return config;
}

namespace {

// SIGHUP: the configuration read again; what changed in plugin and printer
// sections is applied, anything else is named as needing a restart. A
// configuration that does not load leaves everything as it runs.
void reload(Config &running, const ConfigOrigin &origin, PluginHost &plugins) {
  auto fresh = readDaemonConfig(origin);
  if (!fresh) {
    spdlog::error("SIGHUP: the configuration is refused, the running one stays: {}", fresh.error());
    return;
  }
  ReloadPlan plan = planReload(running, *fresh);
  for (const auto &what : plan.not_applied)
    spdlog::warn("SIGHUP: {} changed: that needs a restart, not applied", what);
  for (const PluginConfig &p : plan.changed) {
    if (!plugins.reconfigure(p.name, p.section_toml)) {
      spdlog::warn("SIGHUP: {} is not running: its new section is not applied", p.name);
      continue;
    }
    for (auto *list : {&running.detectors, &running.printers})
      for (PluginConfig &r : *list)
        if (r.name == p.name) r.section_toml = p.section_toml;
  }
  spdlog::info("SIGHUP: configuration {} read again: {} plugin(s) reconfigured", fresh->source,
               plan.changed.size());
}

}  // namespace

int runDaemon(const Config &config, const ConfigOrigin &origin,
              const std::filesystem::path &exe_dir) {
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
  // read and the plugin files are checked. From here on only held fds are
  // used. No plugin code has run yet: each plugin is loaded on its own
  // thread, confined first.
  if (auto s = dropPrivileges({config.user, config.keep_capabilities}); !s) {
    spdlog::error("{}", s.error());
    return 1;
  }
  // Every thread start() makes (plugins, the threads they make, the
  // watchdog and the answerer) has the daemon's signals blocked: they reach
  // the drain loop, whose handlers may do what the others' filters refuse.
  sigset_t daemon_signals, before;
  sigemptyset(&daemon_signals);
  for (int signal : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&daemon_signals, signal);
  pthread_sigmask(SIG_BLOCK, &daemon_signals, &before);
  auto started = (*plugins)->start();
  pthread_sigmask(SIG_SETMASK, &before, nullptr);
  if (!started) {
    spdlog::error("{}", started.error());
    return 1;
  }

  Drainer drainer(**bpf, processes, **plugins, config.strings_map_entries, config.events);
  boost::asio::io_context io;
  OverflowWatch overflow;
  TamperWatch tamper(**bpf, processes, **plugins, drainer, config);
  // Each drain first brings what its records depend on (processes, DNS
  // names) up to date; see Drainer::drainWithContext.
  auto every = [&](std::chrono::milliseconds cadence, Status (Drainer::*drain)()) {
    return std::make_unique<CadenceTimer>(io, cadence, [&, drain] {
      logFailure((drainer.*drain)());
      overflow.check(**bpf);
    });
  };
  std::unique_ptr<CadenceTimer> timers[] = {
      every(config.exec.cadence, &Drainer::drainExec),
      every(config.file_access.cadence, &Drainer::drainFile),
      every(config.dns.cadence, &Drainer::drainDns),
      every(config.network_peers.cadence, &Drainer::drainPeers),
      every(config.network_flows.cadence, &Drainer::drainFlows),
      std::make_unique<CadenceTimer>(io, config.tamper.cadence,
                                     [&] {
                                       logFailure(tamper.drain(drainer));
                                       overflow.check(**bpf);
                                     }),
  };
  // A map or lane past its mark is drained at once, not at the next tick.
  EarlyDrains early_drains;
  auto pressure = PressureWatch::open(io, (*bpf)->watched().pressureFd(), [&](uint32_t kinds) {
    if (kinds & (RAQIB_PRESSURE_FILE | RAQIB_PRESSURE_EXEC)) {  // drainFile takes exec first
      early_drains.file++;
      logFailure(drainer.drainFile());
    }
    if (kinds & RAQIB_PRESSURE_DNS) {
      early_drains.dns++;
      logFailure(drainer.drainDns());
    }
    if (kinds & RAQIB_PRESSURE_PEERS) {
      early_drains.peers++;
      logFailure(drainer.drainPeers());
    }
    if (kinds & RAQIB_PRESSURE_FLOWS) {
      early_drains.flows++;
      logFailure(drainer.drainFlows());
    }
    overflow.check(**bpf);
  });
  if (!pressure) {
    spdlog::error("{}", pressure.error());
    return 1;
  }
  std::unique_ptr<RingbufConsumer> stream;
  if (config.transport == Transport::Ringbuf) {
    ring_buffer *rb =
        ring_buffer__new((*bpf)->eventsFd(), &RingbufConsumer::onEvent, &drainer, nullptr);
    if (!rb) {
      spdlog::error("opening the ring buffer: {}", std::strerror(errno));
      return 1;
    }
    stream = std::make_unique<RingbufConsumer>(io, rb, drainer);
  }
  Config running = config;
  boost::asio::signal_set hup(io, SIGHUP);
  auto stop_signal = StopSignal::install(io);
  if (!stop_signal) {
    spdlog::error("{}", stop_signal.error());
    return 1;
  }
  // Stopping is bounded whatever the backlog: the drains (the one under way
  // and the final one) stop taking entries half of kStopBound after the
  // signal came, and the plugins deliver what they have queued until
  // kStopBound after it.
  constexpr std::chrono::milliseconds kStopBound{1000};
  drainer.stopWithin(&StopSignal::came(), kStopBound / 2);
  auto stop_until = StopSignal::Clock::time_point::max();
  (*stop_signal)->asyncWait([&](int signal, StopSignal::Clock::time_point came) {
    stop_until = came + kStopBound;
    spdlog::info("signal {}: draining once more and stopping", signal);
    for (auto &timer : timers) timer->stop();
    (*pressure)->cancel();
    if (stream) stream->cancel();
    hup.cancel();
    // Handlers already queued (a tick that came due during a long drain)
    // are dropped: the final drain below covers what they would have done.
    io.stop();
  });
  std::function<void()> on_hup = [&] {
    hup.async_wait([&](const boost::system::error_code &ec, int) {
      if (ec) return;
      reload(running, origin, **plugins);
      (*plugins)->requestReopen();
      spdlog::info("SIGHUP: printers reopen their files");
      on_hup();
    });
  };
  on_hup();

  // The drain loop too runs confined: map operations on held fds, timers,
  // signals and logging.
  if (auto s = confineCoreThread(CoreThread::drain); !s) {
    spdlog::error("{}", s.error());
    return 1;
  }
  spdlog::info("raqib ready: pid {}, {} processes known, config {}", getpid(), processes.size(),
               config.source);
  io.run();

  // What the kernel recorded since the last tick still reaches the printers.
  if (stream) stream->consume();
  logFailure(drainer.drainExec());
  logFailure(drainer.drainDns());
  logFailure(drainer.drainFile());
  logFailure(drainer.drainPeers());
  logFailure(drainer.drainFlows());
  logFailure(tamper.drain(drainer));
  if (uint64_t left = drainer.notDrained())
    spdlog::warn("{} entries left in the maps, not drained within the stop bound", left);
  (*plugins)->stop(stop_until);
  (*plugins)->logMetrics();
  overflow.check(**bpf);
  spdlog::info("raqib stats {}",
               statsJson(**bpf, drainer, processes, **plugins, tamper, early_drains));
  return 0;
}

}  // namespace raqib
