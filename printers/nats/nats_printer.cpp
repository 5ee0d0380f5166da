// The nats printer: every record published to a NATS JetStream subject and
// kept in the bounded on-disk spool until the server acknowledged it, so a
// fleet's detections land once each in one durable stream across outages
// and restarts. Detections carry their uuid as Nats-Msg-Id: a batch sent
// again after a lost acknowledgement is deduplicated by the stream.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdlib>
#include <memory>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <raqib/plugin.hpp>

#include "nats_protocol.hpp"
#include "printer_section.hpp"
#include "spooled_delivery.hpp"

namespace {

using nlohmann::json;
using raqib::PluginError;

struct Server {
  std::string ip;
  uint16_t port = 4222;
};

// nats://IP[:PORT], IP an IPv4 address or [IPv6].
Server parseUrl(const std::string &url, const raqib::printers::PrinterSection &section) {
  auto bad = [&](const std::string &why) {
    section.fail("url", fmt::format("{}, got \"{}\"; e.g. \"nats://192.0.2.10:4222\"", why, url));
  };
  const std::string scheme = "nats://";
  if (url.rfind(scheme, 0) != 0) bad("must start with nats://");
  std::string rest = url.substr(scheme.size());
  Server s;
  size_t colon;
  if (!rest.empty() && rest[0] == '[') {
    size_t close = rest.find(']');
    if (close == std::string::npos) bad("an IPv6 address needs a closing ]");
    s.ip = rest.substr(1, close - 1);
    colon = close + 1 < rest.size() ? close + 1 : std::string::npos;
  } else {
    colon = rest.find(':');
    s.ip = rest.substr(0, colon);
  }
  if (colon != std::string::npos) {
    char *end = nullptr;
    long p = std::strtol(rest.c_str() + colon + 1, &end, 10);
    if (rest[colon] != ':' || *end || p < 1 || p > 65535) bad("the port must be 1 to 65535");
    s.port = uint16_t(p);
  }
  unsigned char probe[16];
  if (inet_pton(s.ip.find(':') == std::string::npos ? AF_INET : AF_INET6, s.ip.c_str(), probe) != 1)
    bad("the host must be an IP address (names are not resolved)");
  return s;
}

class NatsPrinter {
 public:
  static constexpr uint32_t kTickIntervalMs = 100;

  explicit NatsPrinter(raqib::Host host)
      : host_(host),
        section_("nats", host.config(),
                 {"url", "subject", "stream", "token", "token_env", "timeout_ms", "batch_max",
                  "spool_dir", "spool_max_bytes", "retry_initial_ms", "retry_max_ms"}),
        server_(parseUrl(section_.string("url", "nats://127.0.0.1:4222"), section_)),
        delivery_(host, section_, "/var/lib/raqib/spool/nats", "acknowledged") {
    subject_ = section_.string("subject", "raqib.{kind}");
    if (subject_.empty() || subject_.find_first_of(" \t\r\n*>") != std::string::npos)
      section_.fail("subject",
                    fmt::format("must be a subject without spaces or wildcards (\"{{kind}}\" "
                                "is replaced by the record's kind), got \"{}\"",
                                subject_));
    stream_ = section_.string("stream", "");
    timeout_ = std::chrono::milliseconds(section_.integer("timeout_ms", 100, 3000, 2000));
  }

  void onOutput(const raqib_output &out) { delivery_.add(std::string(out.json, out.json_len)); }

  // Publishes what is spooled.
  void onTick() {
    delivery_.deliver([&](const std::vector<std::string> &records) -> std::string {
      try {
        if (!connection_) connect();
        std::vector<raqib::nats::Message> messages;
        for (const auto &r : records) messages.push_back(messageOf(r));
        auto acks = connection_->request(messages);
        for (size_t i = 0; i < acks.size(); i++)
          if (auto failure = ackProblem(acks[i], messages[i]); !failure.empty()) {
            connection_.reset();  // the next try starts afresh (and checks the stream again)
            return failure;
          }
        return "";
      } catch (const std::runtime_error &e) {
        connection_.reset();
        return fmt::format("nats://{}:{}: {}", server_.ip, server_.port, e.what());
      }
    });
  }

 private:
  void connect() {
    connection_ = std::make_unique<raqib::nats::Connection>(server_.ip, server_.port,
                                                            delivery_.token(), timeout_);
    if (stream_.empty()) return;
    // The stream, created when missing, takes every kind's subject.
    std::string subjects = subject_;
    if (size_t at = subjects.find("{kind}"); at != std::string::npos) subjects.replace(at, 6, "*");
    json info = json::parse(connection_->request({{"$JS.API.STREAM.INFO." + stream_, "", ""}})[0],
                            nullptr, false);
    if (!info.is_object())
      throw std::runtime_error("JetStream does not answer (is it enabled on the server?)");
    if (!info.contains("error")) return;
    json config = {{"name", stream_},
                   {"subjects", {subjects}},
                   {"storage", "file"},
                   {"duplicate_window", int64_t(120) * 1000000000}};
    json created = json::parse(
        connection_->request({{"$JS.API.STREAM.CREATE." + stream_, "", config.dump()}})[0], nullptr,
        false);
    if (!created.is_object() || created.contains("error"))
      throw std::runtime_error(
          fmt::format("creating the stream {}: {}", stream_,
                      created.is_object() ? created["error"].dump() : "no valid answer"));
    host_.log(RAQIB_LOG_INFO,
              fmt::format("created the JetStream stream {} for {}", stream_, subjects));
  }

  raqib::nats::Message messageOf(const std::string &record) const {
    json j = json::parse(record, nullptr, false);
    std::string kind = j.is_object() ? j.value("kind", "record") : "record";
    std::string subject = subject_;
    if (size_t at = subject.find("{kind}"); at != std::string::npos) subject.replace(at, 6, kind);
    return {subject, j.is_object() ? j.value("uuid", "") : "", record};
  }

  // "" when ack is JetStream's acknowledgement, else why not.
  static std::string ackProblem(const std::string &ack, const raqib::nats::Message &m) {
    if (ack == "no responders")
      return fmt::format("no JetStream stream takes subject {} (set stream to create one)",
                         m.subject);
    json j = json::parse(ack, nullptr, false);
    if (j.is_object() && j.contains("seq") && !j.contains("error")) return "";
    return fmt::format("publishing to {} was not acknowledged: {}", m.subject, ack);
  }

  raqib::Host host_;
  raqib::printers::PrinterSection section_;
  Server server_;
  raqib::printers::SpooledDelivery delivery_;
  std::string subject_;
  std::string stream_;
  std::chrono::milliseconds timeout_{2000};
  std::unique_ptr<raqib::nats::Connection> connection_;
};

}  // namespace

RAQIB_PRINTER(NatsPrinter, "nats", "1.0.0",
              "Records published to NATS JetStream, spooled on disk until acknowledged",
              RAQIB_RECORD_DETECTION | RAQIB_RECORD_HEALTH | RAQIB_RECORD_INFO |
                  RAQIB_RECORD_TAMPER,
              RAQIB_RESOURCE_NET_TCP_OUT | RAQIB_RESOURCE_FILE_WRITE);
