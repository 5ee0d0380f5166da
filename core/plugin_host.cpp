#include "plugin_host.hpp"

#include <pthread.h>
#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <ctime>
#include <future>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <spdlog/spdlog.h>

#include "output_format.hpp"
#include "sandbox.hpp"

namespace raqib {

namespace {

using Clock = std::chrono::steady_clock;

int64_t unixNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000ll + ts.tv_nsec;
}

spdlog::level::level_enum spdlogLevel(raqib_log_level level) {
  switch (level) {
    case RAQIB_LOG_DEBUG:
      return spdlog::level::debug;
    case RAQIB_LOG_INFO:
      return spdlog::level::info;
    case RAQIB_LOG_WARN:
      return spdlog::level::warn;
    default:
      return spdlog::level::err;
  }
}

const char *signalName(int sig) {
  switch (sig) {
    case SIGSEGV:
      return "SIGSEGV";
    case SIGBUS:
      return "SIGBUS";
    case SIGFPE:
      return "SIGFPE";
    case SIGILL:
      return "SIGILL";
    case SIGSYS:
      return "SIGSYS";
    default:
      return "signal";
  }
}

constexpr size_t kFaultKinds = size_t(Fault::queue_full) + 1;

}  // namespace

SupervisionOptions SupervisionOptions::from(const Config &config) {
  return {config.queue_capacity, config.plugin_restart_limit, config.plugin_restart_backoff,
          config.plugin_call_timeout, config.attenuator_hold};
}

struct PluginHost::Worker {
  Worker(PluginHost &host, PluginLibrary library, PluginConfig config, size_t capacity)
      : host(host), library(std::move(library)), config(std::move(config)), queue(capacity) {
    api.struct_size = sizeof api;
    api.host = this;
    api.emit = &Worker::emit;
    api.log = &Worker::log;
    api.config = &Worker::configText;
    api.process = &Worker::process;
    api.counters = &Worker::counters;
    api.reopen_generation = &Worker::reopenGeneration;
    api.set_tick = &Worker::setTick;
    api.forward = &Worker::forward;
  }

  const raqib_plugin_descriptor &descriptor() const { return *library.descriptor; }
  const std::string &name() const { return config.name; }
  bool isDetector() const { return descriptor().kind == RAQIB_PLUGIN_DETECTOR; }

  // One item of a queue: a record for a detector, an output for a printer.
  struct Item {
    std::shared_ptr<const RecordSnapshot> record;
    std::shared_ptr<const Output> output;
  };

  bool offer(Item item) {
    if (!accepting.load(std::memory_order_relaxed)) return false;
    if (queue.tryPush(std::move(item))) return true;
    dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  // The thread's body. started gets "" once init returned a state, or why not.
  void run() {
    std::string thread_name = ("raqib:" + name()).substr(0, 15);
    prctl(PR_SET_NAME, thread_name.c_str(), 0, 0, 0);
    native = pthread_self();  // published to the watchdog by the first call's call_seq
    trap.attach();
    // Capabilities are per thread: a plugin keeps none of those the core kept.
    if (auto s = dropThreadCapabilities(); !s) {
      started->set_value(s.error());
      started = nullptr;
      return finish();
    }
    if (auto s = confineThread(descriptor().resources); !s) {
      started->set_value(s.error());
      started = nullptr;
      return finish();
    }
    for (;;) {
      if (int sig = RAQIB_FAULT_TRAP(trap)) {
        // Back from a fault: whatever the plugin was doing is abandoned,
        // locks it held included; its state is not trusted (no destroy).
        if (trap.inCall()) trap.enter();  // the call is over (without leave's check)
        current = nullptr;
        size_t abandoned = batch_next < batch.size() ? batch.size() - batch_next - 1 : 0;
        batch.clear();
        batch_next = 0;
        state = nullptr;
        Fault fault = faultOfSignal(sig);
        std::string detail =
            fault == Fault::seccomp ? "forbidden syscall " + syscallName(trap.syscall)
            : fault == Fault::hang
                ? fmt::format("a call ran longer than {}ms", host.options_.call_timeout.count())
                : fmt::format("{} at address {:#x}", signalName(sig), uintptr_t(trap.address));
        if (abandoned) detail += fmt::format("; {} queued records abandoned", abandoned);
        if (started) {
          started->set_value(fmt::format("{} in init: {}", faultName(fault), detail));
          started = nullptr;
          return finish();
        }
        bool give_up = restarts.load() >= host.options_.restart_limit;
        if (give_up) disable();
        // The watchdog counted and reported the hang when it interrupted it.
        if (fault != Fault::hang) host.reportHealth(*this, fault, detail, 1, give_up);
        if (give_up) break;
        uint32_t n = restarts.fetch_add(1) + 1;
        auto wait = host.options_.restart_backoff * (1u << std::min(n - 1, 10u));
        if (queue.waitClosedFor(wait)) break;
        continue;  // re-arms the trap, then init again
      }
      char err[512] = "";
      tick = nullptr;  // init registers it again
      in_init = true;
      state = call([&] { return descriptor().init(&api, err, sizeof err); }, nullptr);
      in_init = false;
      if (!state) {
        std::string why = err[0] ? err : "init returned no state and no reason";
        if (started) {
          started->set_value(why);
          return finish();
        }
        disable();
        host.reportHealth(*this, Fault::error, "init failed on restart: " + why, 1, true);
        break;
      }
      if (started) {
        started->set_value({});
        started = nullptr;
      }
      auto next_tick = Clock::now() + tick_interval;
      for (;;) {
        bool got = tick ? queue.popAllUntil(batch, next_tick) : queue.popAll(batch);
        for (batch_next = 0; batch_next < batch.size(); batch_next++) handle(batch[batch_next]);
        batch.clear();
        if (tick && Clock::now() >= next_tick) {
          escaped = false;
          settle(call([&] { return tick(state); }, RAQIB_ERROR_EXCEPTION));
          next_tick = Clock::now() + tick_interval;
        }
        if (!got && queue.closed()) break;
      }
      call(
          [&] {
            descriptor().destroy(state);
            return 0;
          },
          0);
      break;
    }
    finish();
  }

  // Calls into the plugin, marked for the watchdog; an exception a plugin
  // lets escape (it should not) is caught here too.
  template <class F, class R>
  auto call(F &&f, R on_exception) -> decltype(f()) {
    decltype(f()) result{};
    bool threw = false;
    trap.enter();
    try {
      result = f();
    } catch (...) {
      threw = true;
    }
    trap.leave();  // outside the try: it may jump back to run()
    if (!threw) return result;
    escaped = true;
    return on_exception;
  }

  void disable() {
    disabled.store(true);
    accepting.store(false);
  }

  void finish() {
    accepting.store(false);
    trap.detach();
    {
      std::lock_guard lock(host.mutex_);
      finished = true;
    }
    host.changed_.notify_all();
  }

  void handle(const Item &item) {
    int rc;
    escaped = false;
    if (item.record) {
      current = item.record.get();
      rc = call([&] { return descriptor().on_record(state, &item.record->view()); },
                RAQIB_ERROR_EXCEPTION);
      current = nullptr;
    } else {
      raqib_output out{};
      out.struct_size = sizeof out;
      out.kind = item.output->kind;
      out.json = item.output->json.c_str();
      out.json_len = item.output->json.size();
      out.text = item.output->text.c_str();
      out.text_len = item.output->text.size();
      out.id = item.output->id;
      rc = call([&] { return descriptor().on_output(state, &out); }, RAQIB_ERROR_EXCEPTION);
    }
    handled.fetch_add(1, std::memory_order_relaxed);
    settle(rc);
  }

  // Counts a failed call (of on_record, on_output or a tick) and keeps why.
  void settle(int rc) {
    if (rc == RAQIB_OK) return;
    failed.fetch_add(1, std::memory_order_relaxed);
    Fault fault = rc == RAQIB_ERROR_EXCEPTION ? Fault::exception : Fault::error;
    by_fault[size_t(fault)].fetch_add(1, std::memory_order_relaxed);
    const char *why = escaped ? "an exception escaped the plugin"
                              : call([&] { return descriptor().last_error(state); }, nullptr);
    std::lock_guard lock(error_mutex);
    last_error = why && *why ? why : "no reason given";
  }

  static int emit(void *self, const raqib_detection *d) {
    auto *w = static_cast<Worker *>(self);
    if (!w->isDetector() || !w->current) {
      spdlog::warn("plugin {}: emit outside on_record is refused", w->name());
      return -1;
    }
    if (!d || d->struct_size < sizeof(raqib_detection) || !d->name || !*d->name || !d->tactic ||
        !d->technique || !importanceName(d->importance) || d->record != &w->current->view()) {
      spdlog::warn(
          "plugin {}: malformed detection refused (name, tactic, technique, importance "
          "1-4 and the record being handled are required)",
          w->name());
      return -1;
    }
    thread_local boost::uuids::random_generator uuids;
    DetectionMeta meta{boost::uuids::to_string(uuids()),
                       unixNowNs(),
                       d->name,
                       w->name(),
                       d->tactic,
                       d->technique,
                       d->importance,
                       w->host.hostname_};
    auto output = std::make_shared<Output>(Output{
        RAQIB_RECORD_DETECTION, detectionJson(meta, *d->record), detectionText(meta, *d->record)});
    w->host.publish(std::move(output));
    w->emitted.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  static void log(void *self, raqib_log_level level, const char *message) {
    auto *w = static_cast<Worker *>(self);
    spdlog::log(spdlogLevel(level), "plugin {}: {}", w->name(), message ? message : "");
  }

  static const char *configText(void *self) {
    return static_cast<Worker *>(self)->config.section_toml.c_str();
  }

  static const raqib_process *process(void *self, uint32_t pid, const raqib_process **ancestry,
                                      uint32_t *ancestry_len) {
    auto *w = static_cast<Worker *>(self);
    const raqib_process *found = nullptr, *rest = nullptr;
    uint32_t rest_len = 0;
    if (w->current) {
      const raqib_record &r = w->current->view();
      if (r.process && r.process->pid == pid) {
        found = r.process;
        rest = r.ancestry;
        rest_len = r.ancestry_len;
      }
      for (uint32_t i = 0; !found && i < r.ancestry_len; i++)
        if (r.ancestry[i].pid == pid) {
          found = &r.ancestry[i];
          rest = r.ancestry + i + 1;
          rest_len = r.ancestry_len - i - 1;
        }
    }
    if (ancestry) *ancestry = rest_len ? rest : nullptr;
    if (ancestry_len) *ancestry_len = rest_len;
    return found;
  }

  static int counters(void *self, raqib_plugin_counters *out) {
    if (!out) return -1;
    auto *w = static_cast<Worker *>(self);
    raqib_plugin_counters c{};
    c.struct_size = sizeof c;
    c.restarts = w->restarts.load();
    c.handled = w->handled.load();
    c.dropped = w->dropped.load();
    c.failed = w->failed.load();
    c.faults = w->faults.load();
    c.emitted = w->emitted.load();
    size_t n = std::min<size_t>(out->struct_size, sizeof c);
    std::memcpy(out, &c, n);
    out->struct_size = uint32_t(n);
    return 0;
  }

  static int setTick(void *self, int (*fn)(void *), uint32_t interval_ms) {
    auto *w = static_cast<Worker *>(self);
    if (w->isDetector() || !w->in_init || !fn || interval_ms < 10 || interval_ms > 60000) return -1;
    w->tick = fn;
    w->tick_interval = std::chrono::milliseconds(interval_ms);
    return 0;
  }

  static int forward(void *self, uint64_t id, const char *json, size_t json_len) {
    auto *w = static_cast<Worker *>(self);
    if (w != w->host.attenuator_) return -1;
    return w->host.forwardHeld(id, json, json_len);
  }

  static uint64_t reopenGeneration(void *self) {
    return static_cast<Worker *>(self)->host.reopen_generation_.load(std::memory_order_relaxed);
  }

  PluginHost &host;
  std::promise<std::string> *started = nullptr;  // until init has returned
  PluginLibrary library;
  PluginConfig config;
  raqib_host_api api{};
  void *state = nullptr;
  BoundedQueue<Item> queue;
  std::thread thread;
  pthread_t native{};
  FaultTrap trap;
  const RecordSnapshot *current = nullptr;  // the record on_record is handling
  std::vector<Item> batch;
  size_t batch_next = 0;
  bool escaped = false;
  bool in_init = false;
  int (*tick)(void *state) = nullptr;  // set_tick, from init
  std::chrono::milliseconds tick_interval{1000};

  std::atomic<bool> accepting{true};  // false once stopped or disabled
  std::atomic<bool> disabled{false};  // given up after faults
  bool finished = false;              // guarded by host.mutex_
  std::atomic<uint64_t> handled{0}, dropped{0}, failed{0}, faults{0}, emitted{0};
  std::atomic<uint32_t> restarts{0};
  std::array<std::atomic<uint64_t>, kFaultKinds> by_fault{};
  std::mutex error_mutex;
  std::string last_error;  // of the last failed call

  // The watchdog's own bookkeeping (its thread only).
  struct {
    uint64_t seq = 0;
    Clock::time_point since{};
    bool signalled = false;
    bool abandoned = false;
    std::array<uint64_t, kFaultKinds> reported{};
    std::array<Clock::time_point, kFaultKinds> reported_at{};
    uint64_t reported_dropped = 0;
  } watch;
};

Result<std::unique_ptr<PluginHost>> PluginHost::load(const Config &config,
                                                     const std::filesystem::path &exe_dir) {
  std::vector<std::pair<std::filesystem::path, PluginConfig>> files;
  auto dirs = pluginSearchPath(config, exe_dir);
  for (const auto *list : {&config.detectors, &config.printers}) {
    for (const auto &pc : *list) {
      if (!pc.enabled) continue;
      std::string file = pluginFileName(pc.name);
      auto dir = std::find_if(dirs.begin(), dirs.end(), [&](const auto &d) {
        std::error_code ec;
        return std::filesystem::exists(d / file, ec);
      });
      if (dir == dirs.end()) {
        std::string searched;
        for (const auto &d : dirs) searched += (searched.empty() ? "" : ", ") + d.string();
        return Error{fmt::format("{}: plugin \"{}\" is enabled but {} was found in none of: {}",
                                 config.source, pc.name, file, searched)};
      }
      files.emplace_back(*dir / file, pc);
    }
  }
  auto host = loadFiles(files, SupervisionOptions::from(config));
  if (!host) return host;
  // The configuration says which group each name belongs to.
  for (const auto &pc : config.detectors)
    for (auto &w : (*host)->printers_)
      if (w->name() == pc.name)
        return Error{fmt::format("plugin {}: configured as detector \"{}\" but it is a printer",
                                 w->library.path.string(), pc.name)};
  for (const auto &pc : config.printers)
    for (auto &w : (*host)->detectors_)
      if (w->name() == pc.name)
        return Error{fmt::format("plugin {}: configured as printer \"{}\" but it is a detector",
                                 w->library.path.string(), pc.name)};
  if ((*host)->printers_.empty())
    spdlog::warn("{}: no printer is enabled: detections will not be shown", config.source);
  return host;
}

Result<std::unique_ptr<PluginHost>> PluginHost::loadFiles(
    const std::vector<std::pair<std::filesystem::path, PluginConfig>> &files,
    const SupervisionOptions &options) {
  std::unique_ptr<PluginHost> host(new PluginHost(options));
  char name[256] = "";
  gethostname(name, sizeof name - 1);
  host->hostname_ = name;
  for (const auto &[path, pc] : files) {
    auto lib = openPlugin(path);
    if (!lib) return Error{lib.error()};
    if (pc.name != lib->descriptor->name)
      return Error{fmt::format("plugin {}: configured as \"{}\" but its descriptor name is \"{}\"",
                               path.string(), pc.name, lib->descriptor->name)};
    if (auto s = host->add(std::move(*lib), pc); !s) return Error{s.error()};
  }
  return host;
}

Status PluginHost::add(PluginLibrary library, const PluginConfig &config) {
  bool detector = library.descriptor->kind == RAQIB_PLUGIN_DETECTOR;
  (detector ? detectors_ : printers_)
      .push_back(std::make_unique<Worker>(
          *this, std::move(library), config,
          config.queue_capacity ? config.queue_capacity : options_.queue_capacity));
  if (!detector && (printers_.back()->descriptor().subscriptions & RAQIB_RECORD_ATTENUATE)) {
    if (attenuator_)
      return Error{fmt::format("printers {} and {} are both attenuators; enable one of them",
                               attenuator_->name(), config.name)};
    attenuator_ = printers_.back().get();
  }
  return Ok{};
}

PluginHost::PluginHost(const SupervisionOptions &options) : options_(options) {}

PluginHost::~PluginHost() {
  stop();
}

Status PluginHost::start() {
  installFaultHandlers();
  // The logger formats local time on the plugin threads: read the time zone
  // now, before their filters forbid opening /etc/localtime.
  tzset();
  started_ = true;
  // The watchdog first: an init that hangs is interrupted too.
  watchdog_ = std::thread([this] { watchdog(); });
  // Printers first, so the first detection has somewhere to go.
  for (auto *list : {&printers_, &detectors_}) {
    for (auto &w : *list) {
      std::promise<std::string> started;
      auto result = started.get_future();
      Worker *worker = w.get();
      worker->started = &started;
      w->thread = std::thread([worker] { worker->run(); });
      if (std::string why = result.get(); !why.empty())
        return Error{fmt::format("plugin {} ({}) failed to start: {}", w->name(),
                                 w->library.path.string(), why)};
    }
  }
  return Ok{};
}

void PluginHost::dispatch(const std::shared_ptr<const RecordSnapshot> &record) {
  uint32_t kind = record->view().kind;
  for (auto &w : detectors_)
    if (w->descriptor().subscriptions & kind) w->offer({record, nullptr});
}

void PluginHost::publishInfo(const RecordSnapshot &record) {
  int64_t now = unixNowNs();
  publish(std::make_shared<Output>(Output{
      RAQIB_RECORD_INFO, infoJson(record.view(), now, hostname_), infoText(record.view(), now)}));
}

void PluginHost::publish(std::shared_ptr<const Output> output) {
  if (output->kind != RAQIB_RECORD_DETECTION || !attenuator_ ||
      !attenuator_->accepting.load(std::memory_order_relaxed))
    return publishToPrinters(output);
  auto held = std::make_shared<Output>(*output);
  {
    std::lock_guard lock(held_mutex_);
    held->id = next_held_id_++;
    held_[held->id] = {output, Clock::now() + options_.attenuator_hold};
  }
  // Refused (its queue is full, counted): the detection goes on as it is.
  if (!attenuator_->offer({nullptr, held})) forwardHeld(held->id, nullptr, 0);
}

void PluginHost::publishToPrinters(const std::shared_ptr<const Output> &output) {
  for (auto &w : printers_)
    if (w.get() != attenuator_ && (w->descriptor().subscriptions & output->kind))
      w->offer({nullptr, output});
}

int PluginHost::forwardHeld(uint64_t id, const char *json, size_t json_len) {
  std::shared_ptr<const Output> original;
  {
    std::lock_guard lock(held_mutex_);
    auto it = held_.find(id);
    if (it == held_.end()) return -1;
    original = std::move(it->second.output);
    held_.erase(it);
  }
  if (!json) {
    publishToPrinters(original);
  } else {
    publishToPrinters(std::make_shared<Output>(
        Output{original->kind, std::string(json, json_len), original->text, 0}));
  }
  return 0;
}

void PluginHost::releaseHeld(bool all) {
  std::vector<std::shared_ptr<const Output>> due;
  {
    std::lock_guard lock(held_mutex_);
    auto now = Clock::now();
    for (auto it = held_.begin(); it != held_.end();) {
      if (!all && it->second.until > now) {
        ++it;
        continue;
      }
      due.push_back(std::move(it->second.output));
      it = held_.erase(it);
    }
  }
  for (auto &o : due) publishToPrinters(o);  // in the order they were held
}

void PluginHost::reportHealth(Worker &w, Fault fault, const std::string &detail, uint64_t count,
                              bool disabled) {
  uint32_t restarts = w.restarts.load();
  if (fault == Fault::crash || fault == Fault::seccomp || fault == Fault::hang) {
    w.faults.fetch_add(count, std::memory_order_relaxed);
    w.by_fault[size_t(fault)].fetch_add(count, std::memory_order_relaxed);
  }
  spdlog::warn("plugin {}: {} x{}: {}{}", w.name(), faultName(fault), count, detail,
               disabled ? fmt::format("; disabled after {} restarts", restarts)
               : (fault == Fault::crash || fault == Fault::seccomp || fault == Fault::hang)
                   ? fmt::format("; restart {} of {}", restarts + 1, options_.restart_limit)
                   : std::string());
  uint64_t total = fault == Fault::queue_full ? w.dropped.load() : w.by_fault[size_t(fault)].load();
  spdlog::warn("metric raqib_plugin_faults_total{{plugin=\"{}\",fault=\"{}\"}} {}", w.name(),
               faultName(fault), total);
  HealthEvent event{unixNowNs(), w.name(), faultName(fault), detail,
                    count,       restarts, disabled,         hostname_};
  publish(
      std::make_shared<Output>(Output{RAQIB_RECORD_HEALTH, healthJson(event), healthText(event)}));
}

// Notices calls that overrun call_timeout (and interrupts them), full queues,
// and errors; reports each kind at most once a second per plugin.
void PluginHost::watchdog() {
  prctl(PR_SET_NAME, "raqib-watchdog", 0, 0, 0);
  auto tick = std::clamp(options_.call_timeout / 4, std::chrono::milliseconds(10),
                         std::chrono::milliseconds(250));
  std::unique_lock lock(mutex_);
  for (;;) {
    // stop() sets stopping_ once every worker finished or was left behind.
    if (changed_.wait_for(lock, tick, [this] { return stopping_; })) break;
    lock.unlock();
    auto now = Clock::now();
    for (auto *list : {&detectors_, &printers_}) {
      for (auto &wp : *list) {
        Worker &w = *wp;
        auto &s = w.watch;
        uint64_t seq = w.trap.call_seq.load(std::memory_order_acquire);
        if (!(seq & 1) || seq != s.seq) {
          s.seq = seq;
          s.since = now;
          s.signalled = false;
        } else if (!s.abandoned && now - s.since >= options_.call_timeout) {
          if (!s.signalled) {
            s.signalled = true;
            s.since = now;
            bool give_up = w.restarts.load() >= options_.restart_limit;
            reportHealth(w, Fault::hang,
                         fmt::format("a call ran longer than {}ms; interrupting it",
                                     options_.call_timeout.count()),
                         1, give_up);
            w.trap.hang_seq.store(seq);
            pthread_kill(w.native, hangSignal());
          } else {
            // It ignored the signal (blocked it): stop feeding it, leave it.
            s.abandoned = true;
            w.disable();
            reportHealth(w, Fault::hang,
                         "the call did not return when interrupted; thread abandoned", 0, true);
          }
        }
        // Counted faults, reported at most once a second each.
        auto report = [&](Fault f, uint64_t total, uint64_t &reported, const std::string &detail) {
          auto &at = s.reported_at[size_t(f)];
          if (total == reported || now - at < std::chrono::seconds(1)) return;
          reportHealth(w, f, detail, total - reported, false);
          reported = total;
          at = now;
        };
        std::string last_error;
        {
          std::lock_guard el(w.error_mutex);
          last_error = w.last_error;
        }
        report(Fault::exception, w.by_fault[size_t(Fault::exception)].load(),
               s.reported[size_t(Fault::exception)], last_error);
        report(Fault::error, w.by_fault[size_t(Fault::error)].load(),
               s.reported[size_t(Fault::error)], last_error);
        report(Fault::queue_full, w.dropped.load(), s.reported_dropped,
               fmt::format("queue of {} records full: records dropped for this plugin only",
                           w.queue.capacity()));
      }
    }
    releaseHeld(false);  // detections the attenuator kept past the hold go on as they are
    lock.lock();
  }
}

void PluginHost::stop() {
  if (!started_) return;
  started_ = false;
  auto deadline = Clock::now() + 2 * options_.call_timeout + std::chrono::seconds(1);
  // The attenuator before the other printers: what it hands on still reaches them.
  auto all = [](auto &list) {
    std::vector<Worker *> out;
    for (auto &w : list) out.push_back(w.get());
    return out;
  };
  std::vector<Worker *> printers;
  for (Worker *w : all(printers_))
    if (w != attenuator_) printers.push_back(w);
  std::vector<Worker *> attenuator;
  if (attenuator_) attenuator.push_back(attenuator_);
  std::vector<Worker *> stages[] = {all(detectors_), attenuator, printers};
  for (const auto &list : stages) {
    for (Worker *w : list) w->queue.close();
    std::unique_lock lock(mutex_);
    // The watchdog still runs meanwhile, so a hung call is interrupted.
    changed_.wait_until(lock, deadline, [&] {
      return std::all_of(list.begin(), list.end(),
                         [](Worker *w) { return w->finished || !w->thread.joinable(); });
    });
    lock.unlock();
    if (&list == &stages[1]) releaseHeld(true);  // what it did not hand on goes on as it is
  }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  for (auto *list : {&detectors_, &printers_}) {
    for (auto &w : *list) {
      if (!w->thread.joinable()) continue;
      bool finished;
      {
        std::lock_guard lock(mutex_);
        finished = w->finished;
      }
      if (finished) {
        w->thread.join();
      } else {
        // Stuck in plugin code that ignores signals: it cannot be joined or
        // freed safely; it ends with the process.
        spdlog::error("plugin {}: its thread is stuck and is left behind", w->name());
        w->thread.detach();
        (void)w.release();
      }
    }
    std::erase(*list, nullptr);
  }
}

std::vector<PluginHost::PluginStats> PluginHost::stats() const {
  std::vector<PluginStats> all;
  for (auto *list : {&detectors_, &printers_})
    for (auto &w : *list)
      all.push_back({w->name(), w->handled.load(), w->dropped.load(), w->failed.load(),
                     w->faults.load(), w->restarts.load(), w->emitted.load(), w->disabled.load()});
  return all;
}

void PluginHost::logMetrics() const {
  for (const auto &s : stats())
    spdlog::info(
        "metric raqib_plugin{{plugin=\"{}\"}} handled={} dropped={} failed={} faults={} "
        "restarts={} emitted={} disabled={}",
        s.name, s.handled, s.dropped, s.failed, s.faults, s.restarts, s.emitted, s.disabled);
}

}  // namespace raqib
