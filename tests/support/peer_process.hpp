// Real peers for printer tests (a syslog collector, ...): a child process
// started by the test on loopback, stopped with the object; every wait
// bounded.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace raqib::test {

class PeerProcess {
 public:
  // Runs argv with stdout and stderr appended to log_path.
  PeerProcess(std::vector<std::string> argv, const std::string &log_path);
  ~PeerProcess();  // stop()
  PeerProcess(const PeerProcess &) = delete;
  PeerProcess &operator=(const PeerProcess &) = delete;

  pid_t pid() const { return pid_; }
  bool running();
  // SIGTERM, then SIGKILL after timeout; true when it exited in time.
  bool stop(std::chrono::milliseconds timeout = std::chrono::seconds(10));

 private:
  pid_t pid_ = -1;
};

// A loopback port nothing listens on right now (SOCK_STREAM or SOCK_DGRAM).
uint16_t freeLoopbackPort(int type);

// Polls done every 20 ms until it is true or timeout passes; its last value.
bool waitUntil(const std::function<bool()> &done, std::chrono::milliseconds timeout);

// True once a TCP connect to 127.0.0.1:port succeeds.
bool acceptsTcp(uint16_t port);

}  // namespace raqib::test
