// The monitors raqib-bench measures side by side: none (baseline), the no-op
// floor programs, raqib (query or ring-buffer transport), bpftrace streaming
// every event, and any peer command. Each is started before a round's load
// and stopped after it; what it caught is read from its own output.
#pragma once

#include <sys/types.h>

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "load.hpp"

namespace raqib::bench {

// A child process with its stdout and stderr read line by line on two
// threads; every wait is bounded.
class ChildProcess {
 public:
  using LineFn = std::function<void(const std::string &line)>;
  // Run argv; on_stdout sees every stdout line as it arrives (stored too when
  // keep_stdout), stderr lines are always kept.
  ChildProcess(const std::vector<std::string> &argv, LineFn on_stdout, bool keep_stdout);
  ~ChildProcess();  // SIGKILL if still running

  pid_t pid() const { return pid_; }
  bool started() const { return pid_ > 0; }
  // Wait until a stdout or stderr line satisfies match (true), the child
  // exits or timeout passes (false).
  bool waitForLine(const std::function<bool(const std::string &)> &match, double timeout_s);
  // Send sig, wait up to timeout_s for the exit, then SIGKILL; the exit status.
  int stop(int sig, double timeout_s);
  // True once the child has exited (not yet reaped), whoever stopped it.
  bool exited() const;
  // User+system CPU of the whole life of the child, once stop() reaped it.
  double exitCpuSeconds() const { return exit_cpu_s_; }
  std::vector<std::string> stdoutLines();
  std::vector<std::string> stderrLines();

 private:
  void readLoop(int fd, bool is_stdout);
  pid_t pid_ = -1;
  double exit_cpu_s_ = -1;
  std::mutex mutex_;
  std::condition_variable changed_;
  std::vector<std::string> out_, err_;
  int open_streams_ = 0;
  LineFn on_stdout_;
  bool keep_stdout_;
  std::thread out_thread_, err_thread_;
};

// A CPU quota cgroup (cgroup v2 cpu.max, or the v1 cpu controller's CFS
// quota), removed on destruction.
class CpuQuota {
 public:
  // percent of one core. nullopt and a reason when no cpu controller is usable.
  static std::unique_ptr<CpuQuota> create(unsigned percent, std::string &reason);
  ~CpuQuota();
  bool add(pid_t pid, std::string &reason);
  // Periods in which the cgroup was throttled (cpu.stat nr_throttled): proof the quota bit.
  uint64_t throttledPeriods() const;
  const std::string &path() const { return path_; }

 private:
  std::string path_;
};

// What one round of one monitor measured, besides the load's own numbers.
struct MonitorReport {
  std::string unavailable;  // non-empty: the mode could not run, and why
  std::string note;         // anything else the reader should know
  std::string log;          // the monitor's own output worth keeping (written to logs/)
  std::string invalid;      // non-empty: the round is not a measurement (left out), and why
  bool has_process = false;
  double cpu_s = 0;                // user+system CPU during the load
  uint64_t throttled_periods = 0;  // quota periods in which the monitor was throttled
  uint64_t rss_peak_kib = 0;
  bool has_bpf = false;
  uint64_t bpf_run_ns = 0, bpf_run_cnt = 0;  // during the load, all its programs
  bool detects_needles = false;
  unsigned needles_detected = 0;
  unsigned needles_misnamed = 0;     // detected by pid, but reported under another name
  std::vector<double> latencies_ms;  // per detected needle
  bool has_drops = false;
  uint64_t drops = 0;  // records dropped or overflowed, by the monitor's own account
  bool has_stream = false;
  uint64_t stream_expected = 0, stream_seen = 0;  // the load's file opens, printed
};

struct BpfTotals {
  uint64_t run_ns = 0, run_cnt = 0;
};
// Sum of run_time_ns and run_cnt (kernel.bpf_stats_enabled) over programs.
BpfTotals bpfTotals(const std::vector<uint32_t> &prog_ids);
// The BPF programs process pid holds (fds and links), by id.
std::vector<uint32_t> bpfProgIdsOf(pid_t pid);
// Turn run-time statistics on for as long as the returned fd is open.
int enableBpfStats(std::string &reason);

class Monitor {
 public:
  virtual ~Monitor() = default;
  virtual std::string name() const = 0;
  // Start and wait until attached; "" or why the mode cannot run.
  virtual std::string start(LoadFixture &fixture) = 0;
  virtual pid_t pid() const { return -1; }
  virtual std::vector<uint32_t> progIds() const { return {}; }
  // Stop after the load and fill report from what the monitor said.
  virtual void finish(const LoadResult &load, MonitorReport &report) = 0;
  // CPU seconds of the monitor's whole life, once finished; < 0 if unknown.
  virtual double exitCpuSeconds() const { return -1; }
  // True when the monitor stopped on its own before the harness stopped it.
  virtual bool diedEarly() const { return false; }
};

struct RaqibOptions {
  std::string binary;
  std::string config;  // "" for the built-in default
};

// Monitors by mode name: baseline, floor, query, ringbuf, bpftrace, or a peer.
std::unique_ptr<Monitor> makeBaseline();
std::unique_ptr<Monitor> makeFloor();
std::unique_ptr<Monitor> makeRaqib(const RaqibOptions &options, const std::string &transport);
std::unique_ptr<Monitor> makeBpftrace(const std::string &binary);
std::unique_ptr<Monitor> makePeer(const std::string &name, const std::string &command);

// Process statistics read from /proc.
double processCpuSeconds(pid_t pid);    // all live threads, ns precision (schedstat)
uint64_t processPeakRssKib(pid_t pid);  // VmHWM

}  // namespace raqib::bench
