// A NATS client connection that speaks the text protocol itself (INFO,
// CONNECT, PING/PONG, SUB, PUB/HPUB, MSG/HMSG) over one blocking socket,
// every wait bounded by a deadline. libnats is not used: it runs threads of
// its own (reader, flusher, timers), and a printer's thread may not start
// threads under its seccomp filter.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "fd.hpp"

namespace raqib::nats {

using Clock = std::chrono::steady_clock;

struct Message {
  std::string subject;
  std::string msg_id;  // Nats-Msg-Id header (JetStream deduplication); "" for none
  std::string payload;
};

class Connection {
 public:
  // Connects to ip:port, reads INFO, sends CONNECT (with auth_token when not
  // empty) and waits for the PONG that confirms it. Throws std::runtime_error.
  Connection(const std::string &ip, uint16_t port, const std::string &auth_token,
             std::chrono::milliseconds timeout);

  // Publishes every message with a reply subject of its own and returns the
  // replies in the same order (for JetStream: the publish acknowledgements).
  // A message nobody answers (no stream takes its subject) gets
  // "no responders". Throws std::runtime_error on a protocol or socket error
  // or when the replies do not all come before the timeout.
  std::vector<std::string> request(const std::vector<Message> &messages);

 private:
  void send(const std::string &data, Clock::time_point deadline);
  std::string readLine(Clock::time_point deadline);
  std::string readBytes(size_t n, Clock::time_point deadline);
  void fill(Clock::time_point deadline);

  raqib::printers::Fd fd_;
  std::chrono::milliseconds timeout_;
  std::string inbox_;
  std::string buffer_;
  uint64_t next_reply_ = 0;
};

}  // namespace raqib::nats
