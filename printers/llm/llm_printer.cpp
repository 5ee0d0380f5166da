// The llm attenuator: each detection, before the other printers see it, is
// described to an OpenAI-compatible chat-completions endpoint (metadata
// only, never file contents; arguments and paths redacted as configured),
// and the model's interpretation and false-positive verdict are added to the
// record as "llm". The host holds the detection for at most
// [core] attenuator_hold: a failing or hanging endpoint delays the other
// printers by that much at most, and the detection goes on unannotated.
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <string>

#include <fmt/format.h>
#include <nlohmann/json.hpp>
#include <raqib/plugin.hpp>

#include "http_client.hpp"
#include "printer_section.hpp"

namespace {

using nlohmann::json;
using nlohmann::ordered_json;
using raqib::PluginError;

constexpr const char *kRedacted = "<redacted>";

constexpr const char *kSystemPrompt =
    "You assess detections of raqib, an eBPF runtime-security monitor on a Linux host. You get "
    "metadata only: the recipe that matched, its MITRE ATT&CK tags, the process, its ancestry "
    "and what it touched; never file contents. Reply with one JSON object and nothing else: "
    "{\"interpretation\": \"one or two sentences on what probably happened\", "
    "\"false_positive\": true or false, \"confidence\": a number from 0 to 1}.";

class LlmAttenuator {
 public:
  explicit LlmAttenuator(raqib::Host host)
      : host_(host),
        section_("llm", host.config(),
                 {"url", "model", "token", "token_env", "ca_file", "verify", "server_name",
                  "temperature", "max_tokens", "timeout_ms", "redact_args", "redact_paths"}),
        client_(raqib::printers::httpTarget(section_, "url", true),
                raqib::printers::tlsOptions(section_)) {
    model_ = section_.string("model", "");
    if (model_.empty())
      section_.fail("model", "is required, e.g. \"gpt-4o-mini\" or a local model's name");
    temperature_ = section_.number("temperature", 0, 2, 0);
    max_tokens_ = section_.integer("max_tokens", 16, 4096, 200);
    timeout_ = std::chrono::milliseconds(section_.integer("timeout_ms", 100, 4000, 2000));
    redact_args_ = section_.boolean("redact_args", true);
    redact_paths_ = section_.strings("redact_paths");
    token_ = section_.string("token", "");
    if (std::string env = section_.string("token_env", ""); !env.empty()) {
      const char *value = std::getenv(env.c_str());
      if (!value || !*value)
        section_.fail("token_env",
                      fmt::format("names {}, which is not set in raqib's environment", env));
      token_ = value;
    }
  }

  ~LlmAttenuator() {
    if (late_)
      host_.log(RAQIB_LOG_INFO, fmt::format("{} annotations came after [core] attenuator_hold; "
                                            "those detections went on without them",
                                            late_));
  }

  void onOutput(const raqib_output &out) {
    ordered_json record = ordered_json::parse(std::string_view(out.json, out.json_len));
    std::string why;
    try {
      auto response =
          client_.post(requestFor(record).dump(-1, ' ', false, json::error_handler_t::replace),
                       token_, timeout_);
      if (response.status / 100 == 2)
        record["llm"] = annotation(response.body);
      else
        why = fmt::format("{} answered {} {}", client_.where(), response.status, response.reason);
    } catch (const boost::system::system_error &e) {
      why = fmt::format("asking {}: {}", client_.where(), e.code().message());
    } catch (const json::exception &e) {
      why = fmt::format("{} answered something that is not a chat completion: {}", client_.where(),
                        e.what());
    }
    if (!why.empty()) {
      host_.forward(out.id, "");  // unannotated, now
      throw PluginError(why + "; the detection went on without an annotation");
    }
    if (!host_.forward(out.id, record.dump(-1, ' ', false, json::error_handler_t::replace)))
      late_++;
  }

 private:
  std::string redactPath(const std::string &path) const {
    for (const auto &prefix : redact_paths_)
      if (path.rfind(prefix, 0) == 0) return kRedacted;
    return path;
  }

  // What the model is told: metadata of the detection, redacted.
  json requestFor(const ordered_json &d) const {
    const auto &p = d["process"];
    json process = {{"exe", redactPath(p.value("exe", ""))},
                    {"comm", p.value("comm", "")},
                    {"uid", p.value("uid", 0)}};
    if (!redact_args_) process["args"] = p.value("args", json::array());
    json ancestry = json::array();
    for (const auto &a : d.value("ancestry", ordered_json::array()))
      ancestry.push_back({{"exe", redactPath(a.value("exe", ""))}, {"comm", a.value("comm", "")}});
    json facts = {
        {"recipe", d.value("name", "")},         {"tactic", d.value("tactic", "")},
        {"technique", d.value("technique", "")}, {"importance", d.value("importance", "")},
        {"process", std::move(process)},         {"ancestry", std::move(ancestry)},
        {"count", d.value("count", 1)}};
    if (d.contains("file")) {
      facts["file"] = {{"path", redactPath(d["file"].value("path", ""))},
                       {"actions", d["file"].value("actions", json::array())}};
    }
    if (d.contains("flow")) {
      const auto &f = d["flow"];
      facts["network"] = {{"direction", f.value("direction", "")},
                          {"protocol", f.value("protocol", "")},
                          {"remote", f["remote"]},
                          {"names", f.value("names", json::array())}};
    }
    if (d.contains("dns"))
      facts["dns"] = {{"name", d["dns"].value("name", "")}, {"type", d["dns"].value("type", "")}};
    return {{"model", model_},
            {"temperature", temperature_},
            {"max_tokens", max_tokens_},
            {"messages",
             {{{"role", "system"}, {"content", kSystemPrompt}},
              {{"role", "user"},
               {"content", facts.dump(-1, ' ', false, json::error_handler_t::replace)}}}}};
  }

  // The model's answer as the record's "llm" field.
  ordered_json annotation(const std::string &body) const {
    std::string content = json::parse(body).at("choices").at(0).at("message").at("content");
    // Models often wrap JSON in a fenced block.
    size_t open = content.find('{'), close = content.rfind('}');
    json verdict = open != std::string::npos && close != std::string::npos && close > open
                       ? json::parse(content.substr(open, close - open + 1), nullptr, false)
                       : json();
    ordered_json a = {{"model", model_}};
    if (verdict.is_object() && verdict.contains("interpretation")) {
      a["interpretation"] = verdict.value("interpretation", "");
      a["false_positive"] =
          verdict.contains("false_positive") && verdict["false_positive"].is_boolean()
              ? ordered_json(verdict["false_positive"].get<bool>())
              : ordered_json();
      a["confidence"] =
          verdict.contains("confidence") && verdict["confidence"].is_number()
              ? ordered_json(std::clamp(verdict["confidence"].get<double>(), 0.0, 1.0))
              : ordered_json();
    } else {
      a["interpretation"] = content;  // not the JSON asked for: kept as said
      a["false_positive"] = nullptr;
      a["confidence"] = nullptr;
    }
    return a;
  }

  raqib::Host host_;
  raqib::printers::PrinterSection section_;
  raqib::printers::HttpClient client_;
  std::string model_;
  double temperature_ = 0;
  int64_t max_tokens_ = 200;
  std::chrono::milliseconds timeout_{2000};
  bool redact_args_ = true;
  std::vector<std::string> redact_paths_;
  std::string token_;  // never logged
  uint64_t late_ = 0;
};

}  // namespace

RAQIB_PRINTER(LlmAttenuator, "llm", "1.0.0",
              "Attenuator: adds an OpenAI-compatible model's interpretation and false-positive "
              "verdict to each detection before the other printers",
              RAQIB_RECORD_DETECTION | RAQIB_RECORD_ATTENUATE,
              RAQIB_RESOURCE_NET_TCP_OUT | RAQIB_RESOURCE_FILE_WRITE);
