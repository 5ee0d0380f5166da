// The load generator of raqib-bench: worker threads that open and close
// files, exec a short-lived binary and make loopback TCP connections, at a
// target rate or as fast as they can, while a needle thread plants needles
// (a read of /etc/shadow by a uniquely named process) at known times.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace raqib::bench {

struct LoadConfig {
  double rate = 0;         // events/s over all workers; 0: as fast as possible
  double duration_s = 3;   // how long the load runs (ignored when ops_total > 0)
  uint64_t ops_total = 0;  // exact number of operations, or 0 to run for duration_s
  unsigned workers = 2;
  unsigned needles = 3;        // planted evenly over the round
  unsigned exec_every = 5000;  // one op in exec_every is an exec of /bin/true
  unsigned net_every = 50;     // one op in net_every is a loopback connect
  std::string needle_prefix;   // unique per cell: the needles' names start with it
};

struct Needle {
  std::string token;  // the process name (comm) and argv[0]'s file name
  int pid = 0;
  int64_t act_unix_ns = 0;  // CLOCK_REALTIME just before the open, by the needle itself
  bool planted = false;     // the needle ran and opened the file
};

struct LoadResult {
  uint64_t ops = 0;  // every operation done (one event each)
  uint64_t file_ops = 0, exec_ops = 0, net_ops = 0, failed_ops = 0;
  double wall_s = 0;
  double op_ns_mean = 0;      // mean wall time of one operation
  double op_cpu_ns_mean = 0;  // mean CPU time (user+system) the workers spent per operation
  std::vector<Needle> needles;
};

// Files, the loopback listener and the needle links; one per run.
class LoadFixture {
 public:
  // files: how many distinct files the file operations cycle through (64;
  // flood mode more than raqib's maps hold in one drain interval).
  explicit LoadFixture(unsigned files = 64);
  ~LoadFixture();
  LoadFixture(const LoadFixture &) = delete;
  LoadFixture &operator=(const LoadFixture &) = delete;

  const std::string &dir() const { return dir_; }
  // The directory the load's files live in: a streaming peer's lines name it.
  std::string fileDir() const { return dir_ + "/files"; }
  uint16_t port() const { return port_; }
  LoadResult run(const LoadConfig &config);
  // Plant one needle now, named token (at most 15 characters).
  Needle plant(const std::string &token);

 private:
  std::string dir_;
  std::vector<std::string> files_;
  int listen_fd_ = -1;
  uint16_t port_ = 0;
  std::string self_exe_;
  struct Acceptor;
  Acceptor *acceptor_ = nullptr;
};

// The needle's own work, run by main() when argv[1] is kNeedleFlag: note the
// time, open and read /etc/shadow, print the time. Returns the exit code.
inline constexpr const char *kNeedleFlag = "--needle-act";
int needleMain();

// CLOCK_REALTIME in ns.
int64_t unixNowNs();

}  // namespace raqib::bench
