// The webhook printer: records POSTed over HTTPS (Boost.Beast over
// Boost.Asio with OpenSSL) in batches, with a bearer token, TLS verification
// on by default, bounded timeouts, and retries with exponential backoff and
// jitter. Every record goes to a bounded on-disk spool first and leaves it
// only when the endpoint answered 2xx, so an outage or a restart of the
// daemon loses nothing until the spool is full; then the oldest are dropped
// and counted. format = "falcosidekick" posts each detection as the event
// Falco's forwarder expects (docs/printers.md).
#include <chrono>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <raqib/plugin.hpp>

#include "http_client.hpp"
#include "printer_section.hpp"
#include "spooled_delivery.hpp"

namespace {

using nlohmann::json;
using raqib::PluginError;

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
        client_(raqib::printers::httpTarget(section_, "url", false),
                raqib::printers::tlsOptions(section_)),
        delivery_(host, section_, "/var/lib/raqib/spool/webhook", "delivered") {
    falcosidekick_ = section_.choice("format", {"raqib", "falcosidekick"}, "raqib") != "raqib";
    timeout_ = std::chrono::milliseconds(section_.integer("timeout_ms", 100, 3000, 2000));
    if (falcosidekick_) delivery_.limitBatch(1);  // falcosidekick takes one event per request
    if (!section_.boolean("verify", true))
      host_.log(RAQIB_LOG_WARN,
                "TLS verification is off: anyone on the path can read and "
                "change what is sent");
  }

  void onOutput(const raqib_output &out) {
    std::string record(out.json, out.json_len);
    if (falcosidekick_) {
      if (out.kind != RAQIB_RECORD_DETECTION) return;  // Falco forwards rule matches only
      record = falcosidekickEvent(json::parse(record), std::string_view(out.text, out.text_len))
                   .dump(-1, ' ', false, json::error_handler_t::replace);
    }
    delivery_.add(record);
  }

  // Sends what is spooled.
  void onTick() {
    delivery_.deliver([&](const std::vector<std::string> &records) -> std::string {
      try {
        auto [status, reason, body] = client_.post(bodyOf(records), delivery_.token(), timeout_);
        if (status / 100 == 2) return "";
        return fmt::format("{} answered {} {}{}", client_.where(), status, reason,
                           status == 401 || status == 403 ? " (check the token)" : "");
      } catch (const boost::system::system_error &e) {
        return fmt::format("posting to {}: {}", client_.where(), e.code().message());
      }
    });
  }

 private:
  std::string bodyOf(const std::vector<std::string> &records) const {
    if (falcosidekick_) return records.front();
    std::string body = "[";
    for (const auto &r : records) body += (body.size() > 1 ? "," : "") + r;
    return body + "]";
  }

  raqib::Host host_;
  raqib::printers::PrinterSection section_;
  raqib::printers::HttpClient client_;
  raqib::printers::SpooledDelivery delivery_;
  bool falcosidekick_ = false;
  std::chrono::milliseconds timeout_{2000};
};

}  // namespace

RAQIB_PRINTER(WebhookPrinter, "webhook", "1.0.0",
              "Records POSTed over HTTPS in batches, spooled on disk while the endpoint is down",
              RAQIB_RECORD_DETECTION | RAQIB_RECORD_HEALTH | RAQIB_RECORD_INFO |
                  RAQIB_RECORD_TAMPER,
              RAQIB_RESOURCE_NET_TCP_OUT | RAQIB_RESOURCE_FILE_WRITE);
