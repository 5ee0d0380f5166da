// The webhook printer: records POSTed over HTTPS (Boost.Beast over
// Boost.Asio with OpenSSL) in batches, with a bearer token, TLS verification
// on by default, bounded timeouts, and retries with exponential backoff and
// jitter. Every record goes to a bounded on-disk spool first and leaves it
// only when the endpoint answered 2xx, so an outage or a restart of the
// daemon loses nothing until the spool is full; then the oldest are dropped
// and counted. format = "falcosidekick" posts each detection as the event
// Falco's forwarder expects (docs/printers.md).
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

#include <chrono>
#include <cstdlib>
#include <string>
#include <utility>  // before Boost.Asio 1.74's awaitable.hpp, which needs std::exchange

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <boost/beast/ssl.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <raqib/plugin.hpp>

#include "backoff.hpp"
#include "printer_section.hpp"
#include "spool.hpp"

namespace {

namespace net = boost::asio;
namespace ssl = boost::asio::ssl;
namespace beast = boost::beast;
namespace http = boost::beast::http;
using nlohmann::json;
using raqib::PluginError;
using Clock = std::chrono::steady_clock;

// https://HOST[:PORT][/PATH], HOST an IPv4 address or [IPv6].
struct Url {
  std::string host;
  uint16_t port = 443;
  std::string target = "/";
};

Url parseUrl(const std::string &url, const raqib::printers::PrinterSection &section) {
  auto bad = [&](const std::string &why) {
    section.fail("url",
                 fmt::format("{}, got \"{}\"; e.g. \"https://192.0.2.10:8443/raqib\"", why, url));
  };
  const std::string scheme = "https://";
  if (url.rfind(scheme, 0) != 0) bad("must start with https://");
  Url u;
  std::string rest = url.substr(scheme.size());
  size_t slash = rest.find('/');
  std::string authority = rest.substr(0, slash);
  if (slash != std::string::npos) u.target = rest.substr(slash);
  size_t colon = std::string::npos;
  if (!authority.empty() && authority[0] == '[') {
    size_t close = authority.find(']');
    if (close == std::string::npos) bad("an IPv6 address needs a closing ]");
    u.host = authority.substr(1, close - 1);
    if (close + 1 < authority.size()) {
      if (authority[close + 1] != ':') bad("expected :PORT after the IPv6 address");
      colon = close + 1;
    }
  } else {
    colon = authority.find(':');
    u.host = authority.substr(0, colon);
  }
  if (colon != std::string::npos) {
    std::string port = authority.substr(colon + 1);
    char *end = nullptr;
    long p = std::strtol(port.c_str(), &end, 10);
    if (port.empty() || *end || p < 1 || p > 65535) bad("the port must be 1 to 65535");
    u.port = uint16_t(p);
  }
  boost::system::error_code ec;
  net::ip::make_address(u.host, ec);
  if (ec) bad("the host must be an IP address (names are not resolved; see server_name)");
  return u;
}

const char *falcoPriority(const std::string &importance) {
  if (importance == "critical") return "Critical";
  if (importance == "high") return "Error";
  if (importance == "medium") return "Warning";
  return "Notice";
}

// A detection as the event Falco posts to falcosidekick.
json falcosidekickEvent(const json &d, std::string_view text) {
  const json &p = d["process"];
  std::string cmdline;
  for (const auto &arg : p.value("args", json::array()))
    cmdline += (cmdline.empty() ? "" : " ") + arg.get<std::string>();
  json fields = {
      {"proc.pid", p.value("pid", 0)},
      {"proc.ppid", p.value("ppid", 0)},
      {"proc.exepath", p.value("exe", "")},
      {"proc.name", p.value("comm", "")},
      {"proc.cmdline", cmdline},
      {"user.uid", p.value("uid", 0)},
      {"raqib.plugin", d.value("plugin", "")},
      {"raqib.uuid", d.value("uuid", "")},
  };
  if (d.contains("file")) fields["fd.name"] = d["file"].value("path", "");
  if (d.contains("flow")) {
    fields["fd.rip"] = d["flow"]["remote"].value("addr", "");
    fields["fd.rport"] = d["flow"]["remote"].value("port", 0);
  }
  return {
      {"uuid", d.value("uuid", "")},
      {"output", text},
      {"priority", falcoPriority(d.value("importance", ""))},
      {"rule", d.value("name", "")},
      {"time", d.value("time", "")},
      {"output_fields", std::move(fields)},
      {"source", "raqib"},
      {"tags", json::array({d.value("tactic", ""), d.value("technique", "")})},
      {"hostname", d.value("host", "")},
  };
}

class WebhookPrinter {
 public:
  static constexpr uint32_t kTickIntervalMs = 100;

  explicit WebhookPrinter(raqib::Host host)
      : host_(host),
        section_("webhook", host.config(),
                 {"url", "token", "token_env", "ca_file", "verify", "server_name", "timeout_ms",
                  "batch_max", "spool_dir", "spool_max_bytes", "retry_initial_ms", "retry_max_ms",
                  "format"}),
        url_(parseUrl(section_.string("url", ""), section_)),
        tls_(ssl::context::tls_client),
        backoff_(std::chrono::milliseconds(section_.integer("retry_initial_ms", 10, 60000, 500)),
                 std::chrono::milliseconds(section_.integer("retry_max_ms", 10, 3600000, 30000))),
        spool_(
            section_.string("spool_dir", "/var/lib/raqib/spool/webhook"),
            uint64_t(section_.integer("spool_max_bytes", 4096, int64_t(1) << 40, 64 << 20))) {
    falcosidekick_ = section_.choice("format", {"raqib", "falcosidekick"}, "raqib") != "raqib";
    timeout_ = std::chrono::milliseconds(section_.integer("timeout_ms", 100, 3000, 2000));
    batch_max_ = size_t(section_.integer("batch_max", 1, 10000, 100));
    if (falcosidekick_) batch_max_ = 1;  // falcosidekick takes one event per request
    token_ = section_.string("token", "");
    std::string token_env = section_.string("token_env", "");
    if (!token_env.empty()) {
      const char *value = std::getenv(token_env.c_str());
      if (!value || !*value)
        section_.fail("token_env", fmt::format("names {}, which is not set in raqib's "
                                               "environment",
                                               token_env));
      token_ = value;
    }
    server_name_ = section_.string("server_name", "");
    verify_ = section_.boolean("verify", true);
    std::string ca_file = section_.string("ca_file", "");
    boost::system::error_code ec;
    if (ca_file.empty())
      tls_.set_default_verify_paths(ec);
    else
      tls_.load_verify_file(ca_file, ec);
    if (ec && ca_file.empty())
      throw PluginError("the system's CA certificates cannot be used: " + ec.message() +
                        "; set ca_file");
    if (ec)
      section_.fail("ca_file", fmt::format("\"{}\" cannot be used: {}", ca_file, ec.message()));
    if (!verify_)
      host_.log(RAQIB_LOG_WARN,
                "TLS verification is off: anyone on the path can read and "
                "change what is sent");
    if (!spool_.empty())
      host_.log(RAQIB_LOG_INFO, fmt::format("{} records in the spool {} from before",
                                            spool_.pending(), spool_.dir()));
  }

  ~WebhookPrinter() {
    host_.log(RAQIB_LOG_INFO,
              fmt::format("{} records delivered, {} dropped from a full spool, {} still spooled "
                          "in {}",
                          delivered_, spool_.dropped(), spool_.pending(), spool_.dir()));
  }

  void onOutput(const raqib_output &out) {
    std::string record(out.json, out.json_len);
    if (falcosidekick_) {
      if (out.kind != RAQIB_RECORD_DETECTION) return;  // Falco forwards rule matches only
      record = falcosidekickEvent(json::parse(record), std::string_view(out.text, out.text_len))
                   .dump(-1, ' ', false, json::error_handler_t::replace);
    }
    if (uint64_t dropped = spool_.append(record))
      host_.log(RAQIB_LOG_WARN,
                fmt::format("spool {} full: dropped its {} oldest records ({} so far)",
                            spool_.dir(), dropped, spool_.dropped()));
  }

  // Sends what is spooled, a batch at a time, for about a second at most.
  void onTick() {
    if (spool_.empty() || !backoff_.ready(Clock::now())) return;
    spool_.sync();
    auto until = Clock::now() + std::chrono::seconds(1);
    while (!spool_.empty() && Clock::now() < until) {
      auto batch = spool_.peek(batch_max_);
      std::string failure;
      try {
        auto [status, reason] = post(bodyOf(batch.records));
        if (status / 100 == 2) {
          spool_.ack(batch);
          backoff_.succeeded();
          delivered_ += batch.records.size();
          continue;
        }
        failure = fmt::format("{} answered {} {}{}", where(), status, reason,
                              status == 401 || status == 403 ? " (check the token)" : "");
      } catch (const boost::system::system_error &e) {
        failure = fmt::format("posting to {}: {}", where(), e.code().message());
      }
      auto wait = backoff_.failed(Clock::now());
      throw PluginError(fmt::format("{}; {} records spooled, next try in {} ms", failure,
                                    spool_.pending(), wait.count()));
    }
  }

 private:
  std::string bodyOf(const std::vector<std::string> &records) const {
    if (falcosidekick_) return records.front();
    std::string body = "[";
    for (const auto &r : records) body += (body.size() > 1 ? "," : "") + r;
    return body + "]";
  }

  std::string where() const {
    bool v6 = url_.host.find(':') != std::string::npos;
    return fmt::format("https://{}{}{}:{}{}", v6 ? "[" : "", url_.host, v6 ? "]" : "", url_.port,
                       url_.target);
  }

  // One POST within timeout_; the status and reason, or throws system_error.
  std::pair<unsigned, std::string> post(const std::string &body) {
    net::io_context io;
    beast::ssl_stream<beast::tcp_stream> stream(io, tls_);
    SSL *ssl = stream.native_handle();
    X509_VERIFY_PARAM *param = SSL_get0_param(ssl);
    if (!server_name_.empty()) {
      SSL_set_tlsext_host_name(ssl, server_name_.c_str());
      X509_VERIFY_PARAM_set1_host(param, server_name_.c_str(), 0);
    } else {
      X509_VERIFY_PARAM_set1_ip_asc(param, url_.host.c_str());
    }
    stream.set_verify_mode(verify_ ? ssl::verify_peer : ssl::verify_none);

    http::request<http::string_body> request(http::verb::post, url_.target, 11);
    request.set(http::field::host, server_name_.empty() ? url_.host : server_name_);
    request.set(http::field::user_agent, "raqib-webhook/1.0");
    request.set(http::field::content_type, "application/json");
    if (!token_.empty()) request.set(http::field::authorization, "Bearer " + token_);
    request.body() = body;
    request.prepare_payload();
    http::response<http::string_body> response;

    std::exception_ptr error;
    beast::get_lowest_layer(stream).expires_after(timeout_);  // one deadline for it all
    net::co_spawn(
        io,
        [&]() -> net::awaitable<void> {
          net::ip::tcp::endpoint peer(net::ip::make_address(url_.host), url_.port);
          co_await beast::get_lowest_layer(stream).async_connect(peer, net::use_awaitable);
          co_await stream.async_handshake(ssl::stream_base::client, net::use_awaitable);
          co_await http::async_write(stream, request, net::use_awaitable);
          beast::flat_buffer buffer;
          co_await http::async_read(stream, buffer, response, net::use_awaitable);
        },
        [&](std::exception_ptr e) { error = e; });
    io.run();
    if (error) std::rethrow_exception(error);
    return {response.result_int(), std::string(response.reason())};
  }

  raqib::Host host_;
  raqib::printers::PrinterSection section_;
  Url url_;
  ssl::context tls_;
  raqib::printers::Backoff backoff_;
  raqib::printers::Spool spool_;
  bool falcosidekick_ = false;
  std::chrono::milliseconds timeout_{2000};
  size_t batch_max_ = 100;
  std::string token_;  // never logged
  std::string server_name_;
  bool verify_ = true;
  uint64_t delivered_ = 0;
};

}  // namespace

RAQIB_PRINTER(WebhookPrinter, "webhook", "1.0.0",
              "Records POSTed over HTTPS in batches, spooled on disk while the endpoint is down",
              RAQIB_RECORD_DETECTION | RAQIB_RECORD_HEALTH | RAQIB_RECORD_INFO,
              RAQIB_RESOURCE_NET_TCP_OUT | RAQIB_RESOURCE_FILE_WRITE);
