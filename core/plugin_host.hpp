// Runs detection plugins and printers, each on its own thread fed by its own
// bounded queue and confined by its own seccomp filter. Detections a detector
// emits are serialised once and queued to every printer. A plugin that
// throws, fails, crashes, makes a forbidden syscall, hangs or lets its queue
// fill is reported (a health record to the printers, a metric line in the
// log); one that crashes, breaks its filter or hangs is restarted with
// backoff, then disabled. docs/architecture.md, "Plugin faults", has the limits.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "bounded_queue.hpp"
#include "config.hpp"
#include "health.hpp"
#include "plugin_loader.hpp"
#include "record_snapshot.hpp"
#include "result.hpp"
#include "sandbox.hpp"

namespace raqib {

// One record as printers get it (detection, health, tamper or info), in JSON
// and in text, shared by every printer's queue. Formatted when made, or by
// the first printer thread that asks for it (once for all printers).
class Output {
 public:
  using Format = std::function<void(std::string &json, std::string &text)>;
  Output(uint32_t kind, std::string json, std::string text)
      : kind(kind), json_(std::move(json)), text_(std::move(text)) {}
  Output(uint32_t kind, Format format) : kind(kind), format_(std::move(format)) {}
  Output(const Output &other)
      : kind(other.kind), id(other.id), json_(other.json()), text_(other.text()) {}
  Output &operator=(const Output &) = delete;

  const std::string &json() const {
    formatOnce();
    return json_;
  }
  const std::string &text() const {
    formatOnce();
    return text_;
  }

  const uint32_t kind;
  uint64_t id = 0;  // a detection held for the attenuator

 private:
  void formatOnce() const {
    if (format_) std::call_once(formatted_, [this] { format_(json_, text_); });
  }
  Format format_;
  mutable std::once_flag formatted_;
  mutable std::string json_;
  mutable std::string text_;
};

// How the host supervises plugins (from [core]).
struct SupervisionOptions {
  size_t queue_capacity = 4096;
  uint32_t restart_limit = 3;
  std::chrono::milliseconds restart_backoff{1000};
  std::chrono::milliseconds call_timeout{5000};
  std::chrono::milliseconds restart_window{600000};  // faults further apart do not add up
  std::chrono::milliseconds attenuator_hold{3000};
  size_t memory_limit = size_t(256) << 20;  // bytes each plugin thread may make writable
  static SupervisionOptions from(const Config &config);
};

class PluginHost {
 public:
  // Find and open every enabled plugin and printer of config. Nothing runs yet.
  static Result<std::unique_ptr<PluginHost>> load(const Config &config,
                                                  const std::filesystem::path &exe_dir);
  // Open the given plugin files (tests and benchmarks).
  static Result<std::unique_ptr<PluginHost>> loadFiles(
      const std::vector<std::pair<std::filesystem::path, PluginConfig>> &files,
      const SupervisionOptions &options);
  ~PluginHost();

  // Start one thread per plugin; each installs its seccomp filter and then
  // calls its plugin's init there. Returns once every init has returned: an
  // error names the plugin that failed. Starts the answerer and the watchdog
  // first.
  Status start();

  // Queue a record to every running detector subscribed to its kind. Never
  // blocks: a full queue drops the record for that detector and counts it.
  // Urgent records (what a recipe watches, from the kernel's lanes) have
  // room of their own in each queue and are handled first.
  void dispatch(const std::shared_ptr<const RecordSnapshot> &record,
                Priority priority = Priority::normal);

  // Queue a record to every printer as an informational output (--events
  // all), formatted now (on the calling thread), or later, by the first
  // printer thread that takes it.
  enum class Format { now, later };
  void publishInfo(std::shared_ptr<const RecordSnapshot> record, Format format);
  // Queue a tamper record (serialised by core/tamper.cpp) to every printer
  // subscribed to RAQIB_RECORD_TAMPER.
  void publishTamper(std::string json, std::string text);
  const std::string &hostname() const { return hostname_; }

  // Let every queue run empty, then stop the threads (printers last),
  // within a bound: what is queued is delivered until `until` (at most
  // call_timeout from now; each stage after the first still gets
  // kStopStageFloor, so what the detectors emitted last reaches the
  // printers). A call still running then is interrupted and what its plugin
  // had queued is counted as dropped. A thread that does not come back from
  // the interrupt is left behind.
  void stop(std::chrono::steady_clock::time_point until);
  void stop() { stop(Clock::now() + kStopFlush); }

  // Ask printers to reopen the files they write (SIGHUP): they see it
  // before their next write (raqib_host_api.reopen_generation).
  void requestReopen() { reopen_generation_.fetch_add(1, std::memory_order_relaxed); }

  // Hand the plugin or printer called name a new section of the
  // configuration (SIGHUP). Its own thread takes it in order with the records
  // queued before: destroy, then init with the new section; when init
  // refuses it, the previous section runs again and a health record says why.
  // False for an unknown name or a plugin no longer running.
  bool reconfigure(const std::string &name, std::string section_toml);

  struct PluginStats {
    std::string name;
    uint64_t handled = 0;
    uint64_t dropped = 0;  // refused because the queue was full
    uint64_t failed = 0;   // calls that returned an error or threw
    uint64_t faults = 0;   // crashes, seccomp violations, hangs
    uint32_t restarts = 0;
    uint64_t emitted = 0;
    bool disabled = false;
  };
  std::vector<PluginStats> stats() const;
  // Log every plugin's counters as metric lines.
  void logMetrics() const;

  struct Worker;

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr std::chrono::milliseconds kStopFlush{1000};
  static constexpr std::chrono::milliseconds kStopStageFloor{100};
  static constexpr std::chrono::milliseconds kStopInterrupted{250};

  explicit PluginHost(const SupervisionOptions &options);
  void publish(std::shared_ptr<const Output> output);
  // The attenuator (RAQIB_RECORD_ATTENUATE): detections wait for it in held_.
  void publishToPrinters(const std::shared_ptr<const Output> &output);
  int forwardHeld(uint64_t id, const char *json, size_t json_len);
  void releaseHeld(bool all);  // those past their hold, or all
  void reportHealth(Worker &w, Fault fault, const std::string &detail, uint64_t count,
                    bool disabled);
  void answerer(std::promise<std::string> &confined);
  void watchdog(std::promise<std::string> &confined);
  void checkWorker(Worker &w, Clock::time_point now);
  static std::chrono::nanoseconds threadCpuTime(Worker &w);
  static void interrupt(Worker &w, uint64_t seq);
  void wakeAnswerer();
  friend struct Worker;

  SupervisionOptions options_;
  std::vector<std::unique_ptr<Worker>> detectors_;
  std::vector<std::unique_ptr<Worker>> printers_;
  std::string hostname_;
  bool started_ = false;

  std::mutex mutex_;  // guards stopping_ and the workers' finished flags
  std::condition_variable changed_;
  bool stopping_ = false;  // the watchdog stops
  std::thread watchdog_;
  std::thread answerer_;
  std::atomic<bool> answerer_stop_{false};
  int wake_fd_ = -1;  // an eventfd: the answerer re-reads its listeners, or stops
  std::atomic<uint64_t> reopen_generation_{0};

  Worker *attenuator_ = nullptr;
  std::mutex held_mutex_;
  struct Held {
    std::shared_ptr<const Output> output;
    std::chrono::steady_clock::time_point until;
  };
  std::map<uint64_t, Held> held_;  // by Output::id
  uint64_t next_held_id_ = 1;
};

}  // namespace raqib
