#include "monitor.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "floor.skel.h"

extern char **environ;

namespace raqib::bench {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr size_t kHeadLines = 200;  // stdout lines always kept, for readiness checks
constexpr const char *kNeedleMarker = "rqn";

std::string readFile(const std::string &path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool writeFile(const std::string &path, const std::string &text, std::string &reason) {
  int fd = open(path.c_str(), O_WRONLY | O_CLOEXEC);
  if (fd < 0 || write(fd, text.data(), text.size()) != ssize_t(text.size())) {
    reason = "cannot write \"" + text + "\" to " + path + ": " + std::strerror(errno);
    if (fd >= 0) close(fd);
    return false;
  }
  close(fd);
  return true;
}

// "2026-11-25T00:32:17.182399884Z" -> ns since the Unix epoch; 0 if malformed.
int64_t parseRfc3339Ns(const std::string &t) {
  if (t.size() < 30) return 0;
  tm parts{};
  if (!strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &parts)) return 0;
  return int64_t(timegm(&parts)) * 1000000000ll + std::stoll(t.substr(20, 9));
}

}  // namespace

// ---- ChildProcess --------------------------------------------------------

ChildProcess::ChildProcess(const std::vector<std::string> &argv, LineFn on_stdout, bool keep_stdout)
    : on_stdout_(std::move(on_stdout)), keep_stdout_(keep_stdout) {
  int out[2], err[2];
  if (pipe2(out, O_CLOEXEC) != 0) return;
  if (pipe2(err, O_CLOEXEC) != 0) {
    close(out[0]);
    close(out[1]);
    return;
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err[1], 2);
  std::vector<char *> args;
  for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  if (posix_spawn(&pid_, args[0], &fa, nullptr, args.data(), environ) != 0) pid_ = -1;
  posix_spawn_file_actions_destroy(&fa);
  close(out[1]);
  close(err[1]);
  open_streams_ = 2;
  out_thread_ = std::thread([this, fd = out[0]] { readLoop(fd, true); });
  err_thread_ = std::thread([this, fd = err[0]] { readLoop(fd, false); });
}

ChildProcess::~ChildProcess() {
  if (pid_ > 0) stop(SIGKILL, 5);
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
}

void ChildProcess::readLoop(int fd, bool is_stdout) {
  std::string pending;
  std::vector<char> buf(1 << 16);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    int r = poll(&p, 1, 200);
    if (r < 0 && errno == EINTR) continue;
    if (r == 0) {
      // The child is gone but something it left behind holds the pipe open.
      std::lock_guard lock(mutex_);
      if (pid_ < 0) break;
      continue;
    }
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    pending.append(buf.data(), n);
    size_t start = 0, nl;
    std::vector<std::string> lines;
    while ((nl = pending.find('\n', start)) != std::string::npos) {
      lines.emplace_back(pending, start, nl - start);
      start = nl + 1;
    }
    pending.erase(0, start);
    if (is_stdout && on_stdout_)
      for (const auto &l : lines) on_stdout_(l);
    {
      std::lock_guard lock(mutex_);
      auto &keep = is_stdout ? out_ : err_;
      for (auto &l : lines)
        if (!is_stdout || keep_stdout_ || keep.size() < kHeadLines) keep.push_back(std::move(l));
    }
    changed_.notify_all();
  }
  close(fd);
  {
    std::lock_guard lock(mutex_);
    open_streams_--;
  }
  changed_.notify_all();
}

bool ChildProcess::waitForLine(const std::function<bool(const std::string &)> &match,
                               double timeout_s) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::duration<double>(timeout_s);
  std::unique_lock lock(mutex_);
  size_t seen_out = 0, seen_err = 0;
  for (;;) {
    for (; seen_out < out_.size(); seen_out++)
      if (match(out_[seen_out])) return true;
    for (; seen_err < err_.size(); seen_err++)
      if (match(err_[seen_err])) return true;
    if (open_streams_ == 0) return false;  // the child closed both: it has exited
    if (changed_.wait_until(lock, deadline) == std::cv_status::timeout) return false;
  }
}

int ChildProcess::stop(int sig, double timeout_s) {
  pid_t pid;
  {
    std::lock_guard lock(mutex_);
    pid = pid_;
  }
  if (pid <= 0) return -1;
  int pidfd = int(syscall(SYS_pidfd_open, pid, 0));
  kill(pid, sig);
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    while (poll(&p, 1, int(timeout_s * 1000)) < 0 && errno == EINTR) {
    }
    if (!(p.revents & POLLIN)) kill(pid, SIGKILL);
    close(pidfd);
  } else {
    kill(pid, SIGKILL);
  }
  int status = 0;
  rusage usage{};
  while (wait4(pid, &status, 0, &usage) < 0 && errno == EINTR) {
  }
  exit_cpu_s_ = double(usage.ru_utime.tv_sec + usage.ru_stime.tv_sec) +
                double(usage.ru_utime.tv_usec + usage.ru_stime.tv_usec) / 1e6;
  {
    std::lock_guard lock(mutex_);
    pid_ = -1;
  }
  if (out_thread_.joinable()) out_thread_.join();
  if (err_thread_.joinable()) err_thread_.join();
  return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
}

bool ChildProcess::exited() const {
  if (pid_ <= 0) return true;
  siginfo_t info{};
  return waitid(P_PID, id_t(pid_), &info, WEXITED | WNOHANG | WNOWAIT) == 0 && info.si_pid == pid_;
}

std::vector<std::string> ChildProcess::stdoutLines() {
  std::lock_guard lock(mutex_);
  return out_;
}

std::vector<std::string> ChildProcess::stderrLines() {
  std::lock_guard lock(mutex_);
  return err_;
}

// ---- CPU quota -----------------------------------------------------------

std::unique_ptr<CpuQuota> CpuQuota::create(unsigned percent, std::string &reason) {
  const std::string name =
      "raqib-bench-" + std::to_string(getpid()) + "-q" + std::to_string(percent);
  const long period_us = 100000, quota_us = long(percent) * 1000;
  auto q = std::unique_ptr<CpuQuota>(new CpuQuota());
  const std::string v2 = "/sys/fs/cgroup/unified";
  std::istringstream controllers(readFile(v2 + "/cgroup.controllers"));
  bool v2_cpu = false;
  for (std::string c; controllers >> c;) v2_cpu |= c == "cpu";
  if (v2_cpu) {
    std::string ignored;
    writeFile(v2 + "/cgroup.subtree_control", "+cpu", ignored);
    q->path_ = v2 + "/" + name;
    if (mkdir(q->path_.c_str(), 0755) != 0 && errno != EEXIST) {
      reason = "mkdir " + q->path_ + ": " + std::strerror(errno);
      q->path_.clear();
      return nullptr;
    }
    if (!writeFile(q->path_ + "/cpu.max",
                   std::to_string(quota_us) + " " + std::to_string(period_us), reason))
      return nullptr;
    return q;
  }
  const std::string v1 = "/sys/fs/cgroup/cpu";
  if (!fs::exists(v1 + "/cpu.cfs_quota_us")) {
    reason = "no cpu controller: " + v2 + "/cgroup.controllers lacks cpu and " + v1 +
             " has no cpu.cfs_quota_us";
    return nullptr;
  }
  q->path_ = v1 + "/" + name;
  if (mkdir(q->path_.c_str(), 0755) != 0 && errno != EEXIST) {
    reason = "mkdir " + q->path_ + ": " + std::strerror(errno);
    q->path_.clear();
    return nullptr;
  }
  if (!writeFile(q->path_ + "/cpu.cfs_period_us", std::to_string(period_us), reason) ||
      !writeFile(q->path_ + "/cpu.cfs_quota_us", std::to_string(quota_us), reason))
    return nullptr;
  return q;
}

CpuQuota::~CpuQuota() {
  if (path_.empty()) return;
  if (rmdir(path_.c_str()) != 0)
    fprintf(stderr, "raqib-bench: could not remove cgroup %s: %s\n", path_.c_str(),
            std::strerror(errno));
}

bool CpuQuota::add(pid_t pid, std::string &reason) {
  return writeFile(path_ + "/cgroup.procs", std::to_string(pid), reason);
}

uint64_t CpuQuota::throttledPeriods() const {
  std::istringstream s(readFile(path_ + "/cpu.stat"));
  std::string key;
  uint64_t value = 0;
  while (s >> key >> value)
    if (key == "nr_throttled") return value;
  return 0;
}

// ---- /proc and BPF statistics --------------------------------------------

namespace {

// utime + stime in clock ticks from a /proc stat file (fields 14 and 15).
uint64_t statTicks(const std::string &path) {
  std::string text = readFile(path);
  auto close_paren = text.rfind(')');
  if (close_paren == std::string::npos) return 0;
  std::istringstream s(text.substr(close_paren + 2));
  std::string field;
  uint64_t utime = 0, stime = 0;
  for (int i = 3; i <= 15 && s >> field; i++) {
    if (i == 14) utime = std::stoull(field);
    if (i == 15) stime = std::stoull(field);
  }
  return utime + stime;
}

}  // namespace

double processCpuSeconds(pid_t pid) {
  // Live threads to the nanosecond (schedstat); threads that already exited
  // only as the process's tick counts keep them.
  const std::string proc = "/proc/" + std::to_string(pid);
  double live_ns = 0;
  uint64_t live_ticks = 0;
  std::error_code ec;
  for (const auto &task : fs::directory_iterator(proc + "/task", ec)) {
    std::istringstream s(readFile(task.path().string() + "/schedstat"));
    double on_cpu_ns = 0;
    if (s >> on_cpu_ns) live_ns += on_cpu_ns;
    live_ticks += statTicks(task.path().string() + "/stat");
  }
  const uint64_t all_ticks = statTicks(proc + "/stat");
  const double tick_s = 1.0 / double(sysconf(_SC_CLK_TCK));
  return live_ns / 1e9 + double(all_ticks > live_ticks ? all_ticks - live_ticks : 0) * tick_s;
}

uint64_t processPeakRssKib(pid_t pid) {
  std::istringstream s(readFile("/proc/" + std::to_string(pid) + "/status"));
  std::string line;
  while (std::getline(s, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stoull(line.substr(6));
  return 0;
}

std::vector<uint32_t> bpfProgIdsOf(pid_t pid) {
  std::set<uint32_t> ids;
  std::error_code ec;
  for (const auto &fd : fs::directory_iterator("/proc/" + std::to_string(pid) + "/fdinfo", ec)) {
    std::istringstream s(readFile(fd.path().string()));
    std::string line;
    while (std::getline(s, line))
      if (line.rfind("prog_id:", 0) == 0) ids.insert(uint32_t(std::stoul(line.substr(8))));
  }
  return {ids.begin(), ids.end()};
}

BpfTotals bpfTotals(const std::vector<uint32_t> &prog_ids) {
  BpfTotals t;
  for (uint32_t id : prog_ids) {
    int fd = bpf_prog_get_fd_by_id(id);
    if (fd < 0) continue;
    bpf_prog_info info{};
    uint32_t len = sizeof info;
    if (bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
      t.run_ns += info.run_time_ns;
      t.run_cnt += info.run_cnt;
    }
    close(fd);
  }
  return t;
}

int enableBpfStats(std::string &reason) {
  int fd = bpf_enable_stats(BPF_STATS_RUN_TIME);
  if (fd < 0) reason = std::string("BPF_ENABLE_STATS failed: ") + std::strerror(-fd);
  return fd;
}

// ---- monitors ------------------------------------------------------------

namespace {

class Baseline : public Monitor {
 public:
  std::string name() const override { return "baseline"; }
  std::string start(LoadFixture &) override { return ""; }
  void finish(const LoadResult &, MonitorReport &) override {}
};

class Floor : public Monitor {
 public:
  ~Floor() override { floor_bpf__destroy(skel_); }
  std::string name() const override { return "floor"; }
  std::string start(LoadFixture &) override {
    skel_ = floor_bpf__open_and_load();
    if (!skel_) return std::string("floor.bpf.o did not load: ") + std::strerror(errno);
    if (int err = floor_bpf__attach(skel_); err != 0)
      return std::string("floor.bpf.o did not attach: ") + std::strerror(-err);
    bpf_program *prog;
    bpf_object__for_each_program(prog, skel_->obj) {
      bpf_prog_info info{};
      uint32_t len = sizeof info;
      if (bpf_obj_get_info_by_fd(bpf_program__fd(prog), &info, &len) == 0) ids_.push_back(info.id);
    }
    return "";
  }
  std::vector<uint32_t> progIds() const override { return ids_; }
  void finish(const LoadResult &, MonitorReport &) override {
    floor_bpf__destroy(skel_);
    skel_ = nullptr;
  }

 private:
  floor_bpf *skel_ = nullptr;
  std::vector<uint32_t> ids_;
};

// A child monitor whose programs and process are measured.
class ProcessMonitor : public Monitor {
 public:
  pid_t pid() const override { return child_ ? child_->pid() : -1; }
  double exitCpuSeconds() const override { return child_ ? child_->exitCpuSeconds() : -1; }
  bool diedEarly() const override { return child_ && child_->exited(); }
  std::vector<uint32_t> progIds() const override { return ids_; }

 protected:
  std::unique_ptr<ChildProcess> child_;
  std::vector<uint32_t> ids_;
};

bool helpMentions(const std::string &binary, const std::string &option) {
  ChildProcess help({binary, "--help"}, nullptr, true);
  if (!help.started()) return false;
  bool found = help.waitForLine(
      [&](const std::string &l) { return l.find(option) != std::string::npos; }, 10);
  help.stop(SIGKILL, 5);
  return found;
}

class Raqib : public ProcessMonitor {
 public:
  Raqib(RaqibOptions options, std::string transport)
      : options_(std::move(options)), transport_(std::move(transport)) {}
  std::string name() const override { return transport_; }

  std::string start(LoadFixture &) override {
    if (!fs::exists(options_.binary)) return "no raqib binary at " + options_.binary;
    static const bool has_transport = helpMentions(options_.binary, "--transport");
    std::vector<std::string> argv{options_.binary, "--format", "json"};
    if (!options_.config.empty()) argv.insert(argv.end(), {"--config", options_.config});
    if (has_transport)
      argv.insert(argv.end(), {"--transport", transport_});
    else if (transport_ != "query")
      return "this raqib has no --transport option (ring-buffer transport not in this branch)";
    child_ = std::make_unique<ChildProcess>(argv, nullptr, true);
    if (!child_->started()) return "could not run " + options_.binary;
    if (!child_->waitForLine(
            [](const std::string &l) { return l.find("raqib ready") != std::string::npos; }, 90)) {
      auto err = child_->stderrLines();
      child_->stop(SIGKILL, 5);
      return "raqib did not become ready: " + (err.empty() ? std::string("no output") : err.back());
    }
    ids_ = bpfProgIdsOf(child_->pid());
    return "";
  }

  void finish(const LoadResult &load, MonitorReport &r) override {
    int code = child_->stop(SIGTERM, 30);
    if (code != 0) r.note = "raqib exited with " + std::to_string(code);
    r.detects_needles = true;
    std::set<std::string> found;
    for (const auto &line : child_->stdoutLines()) {
      json d = json::parse(line, nullptr, false);
      if (!d.is_object() || d.value("name", "") != "credentials_files_access") continue;
      const json &p = d["process"];
      if (!p.is_object()) continue;
      std::string comm = p.value("comm", "");
      std::string arg0 = p.contains("args") && p["args"].is_array() && !p["args"].empty() &&
                                 p["args"][0].is_string()
                             ? p["args"][0].get<std::string>()
                             : "";
      int pid = p.value("pid", -1);
      for (const auto &n : load.needles) {
        if (!n.planted || found.count(n.token)) continue;
        bool named = comm == n.token || (arg0.size() > n.token.size() &&
                                         arg0.compare(arg0.size() - n.token.size() - 1,
                                                      std::string::npos, "/" + n.token) == 0);
        // The right process under another name: its exec was not drained yet.
        if (!named && pid != n.pid) continue;
        found.insert(n.token);
        if (!named) r.needles_misnamed++;
        r.latencies_ms.push_back(double(parseRfc3339Ns(d.value("time", "")) - n.act_unix_ns) / 1e6);
        r.log += "needle " + n.token + " pid " + std::to_string(n.pid) + ": " + line + "\n";
      }
    }
    for (const auto &n : load.needles)
      if (n.planted && !found.count(n.token))
        r.log += "needle " + n.token + " pid " + std::to_string(n.pid) + ": NOT DETECTED\n";
    for (const auto &line : child_->stderrLines()) r.log += line + "\n";
    r.needles_detected = unsigned(found.size());
    if (r.needles_misnamed)
      r.note += (r.note.empty() ? "" : "; ") + std::to_string(r.needles_misnamed) +
                " needle(s) reported under the parent's name (exec drained after the open)";
    parseStats(child_->stderrLines(), r);
  }

 private:
  // The "raqib stats {JSON}" exit line; before it exists, the per-map log lines.
  static void parseStats(const std::vector<std::string> &err, MonitorReport &r) {
    static const std::regex map_line(R"(map (\w+): (\d+) inserts, (\d+) updates, (\d+) failed)");
    static const std::regex evicted(R"((\d+) paths evicted)");
    uint64_t failed = 0, dropped = 0, evicted_paths = 0;
    bool have_json = false, have_lines = false;
    for (const auto &line : err) {
      if (auto at = line.find("raqib stats {"); at != std::string::npos) {
        json s = json::parse(line.substr(at + 12), nullptr, false);
        if (!s.is_object()) continue;
        have_json = true;
        failed = dropped = 0;
        if (s.contains("maps") && s["maps"].is_object())
          for (const auto &[name, m] : s["maps"].items())
            if (m.is_object())
              failed += m.value("failed", uint64_t(0)) + m.value("capped", uint64_t(0));
        if (s.contains("ringbuf") && s["ringbuf"].is_object())
          dropped += s["ringbuf"].value("dropped", uint64_t(0));
        dropped += s.value("not_drained_at_stop", uint64_t(0));  // left when the round stopped it
        continue;
      }
      std::smatch m;
      if (!have_json && std::regex_search(line, m, map_line)) {
        have_lines = true;
        failed += std::stoull(m[4]);
      }
      if (std::regex_search(line, m, evicted)) evicted_paths = std::stoull(m[1]);
    }
    r.has_drops = have_json || have_lines;
    r.drops = failed + dropped;
    if (!have_json && have_lines)
      r.note +=
          (r.note.empty() ? "" : "; ") + std::string("drops from map log lines (no stats line)");
    if (evicted_paths)
      r.note += (r.note.empty() ? "" : "; ") + std::to_string(evicted_paths) + " paths evicted";
  }

  RaqibOptions options_;
  std::string transport_;
};

// A streaming monitor: every line it prints is an event. Lines naming the
// load's files are counted; lines naming a needle are kept with the time
// they arrived.
class Streaming : public ProcessMonitor {
 protected:
  void startChild(const std::vector<std::string> &argv, const std::string &file_dir) {
    child_ = std::make_unique<ChildProcess>(
        argv,
        [this, file_dir](const std::string &line) {
          lines_++;
          if (line.rfind("Lost ", 0) == 0) {  // bpftrace reports perf-buffer losses in-band
            static const std::regex lost(R"(^Lost (\d+) events)");
            std::smatch m;
            if (std::regex_search(line, m, lost)) lost_events_ += std::stoull(m[1]);
          }
          if (line.find(file_dir) != std::string::npos) load_lines_++;
          if (line.find(kNeedleMarker) != std::string::npos) {
            std::lock_guard lock(mutex_);
            needle_lines_.emplace_back(unixNowNs(), line);
            needle_seen_.notify_all();
          }
        },
        false);
  }
  void finishStream(const LoadResult &load, MonitorReport &r, int sig) {
    child_->stop(sig, 30);
    r.detects_needles = true;
    std::lock_guard lock(mutex_);
    for (const auto &n : load.needles) {
      if (!n.planted) continue;
      for (const auto &[when, line] : needle_lines_) {
        if (!namesNeedleRead(line, n.token)) continue;
        r.needles_detected++;
        r.latencies_ms.push_back(double(when - n.act_unix_ns) / 1e6);
        break;
      }
    }
  }
  // The needle's read itself, not its exec: the line names the token and the file.
  static bool namesNeedleRead(const std::string &line, const std::string &token) {
    return line.find("/etc/shadow") != std::string::npos && containsWord(line, token);
  }
  static bool containsWord(const std::string &line, const std::string &token) {
    for (size_t at = line.find(token); at != std::string::npos; at = line.find(token, at + 1)) {
      size_t end = at + token.size();
      if (end == line.size() || !std::isdigit(static_cast<unsigned char>(line[end]))) return true;
    }
    return false;
  }
  std::atomic<uint64_t> lines_{0}, load_lines_{0}, lost_events_{0};
  bool seenLocked(const std::string &token) const {
    for (const auto &[when, line] : needle_lines_)
      if (namesNeedleRead(line, token)) return true;
    return false;
  }
  std::mutex mutex_;
  std::condition_variable needle_seen_;
  std::vector<std::pair<int64_t, std::string>> needle_lines_;
};

class Bpftrace : public Streaming {
 public:
  explicit Bpftrace(std::string binary) : binary_(std::move(binary)) {}
  std::string name() const override { return "bpftrace"; }
  std::string start(LoadFixture &fixture) override {
    if (!fs::exists(binary_)) return "bpftrace is not installed (" + binary_ + ")";
    // One line per event on raqib's hooks: fork, exec, exit and the open family.
    const std::string script = R"(
BEGIN { printf("RAQIB_BENCH_READY\n"); }
tracepoint:sched:sched_process_fork { printf("F %d %d\n", args->parent_pid, args->child_pid); }
tracepoint:sched:sched_process_exec { printf("X %d %s %s\n", pid, comm, str(args->filename)); }
tracepoint:sched:sched_process_exit { printf("Q %d %s\n", pid, comm); }
tracepoint:syscalls:sys_enter_open { printf("O %d %s %s\n", pid, comm, str(args->filename)); }
tracepoint:syscalls:sys_enter_openat { printf("O %d %s %s\n", pid, comm, str(args->filename)); }
tracepoint:syscalls:sys_enter_openat2 { printf("O %d %s %s\n", pid, comm, str(args->filename)); }
tracepoint:syscalls:sys_enter_creat { printf("O %d %s %s\n", pid, comm, str(args->pathname)); }
tracepoint:syscalls:sys_exit_open,
tracepoint:syscalls:sys_exit_openat,
tracepoint:syscalls:sys_exit_openat2,
tracepoint:syscalls:sys_exit_creat { printf("R %d %d\n", pid, args->ret); }
)";
    startChild({binary_, "-e", script}, fixture.fileDir());
    if (!child_->started()) return "could not run " + binary_;
    if (!child_->waitForLine(
            [](const std::string &l) { return l.find("RAQIB_BENCH_READY") != std::string::npos; },
            90)) {
      auto err = child_->stderrLines();
      child_->stop(SIGKILL, 5);
      return "bpftrace did not attach: " + (err.empty() ? std::string("no output") : err.back());
    }
    ids_ = bpfProgIdsOf(child_->pid());
    return "";
  }
  void finish(const LoadResult &load, MonitorReport &r) override {
    finishStream(load, r, SIGINT);
    static const std::regex lost(R"(Lost (\d+) events)");
    uint64_t lost_events = lost_events_;
    for (const auto &line : child_->stderrLines()) {
      std::smatch m;
      if (std::regex_search(line, m, lost)) lost_events += std::stoull(m[1]);
    }
    r.has_stream = true;
    r.stream_expected = load.file_ops;
    r.stream_seen = load_lines_;
    r.has_drops = true;
    r.drops = lost_events;
  }

 private:
  std::string binary_;
};

class Peer : public Streaming {
 public:
  Peer(std::string name, std::string command)
      : name_(std::move(name)), command_(std::move(command)) {}
  std::string name() const override { return name_; }
  std::string start(LoadFixture &fixture) override {
    startChild({"/bin/sh", "-c", "exec " + command_}, fixture.fileDir());
    if (!child_->started()) return "could not run /bin/sh -c " + command_;
    // Ready once it reports a warm-up needle: the only sign every tool gives.
    bool ready = false;
    for (int i = 0; i < 30 && !ready; i++) {
      Needle n = fixture.plant(std::string(kNeedleMarker) + "warm" + std::to_string(i));
      std::unique_lock lock(mutex_);
      ready =
          needle_seen_.wait_for(lock, std::chrono::seconds(1), [&] { return seenLocked(n.token); });
    }
    if (!ready) {
      child_->stop(SIGKILL, 5);
      return "the peer never reported a warm-up needle (a read of /etc/shadow) in 30 s";
    }
    ids_ = bpfProgIdsOf(child_->pid());
    return "";
  }
  void finish(const LoadResult &load, MonitorReport &r) override {
    finishStream(load, r, SIGTERM);
    r.has_stream = true;
    r.stream_expected = load.file_ops;
    r.stream_seen = load_lines_;
  }

 private:
  std::string name_, command_;
};

}  // namespace

std::unique_ptr<Monitor> makeBaseline() {
  return std::make_unique<Baseline>();
}
std::unique_ptr<Monitor> makeFloor() {
  return std::make_unique<Floor>();
}
std::unique_ptr<Monitor> makeRaqib(const RaqibOptions &options, const std::string &transport) {
  return std::make_unique<Raqib>(options, transport);
}
std::unique_ptr<Monitor> makeBpftrace(const std::string &binary) {
  return std::make_unique<Bpftrace>(binary);
}
std::unique_ptr<Monitor> makePeer(const std::string &name, const std::string &command) {
  return std::make_unique<Peer>(name, command);
}

}  // namespace raqib::bench
