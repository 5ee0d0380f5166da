#include "load.hpp"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <stdexcept>
#include <thread>

extern char **environ;

namespace raqib::bench {

namespace fs = std::filesystem;

int64_t unixNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

namespace {

int64_t monoNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

// Pacing, not synchronisation: wait until an absolute CLOCK_MONOTONIC time.
void sleepUntilMonoNs(int64_t t) {
  timespec ts{time_t(t / 1000000000), long(t % 1000000000)};
  while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
  }
}

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(what + ": " + std::strerror(errno));
}

// Spawn argv with stdout to out_fd (or /dev/null), stdin and stderr to
// /dev/null; returns the pid or -1.
pid_t spawn(const std::vector<std::string> &argv, int out_fd) {
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (out_fd >= 0)
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
  else
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  std::vector<char *> args;
  for (const auto &a : argv) args.push_back(const_cast<char *>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  int err = posix_spawn(&pid, args[0], &fa, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&fa);
  return err == 0 ? pid : -1;
}

bool waitExit(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0)
    if (errno != EINTR) return false;
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

}  // namespace

int needleMain() {
  int64_t act = unixNowNs();
  int fd = open("/etc/shadow", O_RDONLY | O_CLOEXEC);
  if (fd < 0) return 1;
  char buf[64];
  ssize_t n = read(fd, buf, sizeof buf);
  close(fd);
  std::printf("%lld\n", static_cast<long long>(act));
  return n >= 0 ? 0 : 1;
}

// Accepts and closes the load's loopback connections.
struct LoadFixture::Acceptor {
  explicit Acceptor(int fd) : listen_fd(fd), thread([this] { loop(); }) {}
  ~Acceptor() {
    stop = true;
    shutdown(listen_fd, SHUT_RDWR);
    thread.join();
  }
  void loop() {
    pthread_setname_np(pthread_self(), "rqb-accept");
    while (!stop) {
      int c = accept4(listen_fd, nullptr, nullptr, SOCK_CLOEXEC);
      if (c >= 0)
        close(c);
      else if (errno != EINTR && errno != ECONNABORTED)
        break;
    }
  }
  int listen_fd;
  std::atomic<bool> stop{false};
  std::thread thread;
};

LoadFixture::LoadFixture(unsigned files) {
  char tmpl[] = "/tmp/raqib-bench-XXXXXX";
  if (!mkdtemp(tmpl)) fail("mkdtemp /tmp/raqib-bench-XXXXXX");
  dir_ = tmpl;
  fs::create_directories(fileDir());
  for (unsigned i = 0; i < files; i++) {
    char name[32];
    std::snprintf(name, sizeof name, "/f%02u", i);
    files_.push_back(fileDir() + name);
    int fd = open(files_.back().c_str(), O_CREAT | O_WRONLY | O_CLOEXEC, 0644);
    if (fd < 0) fail("create " + files_.back());
    close(fd);
  }
  self_exe_ = fs::read_symlink("/proc/self/exe").string();

  listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (listen_fd_ < 0) fail("socket");
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (bind(listen_fd_, reinterpret_cast<sockaddr *>(&addr), len) != 0 ||
      listen(listen_fd_, 4096) != 0 ||
      getsockname(listen_fd_, reinterpret_cast<sockaddr *>(&addr), &len) != 0)
    fail("listen on 127.0.0.1");
  port_ = ntohs(addr.sin_port);
  acceptor_ = new Acceptor(listen_fd_);
}

LoadFixture::~LoadFixture() {
  delete acceptor_;
  close(listen_fd_);
  std::error_code ec;
  fs::remove_all(dir_, ec);
}

namespace {

struct WorkerStats {
  uint64_t ops = 0, file = 0, exec = 0, net = 0, failed = 0;
  int64_t op_ns = 0;
  int64_t cpu_ns = 0;
};

int64_t threadCpuNs() {
  timespec ts{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
  return int64_t(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

}  // namespace

LoadResult LoadFixture::run(const LoadConfig &config) {
  const unsigned workers = std::max(1u, config.workers);
  const double duration_s =
      config.ops_total ? config.ops_total / std::max(1.0, config.rate) : config.duration_s;
  std::vector<WorkerStats> stats(workers);

  // Needle links: a fresh name per needle, so the process name (comm) is unique.
  LoadResult result;
  for (unsigned i = 0; i < config.needles; i++) {
    Needle n;
    n.token = config.needle_prefix + "-" + std::to_string(i);
    result.needles.push_back(n);
  }

  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port_);

  const int64_t t0 = monoNowNs() + 1000000;  // everyone starts together, 1 ms from now
  const int64_t t_end = t0 + int64_t(duration_s * 1e9);

  auto worker = [&](unsigned w) {
    pthread_setname_np(pthread_self(), "rqb-load");
    prctl(PR_SET_TIMERSLACK, 1);
    WorkerStats &s = stats[w];
    const uint64_t quota = config.ops_total
                               ? config.ops_total / workers + (w < config.ops_total % workers)
                               : UINT64_MAX;
    const double rate = config.rate / workers;  // per worker; 0: unpaced
    const uint64_t batch = rate > 0 ? std::max<uint64_t>(1, uint64_t(rate / 2000)) : 1;
    size_t file_index = w;
    sleepUntilMonoNs(t0);
    const int64_t cpu0 = threadCpuNs();
    for (uint64_t i = 0; s.ops < quota; i++) {
      int64_t now = monoNowNs();
      if (!config.ops_total && now >= t_end) break;
      if (rate > 0) {
        uint64_t due = uint64_t(double(now - t0) * rate / 1e9);
        if (s.ops >= due) {  // ahead of schedule: wait for the next half-millisecond batch
          sleepUntilMonoNs(t0 + int64_t(double(s.ops + batch) * 1e9 / rate));
          now = monoNowNs();
        }
      }
      bool ok;
      if (config.exec_every && i % config.exec_every == config.exec_every - 1) {
        pid_t pid = spawn({"/bin/true"}, -1);
        ok = pid > 0 && waitExit(pid);
        s.exec++;
      } else if (config.net_every && i % config.net_every == 0) {
        int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        ok = fd >= 0 && connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr) == 0;
        if (fd >= 0) {
          linger l{1, 0};  // reset on close: no TIME_WAIT pile-up at high rates
          setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
          close(fd);
        }
        s.net++;
      } else {
        file_index = (file_index + 1) % files_.size();
        int fd = open(files_[file_index].c_str(), O_RDONLY | O_CLOEXEC);
        ok = fd >= 0;
        if (ok) close(fd);
        s.file++;
      }
      s.failed += !ok;
      s.ops++;
      s.op_ns += monoNowNs() - now;
    }
    s.cpu_ns = threadCpuNs() - cpu0;
  };

  auto needles = [&] {
    pthread_setname_np(pthread_self(), "rqb-needle");
    for (size_t i = 0; i < result.needles.size(); i++) {
      sleepUntilMonoNs(t0 + int64_t((i + 0.5) * duration_s * 1e9 / result.needles.size()));
      result.needles[i] = plant(result.needles[i].token);
    }
  };

  std::vector<std::thread> threads;
  for (unsigned w = 0; w < workers; w++) threads.emplace_back(worker, w);
  std::thread needle_thread(needles);
  for (auto &t : threads) t.join();
  int64_t t_done = monoNowNs();
  needle_thread.join();

  int64_t op_ns = 0, cpu_ns = 0;
  for (const auto &s : stats) {
    cpu_ns += s.cpu_ns;
    result.ops += s.ops;
    result.file_ops += s.file;
    result.exec_ops += s.exec;
    result.net_ops += s.net;
    result.failed_ops += s.failed;
    op_ns += s.op_ns;
  }
  result.wall_s = double(t_done - t0) / 1e9;
  result.op_ns_mean = result.ops ? double(op_ns) / result.ops : 0;
  result.op_cpu_ns_mean = result.ops ? double(cpu_ns) / result.ops : 0;
  return result;
}

Needle LoadFixture::plant(const std::string &token) {
  Needle n;
  n.token = token;
  const std::string link = dir_ + "/" + token;
  std::error_code ec;
  fs::remove(link, ec);
  fs::create_symlink(self_exe_, link, ec);
  int fds[2];
  if (ec || pipe2(fds, O_CLOEXEC) != 0) return n;
  pid_t pid = spawn({link, kNeedleFlag}, fds[1]);
  close(fds[1]);
  std::string out;
  char buf[64];
  ssize_t got;
  while ((got = read(fds[0], buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR))
    if (got > 0) out.append(buf, got);
  close(fds[0]);
  char *end = nullptr;
  long long act = std::strtoll(out.c_str(), &end, 10);
  if (pid > 0 && waitExit(pid) && end != out.c_str() && act > 0) {
    n.pid = pid;
    n.act_unix_ns = act;
    n.planted = true;
  }
  fs::remove(link, ec);
  return n;
}

}  // namespace raqib::bench
