#include "nats_protocol.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <map>
#include <random>
#include <stdexcept>

#include <fmt/format.h>

namespace raqib::nats {

namespace {

[[noreturn]] void fail(const std::string &what) {
  throw std::runtime_error(what);
}

int remainingMs(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return int(std::max<int64_t>(0, left.count()));
}

std::vector<std::string> words(const std::string &line) {
  std::vector<std::string> out;
  size_t at = 0;
  while (at < line.size()) {
    size_t end = line.find(' ', at);
    if (end == std::string::npos) end = line.size();
    if (end > at) out.push_back(line.substr(at, end - at));
    at = end + 1;
  }
  return out;
}

}  // namespace

Connection::Connection(const std::string &ip, uint16_t port, const std::string &auth_token,
                       std::chrono::milliseconds timeout)
    : timeout_(timeout) {
  auto deadline = Clock::now() + timeout_;
  bool v6 = ip.find(':') != std::string::npos;
  fd_.reset(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_) fail(fmt::format("socket: {}", std::strerror(errno)));
  timeval tv{timeout.count() / 1000, (timeout.count() % 1000) * 1000};
  setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);  // bounds connect() too
  sockaddr_storage addr{};
  socklen_t len;
  if (v6) {
    auto *a = reinterpret_cast<sockaddr_in6 *>(&addr);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
    len = sizeof *a;
  } else {
    auto *a = reinterpret_cast<sockaddr_in *>(&addr);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
    len = sizeof *a;
  }
  if (connect(fd_.get(), reinterpret_cast<sockaddr *>(&addr), len) != 0)
    fail(fmt::format("connecting: {}", errno == EINPROGRESS ? "timed out" : std::strerror(errno)));
  std::string info = readLine(deadline);
  if (info.rfind("INFO ", 0) != 0) fail("the server did not start with INFO: " + info);
  std::string connect =
      R"(CONNECT {"verbose":false,"pedantic":false,"name":"raqib","lang":"c++","version":"1.0.0",)"
      R"("protocol":1,"headers":true,"no_responders":true)";
  if (!auth_token.empty()) {
    std::string escaped;
    for (char c : auth_token) {
      if (c == '"' || c == '\\') escaped += '\\';
      escaped += c;
    }
    connect += R"(,"auth_token":")" + escaped + '"';
  }
  std::random_device random;
  inbox_ = fmt::format("_INBOX.raqib.{:08x}{:08x}", random(), random());
  send(connect + "}\r\nPING\r\n" + fmt::format("SUB {}.* 1\r\n", inbox_), deadline);
  for (;;) {
    std::string line = readLine(deadline);
    if (line == "PONG") break;
    if (line.rfind("-ERR", 0) == 0) fail("the server refused the connection: " + line.substr(5));
  }
}

void Connection::send(const std::string &data, Clock::time_point deadline) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = ::send(fd_.get(), data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN && Clock::now() < deadline) continue;
    if (n < 0)
      fail(fmt::format("sending: {}", errno == EAGAIN ? "timed out" : std::strerror(errno)));
    done += size_t(n);
  }
}

void Connection::fill(Clock::time_point deadline) {
  pollfd p{fd_.get(), POLLIN, 0};
  int ready = poll(&p, 1, remainingMs(deadline));
  if (ready < 0 && errno != EINTR) fail(fmt::format("poll: {}", std::strerror(errno)));
  if (ready <= 0) fail("timed out waiting for the server");
  char buf[16 * 1024];
  ssize_t n = recv(fd_.get(), buf, sizeof buf, 0);
  if (n == 0) fail("the server closed the connection");
  if (n < 0 && errno != EINTR && errno != EAGAIN)
    fail(fmt::format("receiving: {}", std::strerror(errno)));
  if (n > 0) buffer_.append(buf, size_t(n));
}

// The next protocol line (without CRLF), answering the server's PINGs.
std::string Connection::readLine(Clock::time_point deadline) {
  for (;;) {
    size_t end = buffer_.find("\r\n");
    if (end == std::string::npos) {
      fill(deadline);
      continue;
    }
    std::string line = buffer_.substr(0, end);
    buffer_.erase(0, end + 2);
    if (line == "PING") {
      send("PONG\r\n", deadline);
      continue;
    }
    if (line == "+OK") continue;
    return line;
  }
}

std::string Connection::readBytes(size_t n, Clock::time_point deadline) {
  while (buffer_.size() < n + 2) fill(deadline);
  std::string out = buffer_.substr(0, n);
  buffer_.erase(0, n + 2);  // and the CRLF after a payload
  return out;
}

std::vector<std::string> Connection::request(const std::vector<Message> &messages) {
  auto deadline = Clock::now() + timeout_;
  std::map<std::string, size_t> index;  // reply subject -> message
  std::string out;
  for (size_t i = 0; i < messages.size(); i++) {
    const Message &m = messages[i];
    std::string reply = fmt::format("{}.{}", inbox_, next_reply_++);
    index[reply] = i;
    if (m.msg_id.empty()) {
      out += fmt::format("PUB {} {} {}\r\n{}\r\n", m.subject, reply, m.payload.size(), m.payload);
    } else {
      std::string headers = fmt::format("NATS/1.0\r\nNats-Msg-Id: {}\r\n\r\n", m.msg_id);
      out += fmt::format("HPUB {} {} {} {}\r\n{}{}\r\n", m.subject, reply, headers.size(),
                         headers.size() + m.payload.size(), headers, m.payload);
    }
  }
  send(out, deadline);
  std::vector<std::string> replies(messages.size());
  size_t pending = messages.size();
  while (pending > 0) {
    std::string line = readLine(deadline);
    if (line.rfind("-ERR", 0) == 0) fail("the server said " + line.substr(5));
    auto w = words(line);
    // MSG subject sid [reply] size | HMSG subject sid [reply] header_size total_size
    bool with_headers = !w.empty() && w[0] == "HMSG";
    if (w.empty() || (w[0] != "MSG" && !with_headers) || w.size() < 4)
      fail("unexpected from the server: " + line);
    size_t total = std::stoul(w.back());
    size_t header_size = with_headers ? std::stoul(w[w.size() - 2]) : 0;
    std::string body = readBytes(total, deadline);
    auto it = index.find(w[1]);
    if (it == index.end()) continue;  // a late reply to an earlier request
    std::string headers = body.substr(0, header_size);
    std::string payload = body.substr(header_size);
    // A status header without payload: 503 means no responders.
    if (with_headers && payload.empty() && headers.rfind("NATS/1.0 503", 0) == 0)
      payload = "no responders";
    if (replies[it->second].empty()) pending--;
    replies[it->second] = payload.empty() ? "(empty reply)" : payload;
  }
  return replies;
}

}  // namespace raqib::nats
