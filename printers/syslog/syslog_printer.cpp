// The syslog printer: every record as one RFC 5424 message, to the local
// syslog socket (unix datagram), or to a collector over UDP (RFC 5426) or TCP
// (RFC 6587 octet counting). Structured data carries the recipe, the MITRE
// ATT&CK tags, the importance and the process; the message is the record's
// text line (or its JSON). Nothing is spooled: a message the collector cannot
// take fails the call, and the host counts and reports it (docs/printers.md).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <raqib/plugin.hpp>

#include "fd.hpp"
#include "printer_section.hpp"

namespace {

using nlohmann::json;
using raqib::PluginError;
using raqib::printers::Fd;

enum class Transport { unix_socket, udp, tcp };

// RFC 5424 section 6.2.1 facility codes.
int facilityCode(const std::string &name) {
  static constexpr std::pair<const char *, int> kCodes[] = {
      {"kern", 0},      {"user", 1},    {"mail", 2},    {"daemon", 3},  {"auth", 4},
      {"syslog", 5},    {"lpr", 6},     {"news", 7},    {"uucp", 8},    {"cron", 9},
      {"authpriv", 10}, {"ftp", 11},    {"local0", 16}, {"local1", 17}, {"local2", 18},
      {"local3", 19},   {"local4", 20}, {"local5", 21}, {"local6", 22}, {"local7", 23}};
  for (auto [n, code] : kCodes)
    if (name == n) return code;
  return -1;
}

// Severity (RFC 5424 section 6.2.1) of a record.
int severityOf(const json &record) {
  std::string kind = record.value("kind", "");
  if (kind == "detection" || kind == "tamper") {
    std::string importance = record.value("importance", "");
    if (importance == "critical") return 2;  // crit
    if (importance == "high") return 3;      // err
    if (importance == "medium") return 4;    // warning
    return 5;                                // notice
  }
  if (kind == "health") return 4;  // warning
  return 6;                        // info
}

// PRINTUSASCII without spaces, at most max characters; "-" when empty.
std::string headerField(std::string_view value, size_t max) {
  std::string out;
  for (char c : value)
    if (c > 32 && c < 127 && out.size() < max) out += c;
  return out.empty() ? "-" : out;
}

// An SD-PARAM value: '"', '\' and ']' escaped (RFC 5424 section 6.3.3).
std::string paramValue(std::string_view value) {
  std::string out;
  for (char c : value) {
    if (c == '"' || c == '\\' || c == ']') out += '\\';
    out += c;
  }
  return out;
}

// The record's time with at most the 6 fractional digits RFC 5424 allows.
std::string timestamp(const json &record) {
  std::string t = record.value("time", "");
  size_t dot = t.find('.');
  if (dot == std::string::npos || t.size() < dot + 8 || t.back() != 'Z') return t.empty() ? "-" : t;
  return t.substr(0, dot + 7) + "Z";
}

class SyslogPrinter {
 public:
  explicit SyslogPrinter(raqib::Host host) : host_(host) {
    raqib::printers::PrinterSection section("syslog", host.config(),
                                            {"transport", "socket", "address", "port", "facility",
                                             "app_name", "message", "timeout_ms"});
    std::string transport = section.choice("transport", {"unix", "udp", "tcp"}, "unix");
    transport_ = transport == "udp"   ? Transport::udp
                 : transport == "tcp" ? Transport::tcp
                                      : Transport::unix_socket;
    socket_path_ = section.string("socket", "/dev/log");
    if (socket_path_.empty() || socket_path_.size() >= sizeof(sockaddr_un{}.sun_path))
      section.fail("socket", fmt::format("must be a path of 1 to {} bytes",
                                         sizeof(sockaddr_un{}.sun_path) - 1));
    address_ = section.string("address", "127.0.0.1");
    family_ = address_.find(':') == std::string::npos ? AF_INET : AF_INET6;
    unsigned char probe[sizeof(in6_addr)];
    if (inet_pton(family_, address_.c_str(), probe) != 1)
      section.fail("address", fmt::format("must be an IPv4 or IPv6 address (names are not "
                                          "resolved), got \"{}\"",
                                          address_));
    port_ = uint16_t(section.integer("port", 1, 65535, 514));
    std::string facility = section.string("facility", "auth");
    facility_ = facilityCode(facility);
    if (facility_ < 0)
      section.fail("facility", fmt::format("must be kern, user, mail, daemon, auth, syslog, lpr, "
                                           "news, uucp, cron, authpriv, ftp or local0..local7, "
                                           "got \"{}\"",
                                           facility));
    app_name_ = headerField(section.string("app_name", "raqib"), 48);
    json_message_ = section.choice("message", {"text", "json"}, "text") == "json";
    timeout_ms_ = int(section.integer("timeout_ms", 10, 10000, 1000));
    pid_ = getpid();
    try {
      connect();
    } catch (const PluginError &e) {
      // The collector may come up later: each record tries again.
      host_.log(RAQIB_LOG_WARN, std::string(e.what()) + "; retrying with each record");
    }
  }

  void onOutput(const raqib_output &out) {
    json record = json::parse(std::string_view(out.json, out.json_len), nullptr, false);
    if (!record.is_object()) throw PluginError("the record is not a JSON object");
    std::string message = format(record, json_message_ ? std::string_view(out.json, out.json_len)
                                                       : std::string_view(out.text, out.text_len));
    if (transport_ == Transport::tcp) message = fmt::format("{} {}", message.size(), message);
    // A connection the collector closed is noticed before sending, not after
    // a message went into a dead socket; one retry on a fresh connection.
    if (sock_ && transport_ == Transport::tcp && peerClosed()) sock_.reset();
    for (int attempt = 0;; attempt++) {
      try {
        if (!sock_) connect();
        send(message);
        return;
      } catch (const PluginError &) {
        sock_.reset();
        if (attempt == 1) throw;
      }
    }
  }

 private:
  std::string format(const json &record, std::string_view msg) const {
    std::string kind = record.value("kind", "");
    const json &process = record.contains("process") ? record["process"] : json::object();
    std::string sd = "[raqib@32473";
    auto param = [&](const char *name, const json &value) {
      if (value.is_string())
        sd += fmt::format(" {}=\"{}\"", name, paramValue(value.get<std::string>()));
      else if (value.is_number() || value.is_boolean())
        sd += fmt::format(" {}=\"{}\"", name, value.dump());
    };
    param("kind", kind);
    for (const char *key : {"name", "plugin", "tactic", "technique", "importance", "uuid", "type",
                            "fault", "count", "disabled"})
      if (record.contains(key)) param(key == std::string("name") ? "recipe" : key, record[key]);
    for (const char *key : {"pid", "ppid", "uid", "exe"})
      if (process.contains(key)) param(key, process[key]);
    sd += ']';
    return fmt::format("<{}>1 {} {} {} {} {} {} {}", facility_ * 8 + severityOf(record),
                       timestamp(record), headerField(record.value("host", ""), 255), app_name_,
                       pid_, headerField(kind, 32), sd, msg);
  }

  void connect() {
    int type = transport_ == Transport::tcp ? SOCK_STREAM : SOCK_DGRAM;
    int domain = transport_ == Transport::unix_socket ? AF_UNIX : family_;
    Fd sock(socket(domain, type | SOCK_CLOEXEC, 0));
    if (!sock) throw PluginError(fmt::format("syslog socket: {}", std::strerror(errno)));
    // Bounds connect() too (Linux applies SO_SNDTIMEO to it).
    timeval tv{timeout_ms_ / 1000, (timeout_ms_ % 1000) * 1000};
    setsockopt(sock.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_storage addr{};
    socklen_t len = 0;
    if (transport_ == Transport::unix_socket) {
      auto *un = reinterpret_cast<sockaddr_un *>(&addr);
      un->sun_family = AF_UNIX;
      std::memcpy(un->sun_path, socket_path_.data(), socket_path_.size());
      len = sizeof(sockaddr_un);
    } else if (family_ == AF_INET) {
      auto *in = reinterpret_cast<sockaddr_in *>(&addr);
      in->sin_family = AF_INET;
      in->sin_port = htons(port_);
      inet_pton(AF_INET, address_.c_str(), &in->sin_addr);
      len = sizeof(sockaddr_in);
    } else {
      auto *in6 = reinterpret_cast<sockaddr_in6 *>(&addr);
      in6->sin6_family = AF_INET6;
      in6->sin6_port = htons(port_);
      inet_pton(AF_INET6, address_.c_str(), &in6->sin6_addr);
      len = sizeof(sockaddr_in6);
    }
    if (::connect(sock.get(), reinterpret_cast<sockaddr *>(&addr), len) != 0)
      throw PluginError(fmt::format("connecting to {}: {}", peer(),
                                    errno == EINPROGRESS ? "timed out" : std::strerror(errno)));
    sock_ = std::move(sock);
  }

  void send(const std::string &message) {
    for (size_t done = 0; done < message.size();) {
      ssize_t n = ::send(sock_.get(), message.data() + done, message.size() - done, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw PluginError(fmt::format("sending to {}: {}", peer(),
                                      errno == EAGAIN ? "timed out" : std::strerror(errno)));
      done += size_t(n);
    }
  }

  // A collector never sends: a readable TCP socket means it closed.
  bool peerClosed() const {
    pollfd p{sock_.get(), POLLIN | POLLRDHUP, 0};
    return ::poll(&p, 1, 0) > 0;
  }

  std::string peer() const {
    if (transport_ == Transport::unix_socket) return socket_path_;
    std::string host = family_ == AF_INET ? address_ : "[" + address_ + "]";
    return fmt::format("{}:{} ({})", host, port_, transport_ == Transport::tcp ? "tcp" : "udp");
  }

  raqib::Host host_;
  Transport transport_ = Transport::unix_socket;
  std::string socket_path_;
  std::string address_;
  int family_ = AF_INET;
  uint16_t port_ = 514;
  int facility_ = 4;
  std::string app_name_;
  bool json_message_ = false;
  int timeout_ms_ = 1000;
  pid_t pid_ = 0;
  Fd sock_;
};

}  // namespace

RAQIB_PRINTER(SyslogPrinter, "syslog", "1.0.0",
              "Records as RFC 5424 syslog messages with structured data, to the local socket "
              "or a UDP/TCP collector",
              RAQIB_RECORD_DETECTION | RAQIB_RECORD_HEALTH | RAQIB_RECORD_INFO |
                  RAQIB_RECORD_TAMPER,
              RAQIB_RESOURCE_DGRAM_OUT | RAQIB_RESOURCE_NET_TCP_OUT);
