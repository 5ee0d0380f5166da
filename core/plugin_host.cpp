#include "plugin_host.hpp"

#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <array>
#include <ctime>
#include <future>
#include <optional>
#include <utility>

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

constexpr size_t kFaultKinds = size_t(Fault::memory) + 1;
// Log lines a plugin may write per second; the rest are counted, not written.
constexpr uint32_t kLogLinesPerSecond = 100;

}  // namespace

SupervisionOptions SupervisionOptions::from(const Config &config) {
  return {config.queue_capacity,
          config.plugin_restart_limit,
          config.plugin_restart_backoff,
          config.plugin_call_timeout,
          config.plugin_restart_window,
          config.attenuator_hold,
          size_t(config.plugin_memory_mib) << 20};
}

struct PluginHost::Worker {
  Worker(PluginHost &host, std::filesystem::path path, DescriptorFields fields, PluginConfig config,
         size_t capacity)
      : host(host),
        path(std::move(path)),
        fields(fields),
        config(std::move(config)),
        queue(capacity) {
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

  ~Worker() {
    if (int fd = trap.notify_fd.load(); fd >= 0) close(fd);
    // A plugin is never unloaded: dlclose would run its destructors on the
    // thread that unloads it, outside its own. The daemon ends with _exit.
    (void)library.release();
  }

  // Only on the plugin's own thread, once loaded.
  const raqib_plugin_descriptor &descriptor() const { return *library->descriptor; }
  const std::string &name() const { return config.name; }
  bool isDetector() const { return fields.kind == RAQIB_PLUGIN_DETECTOR; }

  // One item of a queue: a record for a detector, an output for a printer.
  struct Item {
    std::shared_ptr<const RecordSnapshot> record;
    std::shared_ptr<const Output> output;
    bool reconfigure = false;  // take reload_section (neither record nor output)
  };

  // From the drain thread: the newest section wins; one control item at a
  // time is queued for it, past the queue's bound.
  bool requestReconfigure(std::string section) {
    if (!accepting.load()) return false;
    bool queued;
    {
      std::lock_guard lock(reload_mutex);
      queued = reload_section.has_value();
      reload_section = std::move(section);
    }
    return queued ||
           queue.pushControl(Item{.record = nullptr, .output = nullptr, .reconfigure = true});
  }

  bool offer(Item item, Priority priority) {
    if (!accepting.load(std::memory_order_relaxed)) return false;
    if (queue.tryPush(std::move(item), priority)) return true;
    dropped.fetch_add(1, std::memory_order_relaxed);
    return false;
  }

  // The thread's body. started gets "" once init returned a state, or why
  // not. No plugin code runs before the thread is confined: the library is
  // loaded here, under the filter, with its constructors.
  void run() {
    std::string thread_name = ("raqib:" + name()).substr(0, 15);
    prctl(PR_SET_NAME, thread_name.c_str(), 0, 0, 0);
    native = pthread_self();  // published to the watchdog by the first call's call_seq
    trap.attach();
    if (auto s = confine(); !s) return failStart(s.error());
    for (;;) {
      if (int sig = RAQIB_FAULT_TRAP(trap)) {
        // Back from a fault: whatever the plugin was doing is abandoned,
        // locks it held included; its state is not trusted (no destroy).
        trap.loading.store(false);
        if (trap.inCall()) trap.enter();  // the call is over (without leave's check)
        current = nullptr;
        batch_next++;  // the record it faulted on is not offered again; the rest are, after restart
        state = nullptr;
        Fault fault = sig == kExitCalled           ? Fault::crash
                      : trap.memory_refused.load() ? Fault::memory
                                                   : faultOfSignal(sig);
        std::string detail = faultDetail(sig);
        if (started)
          return failStart(fmt::format("{} while starting: {}", faultName(fault), detail));
        bool give_up = restartBudgetSpent();
        if (give_up) {
          disable();
          size_t left = batch.size() - std::min(batch_next, batch.size());
          dropped.fetch_add(left + queue.clear());
        }
        // The watchdog counted and reported the hang when it interrupted it.
        if (fault != Fault::hang) host.reportHealth(*this, fault, detail, 1, give_up);
        if (give_up) break;
        uint32_t n = restarts.fetch_add(1) + 1;
        auto wait = host.options_.restart_backoff * (1u << std::min(n - 1, 10u));
        if (queue.waitClosedFor(wait)) break;
        continue;  // re-arms the trap, then init again
      }
      if (!library) {
        trap.enter();  // the loader runs the plugin's constructors: watched like a call
        auto loaded = openPlugin(path);
        trap.loading.store(false);
        trap.leave();  // a forbidden syscall while loading jumps back
        if (!loaded) return failStart(loaded.error());
        if (name() != loaded->descriptor->name)
          return failStart(fmt::format("configured as \"{}\" but its descriptor name is \"{}\"",
                                       name(), loaded->descriptor->name));
        library = std::make_unique<PluginLibrary>(std::move(*loaded));
      }
      if (std::string why; !initState(why)) {
        if (started) return failStart(why);
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
        // What was left of a batch a fault interrupted comes first.
        for (; batch_next < batch.size() && state; batch_next++) {
          if (out_of_time.load(std::memory_order_relaxed)) {
            dropped.fetch_add(batch.size() - batch_next);
            batch_next = batch.size();
            break;
          }
          handle(batch[batch_next]);
        }
        if (!state) {  // a reconfiguration left none: disabled
          dropped.fetch_add(batch.size() - batch_next + queue.clear());
          break;
        }
        batch.clear();
        batch_next = 0;
        if (tick && Clock::now() >= next_tick) {
          escaped = false;
          settle(call([&] { return tick(state); }, RAQIB_ERROR_EXCEPTION));
          next_tick = Clock::now() + tick_interval;
        }
        bool got = tick ? queue.popBatchUntil(batch, next_tick) : queue.popBatch(batch);
        if (!got && queue.closed()) break;
      }
      if (state) destroyState();
      break;
    }
    finish();
  }

  // init with the current section; false, with why, when it gave no state.
  bool initState(std::string &why) {
    char err[512] = "";
    tick = nullptr;  // init registers it again
    in_init = true;
    state = call([&] { return descriptor().init(&api, err, sizeof err); }, nullptr);
    in_init = false;
    if (state) return true;
    why = err[0] ? err : "init returned no state and no reason";
    return false;
  }

  void destroyState() {
    call(
        [&] {
          descriptor().destroy(state);
          return 0;
        },
        0);
    state = nullptr;
  }

  // The control item of requestReconfigure, on the plugin's thread.
  void reconfigure() {
    std::string section;
    {
      std::lock_guard lock(reload_mutex);
      section = std::move(*reload_section);
      reload_section.reset();
    }
    if (section == config.section_toml) return;
    destroyState();
    std::string previous = std::exchange(config.section_toml, std::move(section));
    std::string why;
    if (initState(why)) {
      spdlog::info("plugin {}: runs with its new configuration", name());
      return;
    }
    config.section_toml = std::move(previous);
    std::string again;
    bool back = initState(again);
    if (!back) disable();
    host.reportHealth(
        *this, Fault::error,
        "the new configuration is refused: " + why +
            (back ? "; the previous one runs again" : "; the previous one failed too: " + again),
        1, !back);
  }

  // No capability, then the filter built from the resources the file
  // declared; its listener goes to the answerer.
  Status confine() {
    if (auto s = dropThreadCapabilities(); !s) return s;
    trap.memory_limit = host.options_.memory_limit;
    auto listener = confinePluginThread(fields.resources, host.wake_fd_);
    if (!listener) return Error{listener.error()};
    trap.notify_fd.store(*listener);
    host.wakeAnswerer();
    return Ok{};
  }

  void failStart(const std::string &why) {
    started->set_value(why);
    started = nullptr;
    finish();
  }

  std::string faultDetail(int sig) const {
    if (sig == kExitCalled)
      return fmt::format("the plugin called {}({}); refused, the daemon goes on", trap.exit_call,
                         std::string_view(trap.exit_call) == "abort"
                             ? std::string()
                             : std::to_string(trap.exit_status));
    if (trap.memory_refused.load())
      return fmt::format(
          "memory limit of {} MiB reached ({} MiB charged): {} refused with ENOMEM; what the "
          "plugin holds stays charged",
          host.options_.memory_limit >> 20, trap.memory_charged.load() >> 20,
          trap.forbiddenSyscalls());
    switch (faultOfSignal(sig)) {
      case Fault::seccomp:
        return "forbidden syscall " + trap.forbiddenSyscalls() + ", refused with EPERM";
      case Fault::hang:
        return fmt::format("a call ran longer than {}ms", host.options_.call_timeout.count());
      default:
        return fmt::format("{} at address {:#x}", signalName(sig), uintptr_t(trap.address));
    }
  }

  // Faults further apart than the restart window do not add up: a plugin
  // that faults once a day is never disabled for it.
  bool restartBudgetSpent() {
    auto now = Clock::now();
    if (now - last_fault >= host.options_.restart_window) restarts.store(0);
    last_fault = now;
    return restarts.load() >= host.options_.restart_limit;
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
    if (item.reconfigure) return reconfigure();
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
      const std::string &json = item.output->json(), &text = item.output->text();
      out.json = json.c_str();
      out.json_len = json.size();
      out.text = text.c_str();
      out.text_len = text.size();
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
    FaultTrap::HostCall in_host;
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
    auto output = std::make_shared<Output>(RAQIB_RECORD_DETECTION, detectionJson(meta, *d->record),
                                           detectionText(meta, *d->record));
    w->host.publish(std::move(output));
    w->emitted.fetch_add(1, std::memory_order_relaxed);
    return 0;
  }

  static void log(void *self, raqib_log_level level, const char *message) {
    FaultTrap::HostCall in_host;
    auto *w = static_cast<Worker *>(self);
    auto now = Clock::now();
    if (now - w->log_window >= std::chrono::seconds(1)) {
      w->log_window = now;
      w->log_lines = 0;
    }
    if (++w->log_lines > kLogLinesPerSecond) {
      w->by_fault[size_t(Fault::log_flood)].fetch_add(1, std::memory_order_relaxed);
      return;
    }
    spdlog::log(spdlogLevel(level), "plugin {}: {}", w->name(), message ? message : "");
  }

  static const char *configText(void *self) {
    FaultTrap::HostCall in_host;
    return static_cast<Worker *>(self)->config.section_toml.c_str();
  }

  static const raqib_process *process(void *self, uint32_t pid, const raqib_process **ancestry,
                                      uint32_t *ancestry_len) {
    FaultTrap::HostCall in_host;
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
    FaultTrap::HostCall in_host;
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
  std::filesystem::path path;
  DescriptorFields fields;                 // from the file, before loading
  std::unique_ptr<PluginLibrary> library;  // loaded on the plugin's thread
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

  std::atomic<bool> accepting{true};     // false once stopped or disabled
  std::atomic<bool> disabled{false};     // given up after faults
  std::atomic<bool> out_of_time{false};  // past the stop bound: the rest is dropped
  bool finished = false;                 // guarded by host.mutex_
  std::atomic<uint64_t> handled{0}, dropped{0}, failed{0}, faults{0}, emitted{0};
  std::atomic<uint32_t> restarts{0};
  Clock::time_point last_fault{};  // the plugin thread's own
  Clock::time_point log_window{};  // log rate limit (the plugin thread's own)
  uint32_t log_lines = 0;
  std::array<std::atomic<uint64_t>, kFaultKinds> by_fault{};
  std::mutex error_mutex;
  std::string last_error;  // of the last failed call
  std::mutex reload_mutex;
  std::optional<std::string> reload_section;  // guarded by reload_mutex

  // The watchdog's own bookkeeping (its thread only).
  struct {
    uint64_t seq = 0;
    Clock::time_point since{};
    std::chrono::nanoseconds cpu_since{};  // the thread's CPU time when the call began
    bool signalled = false;
    bool stalled = false;  // a printer waiting on its output, reported once
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
                                 w->path.string(), pc.name)};
  for (const auto &pc : config.printers)
    for (auto &w : (*host)->detectors_)
      if (w->name() == pc.name)
        return Error{fmt::format("plugin {}: configured as printer \"{}\" but it is a detector",
                                 w->path.string(), pc.name)};
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
    // Only the file is read here; the plugin is loaded on its own thread.
    auto fields = checkBeforeLoad(path);
    if (!fields) return Error{fields.error()};
    bool detector = fields->kind == RAQIB_PLUGIN_DETECTOR;
    (detector ? host->detectors_ : host->printers_)
        .push_back(std::make_unique<Worker>(
            *host, path, *fields, pc,
            pc.queue_capacity ? pc.queue_capacity : options.queue_capacity));
    if (!detector && (fields->subscriptions & RAQIB_RECORD_ATTENUATE)) {
      if (host->attenuator_)
        return Error{fmt::format("printers {} and {} are both attenuators; enable one of them",
                                 host->attenuator_->name(), pc.name)};
      host->attenuator_ = host->printers_.back().get();
    }
  }
  return host;
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
  wake_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (wake_fd_ < 0) return Error{fmt::format("eventfd for the answerer: {}", std::strerror(errno))};
  started_ = true;
  // The answerer and the watchdog first: one answers the plugin threads'
  // seccomp notifications, the other interrupts an init that hangs.
  for (auto role : {std::pair{&answerer_, &PluginHost::answerer},
                    std::pair{&watchdog_, &PluginHost::watchdog}}) {
    std::promise<std::string> confined;
    auto ready = confined.get_future();
    auto body = role.second;  // a plain variable: clang before 16 cannot capture a binding
    *role.first = std::thread([this, body, &confined] { (this->*body)(confined); });
    if (std::string why = ready.get(); !why.empty()) return Error{why};
  }
  // Printers first, so the first detection has somewhere to go.
  for (auto *list : {&printers_, &detectors_}) {
    for (auto &w : *list) {
      std::promise<std::string> started;
      auto result = started.get_future();
      Worker *worker = w.get();
      worker->started = &started;
      w->thread = std::thread([worker] { worker->run(); });
      if (std::string why = result.get(); !why.empty())
        return Error{
            fmt::format("plugin {} ({}) failed to start: {}", w->name(), w->path.string(), why)};
    }
  }
  return Ok{};
}

void PluginHost::wakeAnswerer() {
  uint64_t one = 1;
  (void)!write(wake_fd_, &one, sizeof one);
}

void PluginHost::dispatch(const std::shared_ptr<const RecordSnapshot> &record, Priority priority) {
  uint32_t kind = record->view().kind;
  for (auto &w : detectors_)
    if (w->fields.subscriptions & kind) w->offer({record, nullptr}, priority);
}

void PluginHost::publishInfo(std::shared_ptr<const RecordSnapshot> record, Format format) {
  int64_t now = unixNowNs();
  if (format == Format::now) {
    publish(std::make_shared<Output>(RAQIB_RECORD_INFO, infoJson(record->view(), now, hostname_),
                                     infoText(record->view(), now)));
    return;
  }
  publish(std::make_shared<Output>(RAQIB_RECORD_INFO, [this, record = std::move(record), now](
                                                          std::string &json, std::string &text) {
    json = infoJson(record->view(), now, hostname_);
    text = infoText(record->view(), now);
  }));
}

void PluginHost::publishTamper(std::string json, std::string text) {
  publish(std::make_shared<Output>(RAQIB_RECORD_TAMPER, std::move(json), std::move(text)));
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
  if (!attenuator_->offer({nullptr, held}, Priority::urgent)) forwardHeld(held->id, nullptr, 0);
}

void PluginHost::publishToPrinters(const std::shared_ptr<const Output> &output) {
  // What --events all adds must not crowd out detections, health or tamper.
  Priority priority = output->kind == RAQIB_RECORD_INFO ? Priority::normal : Priority::urgent;
  for (auto &w : printers_)
    if (w.get() != attenuator_ && (w->fields.subscriptions & output->kind))
      w->offer({nullptr, output}, priority);
}

bool PluginHost::reconfigure(const std::string &name, std::string section_toml) {
  for (auto *list : {&detectors_, &printers_})
    for (auto &w : *list)
      if (w->name() == name) return w->requestReconfigure(std::move(section_toml));
  return false;
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
    publishToPrinters(
        std::make_shared<Output>(original->kind, std::string(json, json_len), original->text()));
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
  bool restarting = fault == Fault::crash || fault == Fault::seccomp || fault == Fault::hang ||
                    fault == Fault::memory;
  if (restarting) {
    w.faults.fetch_add(count, std::memory_order_relaxed);
    w.by_fault[size_t(fault)].fetch_add(count, std::memory_order_relaxed);
  }
  spdlog::warn("plugin {}: {} x{}: {}{}", w.name(), faultName(fault), count, detail,
               disabled ? fmt::format("; disabled after {} restarts", restarts)
               : restarting
                   ? fmt::format("; restart {} of {}", restarts + 1, options_.restart_limit)
                   : std::string());
  uint64_t total = fault == Fault::queue_full ? w.dropped.load() : w.by_fault[size_t(fault)].load();
  spdlog::warn("metric raqib_plugin_faults_total{{plugin=\"{}\",fault=\"{}\"}} {}", w.name(),
               faultName(fault), total);
  HealthEvent event{unixNowNs(), w.name(), faultName(fault), detail,
                    count,       restarts, disabled,         hostname_};
  publish(std::make_shared<Output>(RAQIB_RECORD_HEALTH, healthJson(event), healthText(event)));
}

// Answers the plugin threads' seccomp notifications as they come. A plugin
// thread may wait for the answer while holding a lock (a malloc arena's,
// taken while the heap grows): nothing here allocates or takes a lock, and
// the workers' lists do not change while it runs (start() to stop()).
void PluginHost::answerer(std::promise<std::string> &confined) {
  prctl(PR_SET_NAME, "raqib-answerer", 0, 0, 0);
  std::vector<pollfd> fds(1 + detectors_.size() + printers_.size());
  std::vector<Worker *> owners(fds.size());
  if (auto s = confineCoreThread(CoreThread::answerer); !s) return confined.set_value(s.error());
  confined.set_value({});
  while (!answerer_stop_.load()) {
    size_t n = 0;
    fds[n++] = {wake_fd_, POLLIN, 0};
    for (auto *list : {&detectors_, &printers_})
      for (auto &w : *list)
        if (int fd = w->trap.notify_fd.load(); fd >= 0 && !w->trap.listener_gone) {
          owners[n] = w.get();
          fds[n++] = {fd, POLLIN, 0};
        }
    if (poll(fds.data(), n, -1) < 0) continue;
    if (fds[0].revents & POLLIN) {
      uint64_t count;
      (void)!read(wake_fd_, &count, sizeof count);
    }
    for (size_t i = 1; i < n; i++) {
      // POLLHUP: the thread under the filter has ended.
      if ((fds[i].revents & POLLIN) && answerNotification(fds[i].fd, owners[i]->trap)) continue;
      if (fds[i].revents & (POLLHUP | POLLERR | POLLNVAL)) owners[i]->trap.listener_gone = true;
    }
  }
}

// Every tick, notices calls that overrun call_timeout (and interrupts them),
// full queues and errors, and reports each kind at most once a second per
// plugin.
void PluginHost::watchdog(std::promise<std::string> &confined) {
  prctl(PR_SET_NAME, "raqib-watchdog", 0, 0, 0);
  if (auto s = confineCoreThread(CoreThread::watchdog); !s) return confined.set_value(s.error());
  confined.set_value({});
  auto tick = std::clamp(options_.call_timeout / 4, std::chrono::milliseconds(10),
                         std::chrono::milliseconds(250));
  for (;;) {
    {
      std::unique_lock lock(mutex_);
      if (changed_.wait_for(lock, tick, [&] { return stopping_; })) break;
    }
    auto now = Clock::now();
    for (auto *list : {&detectors_, &printers_})
      for (auto &w : *list) checkWorker(*w, now);
    releaseHeld(false);  // detections the attenuator kept past the hold go on as they are
  }
}

void PluginHost::checkWorker(Worker &w, Clock::time_point now) {
  auto &s = w.watch;
  uint64_t seq = w.trap.call_seq.load(std::memory_order_acquire);
  if (!(seq & 1) || seq != s.seq) {
    s.seq = seq;
    s.since = now;
    s.cpu_since = threadCpuTime(w);
    s.signalled = false;
    s.stalled = false;
  } else if (!s.abandoned && now - s.since >= options_.call_timeout) {
    auto cpu = threadCpuTime(w) - s.cpu_since;
    if (!s.signalled && !w.isDetector() && cpu < (now - s.since) / 2) {
      // A printer that waits (on a slow reader or peer) is back-pressure,
      // not a fault: its queue absorbs it and counts what does not fit.
      if (!s.stalled)
        spdlog::warn("plugin {}: output blocked for over {}ms; its records queue meanwhile",
                     w.name(), options_.call_timeout.count());
      s.stalled = true;
    } else if (!s.signalled) {
      s.signalled = true;
      s.since = now;
      bool give_up = w.restarts.load() >= options_.restart_limit;
      reportHealth(w, Fault::hang,
                   fmt::format("a call ran longer than {}ms; interrupting it",
                               options_.call_timeout.count()),
                   1, give_up);
      interrupt(w, seq);
    } else {
      // The interrupt did not bring it back: stop feeding it, leave it.
      s.abandoned = true;
      w.disable();
      reportHealth(w, Fault::hang, "the call did not return when interrupted; thread abandoned", 0,
                   true);
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
  report(Fault::error, w.by_fault[size_t(Fault::error)].load(), s.reported[size_t(Fault::error)],
         last_error);
  report(Fault::log_flood, w.by_fault[size_t(Fault::log_flood)].load(),
         s.reported[size_t(Fault::log_flood)],
         fmt::format("log lines over {} a second suppressed", kLogLinesPerSecond));
  report(Fault::queue_full, w.dropped.load(), s.reported_dropped,
         fmt::format("queue of {} records full: records dropped for this plugin only",
                     w.queue.capacity()));
}

std::chrono::nanoseconds PluginHost::threadCpuTime(Worker &w) {
  clockid_t clock;
  timespec ts{};
  if (pthread_getcpuclockid(w.native, &clock) != 0 || clock_gettime(clock, &ts) != 0) return {};
  return std::chrono::seconds(ts.tv_sec) + std::chrono::nanoseconds(ts.tv_nsec);
}

void PluginHost::interrupt(Worker &w, uint64_t seq) {
  w.trap.hang_seq.store(seq);
  pthread_kill(w.native, hangSignal());
}

void PluginHost::stop(Clock::time_point until) {
  if (!started_) return;
  started_ = false;
  // What is queued is delivered within the flush bound; a worker still in a
  // call after it (a printer blocked on a reader that went away) is
  // interrupted, and what it had left is counted as dropped. The attenuator
  // stops before the other printers: what it hands on still reaches them.
  until = std::min(until, Clock::now() + options_.call_timeout);
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
    auto all_finished = [&] {
      return std::all_of(list.begin(), list.end(),
                         [](Worker *w) { return w->finished || !w->thread.joinable(); });
    };
    auto stage_until =
        &list == &stages[0] ? until : std::max(until, Clock::now() + kStopStageFloor);
    std::unique_lock lock(mutex_);
    if (!changed_.wait_until(lock, stage_until, all_finished)) {
      // Out of time: what is queued or taken but not handled is dropped.
      std::vector<uint64_t> dropped_before;
      for (Worker *w : list) {
        dropped_before.push_back(w->dropped.load());
        if (w->finished || !w->thread.joinable()) continue;
        w->out_of_time.store(true);
        w->dropped.fetch_add(w->queue.clear());
        uint64_t seq = w->trap.call_seq.load();
        if (seq & 1) interrupt(*w, seq);
      }
      changed_.wait_for(lock, kStopInterrupted, all_finished);
      for (size_t i = 0; i < list.size(); i++)
        if (uint64_t left = list[i]->dropped.load() - dropped_before[i])
          spdlog::warn("plugin {}: {} records not delivered within the stop bound", list[i]->name(),
                       left);
    }
    lock.unlock();
    if (&list == &stages[1]) releaseHeld(true);  // what it did not hand on goes on as it is
  }
  // A finished thread still runs its exit (the C library's and a
  // sanitizer's: memory unmapped, signals blocked), which the answerer
  // answers: joined while it runs.
  for (auto *list : {&detectors_, &printers_})
    for (auto &w : *list) {
      bool finished;
      {
        std::lock_guard lock(mutex_);
        finished = w->finished;
      }
      if (finished && w->thread.joinable()) w->thread.join();
    }
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  changed_.notify_all();
  if (watchdog_.joinable()) watchdog_.join();
  answerer_stop_.store(true);
  wakeAnswerer();
  if (answerer_.joinable()) answerer_.join();
  for (auto *list : {&detectors_, &printers_}) {
    for (auto &w : *list) {
      if (int fd = w->trap.notify_fd.exchange(-1); fd >= 0) close(fd);
      if (!w->thread.joinable()) continue;
      // Stuck in plugin code that ignores signals: it cannot be joined or
      // freed safely; it ends with the process. With nobody left to answer,
      // its notified syscalls fail with ENOSYS.
      spdlog::error("plugin {}: its thread is stuck and is left behind", w->name());
      w->thread.detach();
      (void)w.release();
    }
    std::erase(*list, nullptr);
  }
  close(wake_fd_);
  wake_fd_ = -1;
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
