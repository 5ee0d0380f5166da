#include "config.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/capability.h>
#include <toml++/toml.h>

#include <tuple>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace raqib {

extern const char kDefaultConfig[];  // generated from config/raqib.toml

std::string_view defaultConfigText() {
  return kDefaultConfig;
}

std::optional<std::chrono::milliseconds> parseDuration(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') digits++;
  if (digits == 0 || digits > 9) return std::nullopt;
  int64_t n = std::stoll(std::string(text.substr(0, digits)));
  std::string_view unit = text.substr(digits);
  if (unit == "ms") return std::chrono::milliseconds(n);
  if (unit == "s") return std::chrono::milliseconds(n * 1000);
  if (unit == "m") return std::chrono::milliseconds(n * 60000);
  return std::nullopt;
}

std::optional<Transport> parseTransport(std::string_view text) {
  if (text == "query") return Transport::Query;
  if (text == "ringbuf") return Transport::Ringbuf;
  return std::nullopt;
}

std::optional<Events> parseEvents(std::string_view text) {
  if (text == "detections") return Events::Detections;
  if (text == "all") return Events::All;
  return std::nullopt;
}

namespace {

// Walks a parsed document, turning every problem into FILE:LINE:COL errors.
class Reader {
 public:
  explicit Reader(std::string_view source) : source_(source) {}

  std::string where(const toml::source_region &r) const {
    return fmt::format("{}:{}:{}", source_, r.begin.line, r.begin.column);
  }

  Error error(const toml::node &at, const std::string &what) const {
    return Error{fmt::format("{}: {}", where(at.source()), what)};
  }

  // Refuse keys not in allowed; section names the table in messages.
  std::optional<Error> onlyKeys(const toml::table &table, std::string_view section,
                                const std::vector<std::string_view> &allowed) const {
    for (auto &&[key, node] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) != allowed.end()) continue;
      std::string list;
      for (auto a : allowed) list += fmt::format("{}\"{}\"", list.empty() ? "" : ", ", a);
      return Error{fmt::format("{}: unknown key \"{}\" in {}; allowed: {}", where(key.source()),
                               key.str(), section, list)};
    }
    return std::nullopt;
  }

  // A sub-table of root, or nullptr when absent; an error when not a table.
  Result<const toml::table *> table(const toml::table &root, std::string_view key,
                                    std::string_view section) const {
    const toml::node *n = root.get(key);
    if (!n) return static_cast<const toml::table *>(nullptr);
    if (!n->is_table()) return error(*n, fmt::format("{} must be a table", section));
    return n->as_table();
  }

  Status string(const toml::table &t, std::string_view key, std::string_view section,
                std::string &out) const {
    const toml::node *n = t.get(key);
    if (!n) return Ok{};
    if (!n->is_string())
      return error(*n, fmt::format("[{}] {} must be a string, got {}", section, key, typeName(*n)));
    out = n->as_string()->get();
    return Ok{};
  }

  Status boolean(const toml::table &t, std::string_view key, std::string_view section,
                 bool &out) const {
    const toml::node *n = t.get(key);
    if (!n) return Ok{};
    if (!n->is_boolean())
      return error(
          *n, fmt::format("[{}] {} must be true or false, got {}", section, key, typeName(*n)));
    out = n->as_boolean()->get();
    return Ok{};
  }

  Status integer(const toml::table &t, std::string_view key, std::string_view section, int64_t min,
                 int64_t max, uint32_t &out) const {
    const toml::node *n = t.get(key);
    if (!n) return Ok{};
    if (!n->is_integer())
      return error(*n, fmt::format("[{}] {} must be an integer between {} and {}, got {}", section,
                                   key, min, max, typeName(*n)));
    int64_t v = n->as_integer()->get();
    if (v < min || v > max)
      return error(
          *n, fmt::format("[{}] {} must be between {} and {}, got {}", section, key, min, max, v));
    out = static_cast<uint32_t>(v);
    return Ok{};
  }

  Status cadence(const toml::table &t, std::string_view section,
                 std::chrono::milliseconds &out) const {
    const toml::node *n = t.get("cadence");
    if (!n) return Ok{};
    auto bad = [&](const std::string &got) {
      return error(*n, fmt::format("[{}] cadence must be a duration between {}ms and {}s "
                                   "such as \"250ms\", got {}",
                                   section, kMinCadence.count(), kMaxCadence.count() / 1000, got));
    };
    if (!n->is_string()) return bad(typeName(*n));
    std::string text = n->as_string()->get();
    auto d = parseDuration(text);
    if (!d || *d < kMinCadence || *d > kMaxCadence) return bad("\"" + text + "\"");
    out = *d;
    return Ok{};
  }

  static std::string typeName(const toml::node &n) {
    switch (n.type()) {
      case toml::node_type::string:
        return "a string";
      case toml::node_type::integer:
        return "an integer";
      case toml::node_type::floating_point:
        return "a number";
      case toml::node_type::boolean:
        return "a boolean";
      case toml::node_type::array:
        return "an array";
      case toml::node_type::table:
        return "a table";
      default:
        return "a date or time";
    }
  }

 private:
  std::string source_;
};

#define RAQIB_TRY(expr)                                                 \
  do {                                                                  \
    if (auto status_ = (expr); !status_) return Error{status_.error()}; \
  } while (0)

Status readMechanism(const Reader &r, const toml::table &root, std::string_view name,
                     MechanismConfig &out, std::initializer_list<std::string_view> more_keys = {}) {
  auto t = r.table(root, name, fmt::format("[{}]", name));
  if (!t) return Error{t.error()};
  if (!*t) return Ok{};
  std::vector<std::string_view> keys{"cadence", "map_entries"};
  keys.insert(keys.end(), more_keys);
  if (auto e = r.onlyKeys(**t, fmt::format("[{}]", name), keys)) return *e;
  RAQIB_TRY(r.cadence(**t, name, out.cadence));
  RAQIB_TRY(r.integer(**t, "map_entries", name, 16, 1 << 24, out.map_entries));
  return Ok{};
}

// [plugins.NAME] or [printers.NAME]: "enabled" and "queue_capacity" are the
// host's; the rest is the plugin's own, handed to it as TOML text.
Status readPlugins(const Reader &r, const toml::table &root, std::string_view group,
                   std::vector<PluginConfig> &out) {
  auto t = r.table(root, group, fmt::format("[{}]", group));
  if (!t) return Error{t.error()};
  if (!*t) return Ok{};
  out.clear();
  for (auto &&[key, node] : **t) {
    std::string name(key.str());
    std::string section = fmt::format("{}.{}", group, name);
    bool valid_name = !name.empty() && std::all_of(name.begin(), name.end(), [](char c) {
      return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
    });
    if (!valid_name)
      return Error{
          fmt::format("{}: [{}]: a plugin name is lower-case letters, digits, '_' "
                      "and '-'",
                      r.where(key.source()), section)};
    if (!node.is_table()) return r.error(node, fmt::format("[{}] must be a table", section));
    toml::table own = *node.as_table();
    PluginConfig plugin{name, true, 0, {}};
    RAQIB_TRY(r.boolean(own, "enabled", section, plugin.enabled));
    RAQIB_TRY(r.integer(own, "queue_capacity", section, 16, 1 << 20, plugin.queue_capacity));
    own.erase("enabled");
    own.erase("queue_capacity");
    std::ostringstream text;
    text << own;
    plugin.section_toml = text.str();
    out.push_back(std::move(plugin));
  }
  return Ok{};
}

// [core] user, keep_capabilities and the plugin supervision keys.
Status readPrivilegeKeys(const Reader &r, const toml::table &c, Config &config) {
  RAQIB_TRY(r.string(c, "user", "core", config.user));
  if (config.user.empty())
    return r.error(*c.get("user"),
                   "[core] user must name the unprivileged user raqib runs as (\"raqib\"), or "
                   "be \"root\" to stay root");
  if (const toml::node *caps = c.get("keep_capabilities")) {
    const toml::array *a = caps->as_array();
    if (!a)
      return r.error(*caps,
                     "[core] keep_capabilities must be an array such as "
                     "[\"cap_net_bind_service\"]");
    for (const toml::node &n : *a) {
      cap_value_t value;
      if (!n.is_string() || cap_from_name(n.as_string()->get().c_str(), &value) != 0)
        return r.error(n,
                       "[core] keep_capabilities: each must be a capability name such as "
                       "\"cap_net_bind_service\" (see capabilities(7))");
      config.keep_capabilities.push_back(n.as_string()->get());
    }
  }
  RAQIB_TRY(r.integer(c, "plugin_restart_limit", "core", 0, 100, config.plugin_restart_limit));
  RAQIB_TRY(r.integer(c, "plugin_memory_mib", "core", 16, 1 << 20, config.plugin_memory_mib));
  for (auto [key, out, min, max] :
       {std::tuple{"plugin_restart_backoff", &config.plugin_restart_backoff, 1, 600000},
        std::tuple{"plugin_call_timeout", &config.plugin_call_timeout, 50, 600000},
        std::tuple{"plugin_restart_window", &config.plugin_restart_window, 1000, 86400000},
        std::tuple{"attenuator_hold", &config.attenuator_hold, 10, 60000}}) {
    const toml::node *n = c.get(key);
    if (!n) continue;
    auto d = n->is_string() ? parseDuration(n->as_string()->get()) : std::nullopt;
    if (!d || d->count() < min || d->count() > max)
      return r.error(*n, fmt::format("[core] {} must be a duration between {}ms and {}s such as "
                                     "\"1s\"",
                                     key, min, max / 1000));
    *out = *d;
  }
  return Ok{};
}

}  // namespace

Result<Config> parseConfig(std::string_view text, std::string_view source_name) {
  Config config;
  config.source = source_name;
  Reader r(source_name);
  toml::table root;
  try {
    root = toml::parse(text, source_name);
  } catch (const toml::parse_error &e) {
    return Error{fmt::format("{}: {}", r.where(e.source()), e.description())};
  }
  if (auto e = r.onlyKeys(root, "the configuration",
                          {"core", "exec", "file_access", "network_peers", "network_flows", "dns",
                           "strings", "tamper", "plugins", "printers"}))
    return *e;

  auto core = r.table(root, "core", "[core]");
  if (!core) return Error{core.error()};
  if (*core) {
    const toml::table &c = **core;
    if (auto e = r.onlyKeys(c, "[core]",
                            {"log_level", "plugin_dirs", "queue_capacity", "transport", "events",
                             "ringbuf_bytes", "user", "keep_capabilities", "plugin_restart_limit",
                             "plugin_restart_backoff", "plugin_call_timeout",
                             "plugin_restart_window", "attenuator_hold", "plugin_memory_mib"}))
      return *e;
    RAQIB_TRY(r.string(c, "log_level", "core", config.log_level));
    static constexpr std::string_view kLevels[] = {"trace", "debug", "info", "warn", "error"};
    if (std::find(std::begin(kLevels), std::end(kLevels), config.log_level) == std::end(kLevels))
      return r.error(*c.get("log_level"),
                     fmt::format("[core] log_level must be one of trace, debug, info, warn, "
                                 "error, got \"{}\"",
                                 config.log_level));
    if (const toml::node *dirs = c.get("plugin_dirs")) {
      const toml::array *a = dirs->as_array();
      if (!a) return r.error(*dirs, "[core] plugin_dirs must be an array of directory paths");
      for (const toml::node &d : *a) {
        if (!d.is_string())
          return r.error(d, "[core] plugin_dirs must be an array of directory paths");
        config.plugin_dirs.push_back(d.as_string()->get());
      }
    }
    RAQIB_TRY(r.integer(c, "queue_capacity", "core", 16, 1 << 20, config.queue_capacity));
    std::string transport = "query", events = "detections";
    RAQIB_TRY(r.string(c, "transport", "core", transport));
    if (auto t = parseTransport(transport))
      config.transport = *t;
    else
      return r.error(*c.get("transport"), fmt::format("[core] transport must be \"query\" or "
                                                      "\"ringbuf\", got \"{}\"",
                                                      transport));
    RAQIB_TRY(r.string(c, "events", "core", events));
    if (auto e = parseEvents(events))
      config.events = *e;
    else
      return r.error(*c.get("events"), fmt::format("[core] events must be \"detections\" or "
                                                   "\"all\", got \"{}\"",
                                                   events));
    RAQIB_TRY(r.integer(c, "ringbuf_bytes", "core", 4096, 1 << 30, config.ringbuf_bytes));
    if (config.ringbuf_bytes & (config.ringbuf_bytes - 1))
      return r.error(
          *c.get("ringbuf_bytes"),
          fmt::format("[core] ringbuf_bytes must be a power of two, got {}", config.ringbuf_bytes));
    RAQIB_TRY(readPrivilegeKeys(r, c, config));
  }

  RAQIB_TRY(readMechanism(r, root, "exec", config.exec));
  RAQIB_TRY(readMechanism(r, root, "file_access", config.file_access));
  RAQIB_TRY(readMechanism(r, root, "network_peers", config.network_peers));
  RAQIB_TRY(readMechanism(r, root, "network_flows", config.network_flows));
  RAQIB_TRY(readMechanism(r, root, "dns", config.dns));

  auto strings = r.table(root, "strings", "[strings]");
  if (!strings) return Error{strings.error()};
  if (*strings) {
    if (auto e = r.onlyKeys(**strings, "[strings]", {"map_entries"})) return *e;
    RAQIB_TRY(
        r.integer(**strings, "map_entries", "strings", 16, 1 << 24, config.strings_map_entries));
  }

  RAQIB_TRY(readMechanism(r, root, "tamper", config.tamper, {"allowed_loaders"}));
  if (const toml::node *loaders = root.at_path("tamper.allowed_loaders").node()) {
    const toml::array *a = loaders->as_array();
    constexpr const char *kWhat = "[tamper] allowed_loaders must be an array of absolute paths";
    if (!a) return r.error(*loaders, kWhat);
    for (const toml::node &l : *a) {
      if (!l.is_string() || !l.as_string()->get().starts_with('/')) return r.error(l, kWhat);
      config.tamper_allowed_loaders.push_back(l.as_string()->get());
    }
  }

  RAQIB_TRY(readPlugins(r, root, "plugins", config.detectors));
  RAQIB_TRY(readPlugins(r, root, "printers", config.printers));
  return config;
}

void setPluginOption(std::vector<PluginConfig> &plugins, std::string_view name,
                     std::string_view key, std::string_view value) {
  for (PluginConfig &p : plugins) {
    if (p.name != name) continue;
    toml::table section = toml::parse(p.section_toml);  // the host wrote it: valid
    section.insert_or_assign(key, value);
    std::ostringstream text;
    text << section;
    p.section_toml = text.str();
  }
}

Result<Config> loadConfigFile(const std::string &path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return Error{fmt::format("{}: cannot read the configuration: {}", path, std::strerror(EISDIR))};
  std::ifstream in(path);
  if (!in)
    return Error{fmt::format("{}: cannot read the configuration: {}", path, std::strerror(errno))};
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad())
    return Error{fmt::format("{}: cannot read the configuration: {}", path, std::strerror(errno))};
  return parseConfig(text.str(), path);
}

ReloadPlan planReload(const Config &running, const Config &fresh) {
  ReloadPlan plan;
  auto compare = [&](const std::vector<PluginConfig> &was, const std::vector<PluginConfig> &now,
                     const char *what) {
    for (const PluginConfig &p : now) {
      auto old = std::ranges::find(was, p.name, &PluginConfig::name);
      if (old == was.end())
        plan.not_applied.push_back(fmt::format("{} \"{}\" added", what, p.name));
      else if (old->enabled != p.enabled || old->queue_capacity != p.queue_capacity)
        plan.not_applied.push_back(
            fmt::format("{} \"{}\": enabled or queue_capacity", what, p.name));
      else if (p.enabled && old->section_toml != p.section_toml)
        plan.changed.push_back(p);
    }
    for (const PluginConfig &p : was)
      if (std::ranges::find(now, p.name, &PluginConfig::name) == now.end())
        plan.not_applied.push_back(fmt::format("{} \"{}\" removed", what, p.name));
  };
  compare(running.detectors, fresh.detectors, "plugin");
  compare(running.printers, fresh.printers, "printer");
  // The kernel's watched sets are filled once, before privileges are dropped.
  if (!(fresh.watched == running.watched))
    plan.not_applied.push_back(
        "what the file recipes watch in the kernel's lane (the new recipes match in user space "
        "meanwhile)");
  if (!(fresh.watched_execs == running.watched_execs))
    plan.not_applied.push_back(
        "what the exec recipes watch in the kernel's lane (the new recipes match in user space "
        "meanwhile)");
  if (!(fresh.watched_domains == running.watched_domains))
    plan.not_applied.push_back(
        "the domains the net recipes watch in the kernel's lane (the new recipes match in user "
        "space meanwhile)");
  if (!(fresh.watched_peers == running.watched_peers))
    plan.not_applied.push_back(
        "the addresses and ports the net recipes watch in the kernel's lane (the new recipes match "
        "in user space meanwhile)");
  Config rest = fresh;
  rest.source = running.source;
  rest.detectors = running.detectors;
  rest.printers = running.printers;
  rest.watched = running.watched;
  rest.watched_execs = running.watched_execs;
  rest.watched_domains = running.watched_domains;
  rest.watched_peers = running.watched_peers;
  if (!(rest == running))
    plan.not_applied.push_back("settings outside the [plugins.*] and [printers.*] sections");
  return plan;
}

}  // namespace raqib
