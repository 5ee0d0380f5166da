#include "recipe.hpp"

#include <arpa/inet.h>
#include <fnmatch.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <span>
#include <sstream>

#include <fmt/format.h>
#include <re2/re2.h>

namespace raqib::recipes {

const char *pluginName(Plugin plugin) {
  switch (plugin) {
    case Plugin::File:
      return "file";
    case Plugin::Exec:
      return "exec";
    case Plugin::Net:
      return "net";
  }
  return "?";
}

// ---- patterns ---------------------------------------------------------

namespace {

bool hasWildcard(std::string_view p) {
  return p.find_first_of("*?[") != std::string_view::npos;
}

std::string_view basenameOf(std::string_view path) {
  size_t slash = path.rfind('/');
  return slash == std::string_view::npos ? path : path.substr(slash + 1);
}

}  // namespace

std::string PatternSet::add(const std::string &pattern) {
  if (pattern.empty()) return "a pattern must not be empty";
  if (pattern.rfind("re:", 0) == 0) {
    RE2::Options options;
    options.set_log_errors(false);
    auto re = std::make_shared<const RE2>(pattern.substr(3), options);
    if (!re->ok()) return fmt::format("bad regular expression \"{}\": {}", pattern, re->error());
    regexes_.push_back(std::move(re));
    size_++;
    return "";
  }
  if (kind_ == Kind::Path && pattern.rfind("~/", 0) == 0) {
    addOne("/root" + pattern.substr(1));
    addOne("/home/*" + pattern.substr(1));
    return "";
  }
  if (kind_ == Kind::Path && pattern[0] != '/' && pattern.find('/') != std::string::npos)
    return fmt::format(
        "\"{}\": a path pattern is absolute (/...), a home path (~/...) or a basename (no '/')",
        pattern);
  addOne(pattern);
  return "";
}

void PatternSet::addOne(const std::string &pattern) {
  size_++;
  bool basename = kind_ == Kind::Path && pattern[0] != '/';
  if (hasWildcard(pattern)) {
    std::string literal = pattern.substr(0, pattern.find_first_of("*?["));
    bool under = kind_ == Kind::Path && pattern.back() == '/';
    globs_.push_back({under ? pattern.substr(0, pattern.size() - 1) : pattern,
                      basename ? std::string() : literal, basename, under});
  } else if (basename) {
    basenames_.insert(pattern);
  } else if (kind_ == Kind::Path && pattern.back() == '/') {
    prefixes_.push_back(pattern);
  } else {
    exact_.insert(pattern);
  }
}

bool PatternSet::matches(std::string_view text) const {
  if (size_ == 0) return false;
  if (exact_.find(text) != exact_.end()) return true;
  std::string_view base = basenameOf(text);
  if (!basenames_.empty() && basenames_.find(base) != basenames_.end()) return true;
  for (const auto &p : prefixes_)
    if (text.starts_with(p)) return true;
  if (!globs_.empty() || !regexes_.empty()) {
    std::string owned(text);  // fnmatch and RE2 want a whole string
    for (const Glob &g : globs_) {
      if (!g.basename && !text.starts_with(g.literal)) continue;
      const char *subject =
          g.basename ? owned.c_str() + (base.data() - text.data()) : owned.c_str();
      int flags = kind_ == Kind::Path ? FNM_PATHNAME : 0;
      if (!g.under) {
        if (fnmatch(g.pattern.c_str(), subject, flags) == 0) return true;
      } else if (fnmatch(g.pattern.c_str(), subject, flags | FNM_LEADING_DIR) == 0 &&
                 fnmatch(g.pattern.c_str(), subject, flags) != 0) {
        return true;  // under the directory, not the directory itself
      }
    }
    for (const auto &re : regexes_)
      if (RE2::FullMatch(owned, *re)) return true;
  }
  return false;
}

void PatternSet::exportTo(Watched &out) const {
  out.exact.insert(out.exact.end(), exact_.begin(), exact_.end());
  out.basenames.insert(out.basenames.end(), basenames_.begin(), basenames_.end());
  out.prefixes.insert(out.prefixes.end(), prefixes_.begin(), prefixes_.end());
  for (const Glob &g : globs_) out.patterns.push_back(g.under ? g.pattern + "/" : g.pattern);
  for (const auto &re : regexes_) out.patterns.push_back("re:" + re->pattern());
}

namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

}  // namespace

void DomainSet::add(std::string domain) {
  domain = lower(domain);
  if (domain.rfind("*.", 0) == 0) domain.erase(0, 1);
  if (domain.size() > 1 && domain[0] == '.')
    suffixes_.insert(domain.substr(1));
  else
    exact_.insert(domain);
}

bool DomainSet::matches(std::string_view name) const {
  std::string n = lower(name);
  if (!n.empty() && n.back() == '.') n.pop_back();
  if (exact_.count(n)) return true;
  // The name itself and each parent: a.b.example.com, b.example.com, ...
  for (size_t at = 0; at != std::string::npos;) {
    if (suffixes_.count(n.substr(at))) return true;
    at = n.find('.', at);
    if (at != std::string::npos) at++;
  }
  return false;
}

void DomainSet::exportTo(Watched &out) const {
  out.exact.insert(out.exact.end(), exact_.begin(), exact_.end());
  for (const auto &s : suffixes_) out.prefixes.push_back("." + s);
}

double domainEntropy(std::string_view name, size_t *longest_label) {
  std::string_view best;
  for (size_t at = 0; at <= name.size();) {
    size_t dot = name.find('.', at);
    if (dot == std::string_view::npos) dot = name.size();
    std::string_view label = name.substr(at, dot - at);
    if (label.size() > best.size()) best = label;
    at = dot + 1;
  }
  if (longest_label) *longest_label = best.size();
  if (best.empty()) return 0;
  unsigned counts[256] = {};
  for (unsigned char c : best) counts[std::tolower(c)]++;
  double bits = 0;
  for (unsigned c : counts) {
    if (!c) continue;
    double p = double(c) / double(best.size());
    bits -= p * std::log2(p);
  }
  return bits;
}

// ---- reading TOML -----------------------------------------------------

namespace {

std::string where(const std::string &source, const toml::source_region &r) {
  return fmt::format("{}:{}:{}", source, r.begin.line, r.begin.column);
}

// Where a node is; a table of an array of tables has no position of its
// own, so its first key's stands for it.
std::string where(const std::string &source, const toml::node &node) {
  const toml::table *t = node.as_table();
  if (node.source().begin.line != 0 || !t || t->empty()) return where(source, node.source());
  toml::source_position first = t->begin()->first.source().begin;
  for (auto &&[key, value] : *t)
    if (key.source().begin < first) first = key.source().begin;
  return fmt::format("{}:{}:{}", source, first.line, first.column);
}

std::string joined(std::initializer_list<std::string_view> items) {
  std::string out;
  for (auto i : items) out += fmt::format("{}{}", out.empty() ? "" : ", ", i);
  return out;
}

// Reads one table of a recipe; every accessor throws RecipeError naming
// FILE:LINE:COL of the value at fault.
class Reader {
 public:
  Reader(const toml::table &table, const std::string &source, const std::string &recipe,
         std::string section)
      : table_(table), source_(source), recipe_(recipe), section_(std::move(section)) {}

  [[noreturn]] void fail(const toml::node &at, const std::string &what) const {
    std::string who = recipe_.empty() ? "" : fmt::format("recipe \"{}\": ", recipe_);
    throw RecipeError(fmt::format("{}: {}{}", where(source_, at), who, what));
  }
  [[noreturn]] void fail(const std::string &what) const { fail(table_, what); }

  void onlyKeys(std::initializer_list<std::string_view> keys) const {
    for (auto &&[key, node] : table_) {
      if (std::find(keys.begin(), keys.end(), key.str()) != keys.end()) continue;
      std::string who = recipe_.empty() ? "" : fmt::format("recipe \"{}\": ", recipe_);
      throw RecipeError(fmt::format("{}: {}unknown key \"{}\"{}; allowed: {}",
                                    where(source_, key.source()), who, key.str(), section_,
                                    joined(keys)));
    }
  }

  const toml::node *get(std::string_view key) const { return table_.get(key); }

  std::string text(std::string_view key, bool required) const {
    const toml::node *n = get(key);
    if (!n) {
      if (required) fail(fmt::format("{}{} is required", key, section_));
      return "";
    }
    if (!n->is_string() || n->as_string()->get().empty())
      fail(*n, fmt::format("{} must be a non-empty string", key));
    return n->as_string()->get();
  }

  bool boolean(std::string_view key, bool fallback) const {
    const toml::node *n = get(key);
    if (!n) return fallback;
    if (!n->is_boolean()) fail(*n, fmt::format("{} must be true or false", key));
    return n->as_boolean()->get();
  }

  // A string, or an array of strings; with each, its node (for errors).
  std::vector<std::pair<std::string, const toml::node *>> strings(std::string_view key) const {
    std::vector<std::pair<std::string, const toml::node *>> out;
    const toml::node *n = get(key);
    if (!n) return out;
    if (n->is_string()) {
      out.emplace_back(n->as_string()->get(), n);
      return out;
    }
    const toml::array *a = n->as_array();
    if (!a) fail(*n, fmt::format("{} must be a string or an array of strings", key));
    for (const toml::node &e : *a) {
      if (!e.is_string()) fail(e, fmt::format("{} must be an array of strings", key));
      out.emplace_back(e.as_string()->get(), &e);
    }
    return out;
  }

  void patterns(std::string_view key, PatternSet &set) const {
    for (const auto &[p, node] : strings(key))
      if (std::string err = set.add(p); !err.empty()) fail(*node, fmt::format("{}: {}", key, err));
  }

  // One of choices, by name; fails naming them all.
  template <class T>
  T choice(const toml::node &node, std::string_view key, std::string_view value,
           std::initializer_list<std::pair<std::string_view, T>> choices) const {
    return choice<T>(node, key, value, std::span(choices.begin(), choices.size()));
  }
  template <class T>
  T choice(const toml::node &node, std::string_view key, std::string_view value,
           std::span<const std::pair<std::string_view, T>> choices) const {
    for (const auto &[name, v] : choices)
      if (name == value) return v;
    std::string allowed;
    for (const auto &c : choices)
      allowed += fmt::format("{}{}", allowed.empty() ? "" : ", ", c.first);
    fail(node, fmt::format("{} has no \"{}\"; allowed: {}", key, value, allowed));
  }

  // Non-negative integers (an integer or an array of them), at most max.
  std::vector<int64_t> integers(std::string_view key, int64_t max) const {
    std::vector<int64_t> out;
    const toml::node *n = get(key);
    if (!n) return out;
    auto one = [&](const toml::node &e) {
      if (!e.is_integer() || e.as_integer()->get() < 0 || e.as_integer()->get() > max)
        fail(e, fmt::format("{} must be integers from 0 to {}", key, max));
      out.push_back(e.as_integer()->get());
    };
    if (const toml::array *a = n->as_array())
      for (const toml::node &e : *a) one(e);
    else
      one(*n);
    return out;
  }

  const toml::table &table() const { return table_; }
  const std::string &source() const { return source_; }
  const std::string &recipe() const { return recipe_; }

 private:
  const toml::table &table_;
  const std::string &source_;
  const std::string &recipe_;
  std::string section_;  // " in [recipe.include]" for messages
};

using Lists = std::map<std::string, std::vector<std::string>>;

constexpr std::pair<std::string_view, uint32_t> kActions[] = {
    {"open", RAQIB_ACTION_OPEN},           {"read", RAQIB_ACTION_READ},
    {"write", RAQIB_ACTION_WRITE},         {"create", RAQIB_ACTION_CREATE},
    {"truncate", RAQIB_ACTION_TRUNCATE},   {"unlink", RAQIB_ACTION_UNLINK},
    {"rename", RAQIB_ACTION_RENAME},       {"link", RAQIB_ACTION_LINK},
    {"symlink", RAQIB_ACTION_SYMLINK},     {"chmod", RAQIB_ACTION_CHMOD},
    {"chown", RAQIB_ACTION_CHOWN},         {"setcap", RAQIB_ACTION_SETCAP},
    {"mmap_exec", RAQIB_ACTION_MMAP_EXEC}, {"exec", RAQIB_ACTION_EXEC},
    {"mount", RAQIB_ACTION_MOUNT},         {"umount", RAQIB_ACTION_UMOUNT},
};

Filter readFilter(const Reader &parent, std::string_view key) {
  Filter f;
  const toml::node *n = parent.get(key);
  if (!n) return f;
  if (!n->is_table()) parent.fail(*n, fmt::format("[recipe.{}] must be a table", key));
  Reader r(*n->as_table(), parent.source(), parent.recipe(), fmt::format(" in [recipe.{}]", key));
  r.onlyKeys({"exe", "comm", "args", "uid", "parent_exe", "ancestor_exe", "cgroup"});
  r.patterns("exe", f.exe);
  r.patterns("comm", f.comm);
  r.patterns("args", f.args);
  r.patterns("parent_exe", f.parent_exe);
  r.patterns("ancestor_exe", f.ancestor_exe);
  for (int64_t u : r.integers("uid", UINT32_MAX)) f.uids.push_back(uint32_t(u));
  for (int64_t c : r.integers("cgroup", INT64_MAX)) f.cgroups.push_back(uint64_t(c));
  f.empty = n->as_table()->empty();
  return f;
}

// "250ms", "10s", "5m", "1h" to ns; -1 when malformed.
int64_t durationNs(std::string_view text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) digits++;
  if (digits == 0 || digits > 9) return -1;
  int64_t n = std::stoll(std::string(text.substr(0, digits)));
  std::string_view unit = text.substr(digits);
  if (unit == "ms") return n * 1000000;
  if (unit == "s") return n * 1000000000;
  if (unit == "m") return n * 60000000000;
  if (unit == "h") return n * 3600000000000;
  return -1;
}

Times readTimes(const Reader &parent) {
  Times t;
  const toml::node *n = parent.get("times");
  if (!n) return t;
  if (!n->is_table()) parent.fail(*n, "[recipe.times] must be a table");
  Reader r(*n->as_table(), parent.source(), parent.recipe(), " in [recipe.times]");
  r.onlyKeys({"per", "max", "window"});
  std::string per = r.text("per", true);
  t.per = r.choice<Times::Per>(*r.get("per"), "per", per,
                               {{"process", Times::Per::Process},
                                {"exe", Times::Per::Exe},
                                {"parent_exe", Times::Per::ParentExe},
                                {"ancestry", Times::Per::Ancestry},
                                {"total", Times::Per::Total}});
  auto max = r.integers("max", 1000000);
  if (max.empty() || max[0] == 0) r.fail("max is required in [recipe.times]: 1 to 1000000");
  t.max = uint64_t(max[0]);
  std::string window = r.text("window", true);
  t.window_ns = durationNs(window);
  if (t.window_ns < 1000000 || t.window_ns > 24 * 3600000000000)
    r.fail(*r.get("window"),
           fmt::format("window must be a duration from 1ms to 24h (\"500ms\", \"60s\", \"5m\", "
                       "\"1h\"), got \"{}\"",
                       window));
  return t;
}

void readFileConditions(const Reader &r, FileConditions &c) {
  for (const auto &[name, node] : r.strings("actions")) {
    c.actions |= r.choice<uint32_t>(*node, "actions", name, std::span(kActions));
  }
  if (!c.actions) r.fail("actions is required (e.g. [\"open\"])");
  if (const toml::node *m = r.get("match")) {
    if (!m->is_string()) r.fail(*m, "match must be \"any\" or \"all\"");
    c.all_actions =
        r.choice<bool>(*m, "match", m->as_string()->get(), {{"any", false}, {"all", true}});
  }
  r.patterns("paths", c.paths);
  if (c.paths.empty()) r.fail("paths is required: at least one pattern");
  r.patterns("exclude_paths", c.exclude_paths);
  c.failed_attempts = r.boolean("failed_attempts", false);
  c.other_process = r.boolean("other_process", false);
  c.own_exe = r.boolean("own_exe", false);
}

void readExecConditions(const Reader &r, ExecConditions &c) {
  r.patterns("exe", c.exe);
  r.patterns("args", c.args);
  for (const auto &[name, node] : r.strings("exe_flags"))
    c.exe_flags |= r.choice<uint32_t>(*node, "exe_flags", name,
                                      {{"deleted", RAQIB_EXE_DELETED},
                                       {"memfd", RAQIB_EXE_MEMFD},
                                       {"hidden", RAQIB_EXE_HIDDEN},
                                       {"loader", RAQIB_EXE_LOADER}});
  for (const auto &[name, node] : r.strings("env"))
    c.env |= r.choice<uint32_t>(*node, "env", name,
                                {{"LD_PRELOAD", RAQIB_PROCESS_ENV_LD_PRELOAD},
                                 {"LD_LIBRARY_PATH", RAQIB_PROCESS_ENV_LD_LIBRARY_PATH},
                                 {"LD_AUDIT", RAQIB_PROCESS_ENV_LD_AUDIT}});
  for (const auto &[name, node] : r.strings("stdio_sockets"))
    c.stdio_sockets |= r.choice<uint32_t>(*node, "stdio_sockets", name,
                                          {{"stdin", RAQIB_PROCESS_STDIN_SOCKET},
                                           {"stdout", RAQIB_PROCESS_STDOUT_SOCKET},
                                           {"stderr", RAQIB_PROCESS_STDERR_SOCKET}});
}

Cidr parseCidr(const Reader &r, const toml::node &node, const std::string &text) {
  Cidr c;
  c.text = text;
  std::string addr = text;
  size_t slash = text.find('/');
  if (slash != std::string::npos) addr = text.substr(0, slash);
  if (inet_pton(AF_INET, addr.c_str(), c.addr) == 1)
    c.family = 4;
  else if (inet_pton(AF_INET6, addr.c_str(), c.addr) == 1)
    c.family = 6;
  else
    r.fail(node, fmt::format("\"{}\" is not an IPv4 or IPv6 address or CIDR (\"10.0.0.0/8\", "
                             "\"fd00::/8\", \"169.254.169.254\")",
                             text));
  uint32_t max = c.family == 4 ? 32 : 128;
  c.prefix = max;
  if (slash != std::string::npos) {
    std::string bits = text.substr(slash + 1);
    bool digits = !bits.empty() && bits.size() <= 3 &&
                  std::all_of(bits.begin(), bits.end(), [](char ch) { return std::isdigit(ch); });
    if (!digits || std::stoul(bits) > max)
      r.fail(node, fmt::format("\"{}\": the prefix length must be 0 to {}", text, max));
    c.prefix = std::stoul(bits);
  }
  return c;
}

void readNetConditions(const Reader &r, const Lists &lists, NetConditions &c) {
  std::vector<std::pair<std::string, const toml::node *>> addresses = r.strings("addresses");
  std::vector<std::pair<std::string, const toml::node *>> domains = r.strings("domains");
  for (const auto &[name, node] : r.strings("lists")) {
    auto it = lists.find(name);
    if (it == lists.end()) {
      std::string known;
      for (const auto &l : lists) known += fmt::format("{}{}", known.empty() ? "" : ", ", l.first);
      r.fail(*node, fmt::format("no list \"{}\"; defined in [lists]: {}", name,
                                known.empty() ? "none" : known));
    }
    // A list holds addresses or domains: an entry that parses as an address is one.
    for (const auto &entry : it->second) {
      uint8_t buf[16];
      std::string addr = entry.substr(0, entry.find('/'));
      bool is_addr =
          inet_pton(AF_INET, addr.c_str(), buf) == 1 || inet_pton(AF_INET6, addr.c_str(), buf) == 1;
      (is_addr ? addresses : domains).emplace_back(entry, node);
    }
  }
  for (const auto &[text, node] : addresses) c.cidrs.push_back(parseCidr(r, *node, text));
  for (const auto &[name, node] : domains) {
    if (name.empty() || name.find_first_of(" /:@") != std::string::npos)
      r.fail(*node,
             fmt::format("\"{}\" is not a domain name (\"example.com\", \".example.com\")", name));
    c.domains.add(name);
  }
  if (const toml::node *ports = r.get("ports")) {
    auto one = [&](const toml::node &e) {
      PortRange p;
      if (e.is_integer()) {
        p.first = p.last = uint32_t(e.as_integer()->get());
      } else if (e.is_string()) {
        const std::string &s = e.as_string()->get();
        unsigned a = 0, b = 0;
        char dash = 0;
        if (std::sscanf(s.c_str(), "%u%c%u", &a, &dash, &b) != 3 || dash != '-')
          r.fail(e, fmt::format("ports: \"{}\" is not a range (\"8000-8100\")", s));
        p.first = a;
        p.last = b;
      }
      if (!(e.is_integer() || e.is_string()) || p.first < 1 || p.last > 65535 || p.first > p.last)
        r.fail(e, "ports must be numbers 1 to 65535 or ranges \"first-last\"");
      c.ports.push_back(p);
    };
    if (const toml::array *a = ports->as_array())
      for (const toml::node &e : *a) one(e);
    else
      one(*ports);
  }
  if (const toml::node *p = r.get("protocol")) {
    if (!p->is_string()) r.fail(*p, "protocol must be \"tcp\" or \"udp\"");
    c.protocol =
        r.choice<uint32_t>(*p, "protocol", p->as_string()->get(), {{"tcp", 6}, {"udp", 17}});
  }
  if (const toml::node *e = r.get("entropy_min")) {
    double v = e->is_floating_point() ? e->as_floating_point()->get()
               : e->is_integer()      ? double(e->as_integer()->get())
                                      : -1;
    if (v <= 0 || v > 8) r.fail(*e, "entropy_min must be a number of bits per character, 0 to 8");
    c.entropy_min = v;
    auto len = r.integers("entropy_min_length", 253);
    c.entropy_min_length = len.empty() ? 8 : uint32_t(len[0]);
  } else if (const toml::node *l = r.get("entropy_min_length")) {
    r.fail(*l, "entropy_min_length needs entropy_min");
  }
  for (const auto &[name, node] : r.strings("direction"))
    c.directions |= r.choice<uint32_t>(
        *node, "direction", name,
        {{"connect", kNetConnect}, {"accept", kNetAccept}, {"flow", kNetFlow}, {"dns", kNetDns}});
  bool by_name = !c.domains.empty() || c.entropy_min > 0;
  if (c.directions == 0) c.directions = by_name ? kNetDns : kNetConnect;
  if (c.cidrs.empty() && c.ports.empty() && !by_name)
    r.fail("a net recipe needs addresses, ports, domains, lists or entropy_min");
  if ((c.directions & kNetDns) && (!c.ports.empty() || c.protocol))
    r.fail("direction \"dns\" matches question names: ports and protocol do not apply");
}

Recipe readRecipe(Plugin plugin, const toml::table &table, const std::string &source,
                  const Lists &lists) {
  static const std::string kNone;
  const toml::node *name = table.get("name");
  if (!name || !name->is_string() || name->as_string()->get().empty())
    Reader(table, source, kNone, "").fail("every [[recipe]] needs name = \"...\"");
  Recipe recipe;
  recipe.meta.name = name->as_string()->get();
  recipe.plugin = plugin;
  recipe.source = where(source, table);
  Reader r(table, source, recipe.meta.name, "");
  switch (plugin) {
    case Plugin::File:
      r.onlyKeys({"name", "description", "plugin", "tactic", "technique", "importance", "enabled",
                  "include", "exclude", "times", "paths", "exclude_paths", "actions", "match",
                  "failed_attempts", "other_process", "own_exe"});
      break;
    case Plugin::Exec:
      r.onlyKeys({"name", "description", "plugin", "tactic", "technique", "importance", "enabled",
                  "include", "exclude", "times", "exe", "args", "exe_flags", "env",
                  "stdio_sockets"});
      break;
    case Plugin::Net:
      r.onlyKeys({"name", "description", "plugin", "tactic", "technique", "importance", "enabled",
                  "include", "exclude", "times", "addresses", "ports", "protocol", "direction",
                  "domains", "lists", "entropy_min", "entropy_min_length"});
      break;
  }
  if (const toml::node *p = r.get("plugin");
      p && (!p->is_string() || p->as_string()->get() != pluginName(plugin)))
    r.fail(*p, fmt::format("plugin must be \"{}\" in the recipes of the {} plugin",
                           pluginName(plugin), pluginName(plugin)));
  recipe.meta.description = r.text("description", true);
  recipe.meta.tactic = r.text("tactic", true);
  recipe.meta.technique = r.text("technique", true);
  std::string importance = r.text("importance", true);
  recipe.meta.importance =
      r.choice<raqib_importance>(*r.get("importance"), "importance", importance,
                                 {{"low", RAQIB_IMPORTANCE_LOW},
                                  {"medium", RAQIB_IMPORTANCE_MEDIUM},
                                  {"high", RAQIB_IMPORTANCE_HIGH},
                                  {"critical", RAQIB_IMPORTANCE_CRITICAL}});
  recipe.enabled = r.boolean("enabled", true);
  recipe.include = readFilter(r, "include");
  recipe.exclude = readFilter(r, "exclude");
  recipe.times = readTimes(r);
  switch (plugin) {
    case Plugin::File:
      readFileConditions(r, recipe.file);
      break;
    case Plugin::Exec:
      readExecConditions(r, recipe.exec);
      if (recipe.exec.exe.empty() && recipe.exec.args.empty() && !recipe.exec.exe_flags &&
          !recipe.exec.env && !recipe.exec.stdio_sockets && recipe.include.empty)
        r.fail("an exec recipe needs exe, args, exe_flags, env, stdio_sockets or [recipe.include]");
      break;
    case Plugin::Net:
      readNetConditions(r, lists, recipe.net);
      break;
  }
  return recipe;
}

}  // namespace

Document parseDocument(std::string_view text, std::string_view source) {
  Document doc;
  doc.source = source;
  try {
    doc.table = std::make_shared<const toml::table>(toml::parse(text, source));
  } catch (const toml::parse_error &e) {
    throw RecipeError(fmt::format("{}: {}", where(doc.source, e.source()), e.description()));
  }
  return doc;
}

void inlineListFiles(toml::table &section, const std::string &source, const ListFileReader &read) {
  toml::node *files = section.get("list_files");
  if (!files) return;
  if (!files->is_table())
    throw RecipeError(fmt::format("{}: list_files must be a table of list name = \"/path\"",
                                  where(source, *files)));
  if (!section.contains("lists")) section.insert("lists", toml::table{});
  toml::table *lists = section.get("lists")->as_table();
  if (!lists)
    throw RecipeError(
        fmt::format("{}: lists must be a table", where(source, *section.get("lists"))));
  for (auto &&[name, path] : *files->as_table()) {
    if (!path.is_string() || path.as_string()->get().empty() || path.as_string()->get()[0] != '/')
      throw RecipeError(fmt::format("{}: list_files.{} must be an absolute path",
                                    where(source, path), name.str()));
    std::string err;
    auto text = read(path.as_string()->get(), err);
    if (!text)
      throw RecipeError(fmt::format("{}: list_files.{}: cannot read {}: {}", where(source, path),
                                    name.str(), path.as_string()->get(), err));
    if (!lists->contains(name.str())) lists->insert(name.str(), toml::array{});
    toml::array *into = lists->get(name.str())->as_array();
    if (!into)
      throw RecipeError(
          fmt::format("{}: [lists] {} must be an array of strings", source, name.str()));
    std::istringstream lines(*text);
    for (std::string line; std::getline(lines, line);) {
      line = line.substr(0, line.find('#'));
      size_t b = line.find_first_not_of(" \t\r"), e = line.find_last_not_of(" \t\r");
      if (b != std::string::npos) into->push_back(line.substr(b, e - b + 1));
    }
  }
  section.erase("list_files");
}

RecipeSet RecipeSet::parse(Plugin plugin, const std::vector<Document> &docs) {
  Lists lists;
  for (const Document &doc : docs) {
    for (auto &&[key, node] : *doc.table) {
      if (key.str() == "recipe" && node.is_array_of_tables()) continue;
      if (key.str() != "lists" || !node.is_table())
        throw RecipeError(fmt::format(
            "{}: only [[recipe]] tables and a [lists] table are allowed here, got \"{}\"",
            where(doc.source, key.source()), key.str()));
      for (auto &&[name, list] : *node.as_table()) {
        const toml::array *a = list.as_array();
        if (!a || !a->is_homogeneous(toml::node_type::string))
          throw RecipeError(fmt::format("{}: [lists] {} must be an array of strings",
                                        where(doc.source, list.source()), name.str()));
        auto &into = lists[std::string(name.str())];
        for (const toml::node &e : *a) into.push_back(e.as_string()->get());
      }
    }
  }
  RecipeSet set;
  set.plugin_ = plugin;
  for (const Document &doc : docs) {
    const toml::node *recipes = doc.table->get("recipe");
    if (!recipes) continue;
    for (const toml::node &t : *recipes->as_array()) {
      Recipe recipe = readRecipe(plugin, *t.as_table(), doc.source, lists);
      auto same = std::find_if(set.recipes_.begin(), set.recipes_.end(),
                               [&](const Recipe &r) { return r.meta.name == recipe.meta.name; });
      if (same != set.recipes_.end())
        *same = std::move(recipe);
      else
        set.recipes_.push_back(std::move(recipe));
    }
  }
  set.limiters_.resize(set.recipes_.size());
  return set;
}

// ---- matching ---------------------------------------------------------

namespace {

bool anyArg(const PatternSet &set, const raqib_process &p, uint32_t from) {
  for (uint32_t i = from; i < p.argc; i++)
    if (set.matches(p.args[i])) return true;
  return false;
}

bool anyAncestor(const PatternSet &set, const raqib_record &record) {
  for (uint32_t i = 0; i < record.ancestry_len; i++)
    if (set.matches(record.ancestry[i].exe)) return true;
  return false;
}

const char *parentExe(const raqib_record &record) {
  return record.ancestry_len ? record.ancestry[0].exe : "";
}

// /proc/PID/... naming a process other than pid.
bool otherProcessPath(std::string_view path, uint32_t pid) {
  if (!path.starts_with("/proc/")) return false;
  std::string_view rest = path.substr(6);
  size_t end = rest.find('/');
  std::string_view num = rest.substr(0, end);
  if (num.empty() || !std::all_of(num.begin(), num.end(), [](char c) { return std::isdigit(c); }))
    return false;
  return num != std::to_string(pid);
}

bool fileMatches(const FileConditions &c, const raqib_record &record) {
  const raqib_file_record *f = record.file;
  if (!f) return false;
  if (f->error && !c.failed_attempts) return false;
  if (c.all_actions ? (f->actions & c.actions) != c.actions : !(f->actions & c.actions))
    return false;
  if (c.own_exe && std::strcmp(f->path, record.process->exe) != 0) return false;
  if (c.other_process && !otherProcessPath(f->path, record.process->pid)) return false;
  auto watched = [&](const char *path) {
    return c.paths.matches(path) && !c.exclude_paths.matches(path);
  };
  if (watched(f->path)) return true;
  // Another name for a watched file (a hard link, a bind mount).
  bool has_identity = f->struct_size >= offsetof(raqib_file_record, watched_path) + sizeof(char *);
  if (has_identity && f->watched_path && watched(f->watched_path)) return true;
  // A rename or link onto a watched name (sed -i, editors, install(1)).
  return f->other_path && (f->actions & (RAQIB_ACTION_RENAME | RAQIB_ACTION_LINK)) &&
         watched(f->other_path);
}

bool execMatches(const ExecConditions &c, const raqib_record &record) {
  if (!record.exec || !(record.exec->events & RAQIB_EXEC_EXECED)) return false;
  const raqib_process &p = *record.process;
  if (c.exe_flags && !(p.exe_flags & c.exe_flags)) return false;
  if (c.env && !(p.flags & c.env)) return false;
  if (c.stdio_sockets && !(p.flags & c.stdio_sockets)) return false;
  if (!c.exe.empty() && !c.exe.matches(p.exe)) return false;
  if (!c.args.empty() && !anyArg(c.args, p, 1)) return false;
  return true;
}

bool inCidr(const Cidr &c, const uint8_t *addr, uint32_t family) {
  if (c.family != family) return false;
  uint32_t whole = c.prefix / 8, rest = c.prefix % 8;
  if (std::memcmp(c.addr, addr, whole) != 0) return false;
  if (!rest) return true;
  uint8_t mask = uint8_t(0xff << (8 - rest));
  return (c.addr[whole] & mask) == (addr[whole] & mask);
}

bool nameMatches(const NetConditions &c, std::string_view name) {
  if (!c.domains.empty() && !c.domains.matches(name)) return false;
  if (c.entropy_min > 0) {
    size_t len = 0;
    if (domainEntropy(name, &len) < c.entropy_min || len < c.entropy_min_length) return false;
  }
  return true;
}

// Addresses and names are alternatives (a threat list holds both); ports,
// protocol and direction narrow either.
bool netMatches(const NetConditions &c, const raqib_record &record) {
  bool by_name = !c.domains.empty() || c.entropy_min > 0;
  if (const raqib_dns_record *d = record.dns) {
    return (c.directions & kNetDns) && by_name && nameMatches(c, d->name);
  }
  const raqib_flow_record *f = record.flow;
  if (!f) return false;
  uint32_t dir = f->direction == RAQIB_FLOW_CONNECT  ? kNetConnect
                 : f->direction == RAQIB_FLOW_ACCEPT ? kNetAccept
                                                     : kNetFlow;
  if (!(c.directions & dir)) return false;
  if (c.protocol && f->protocol != c.protocol) return false;
  if (!c.ports.empty()) {
    uint32_t port = dir == kNetAccept ? f->local_port : f->remote_port;
    if (std::none_of(c.ports.begin(), c.ports.end(),
                     [&](const PortRange &p) { return port >= p.first && port <= p.last; }))
      return false;
  }
  if (c.cidrs.empty() && !by_name) return true;  // ports alone
  if (!c.cidrs.empty()) {
    uint8_t addr[16] = {};
    int af = f->family == 6 ? AF_INET6 : AF_INET;
    if (inet_pton(af, f->remote_addr, addr) == 1 &&
        std::any_of(c.cidrs.begin(), c.cidrs.end(),
                    [&](const Cidr &cidr) { return inCidr(cidr, addr, f->family); }))
      return true;
  }
  if (by_name)
    for (uint32_t i = 0; i < f->names_len; i++)
      if (nameMatches(c, f->names[i])) return true;
  return false;
}

// Include: every key given matches. Exclude (any = true): any key matches.
bool filterMatches(const Filter &f, const raqib_record &record, bool any) {
  const raqib_process &p = *record.process;
  int given = 0, matched = 0;
  auto check = [&](bool present, auto &&test) {
    if (!present) return;
    given++;
    if (test()) matched++;
  };
  check(!f.exe.empty(), [&] { return f.exe.matches(p.exe); });
  check(!f.comm.empty(), [&] { return f.comm.matches(p.comm); });
  check(!f.args.empty(), [&] { return anyArg(f.args, p, 0); });
  check(!f.parent_exe.empty(), [&] { return f.parent_exe.matches(parentExe(record)); });
  check(!f.ancestor_exe.empty(), [&] { return anyAncestor(f.ancestor_exe, record); });
  check(!f.uids.empty(),
        [&] { return std::find(f.uids.begin(), f.uids.end(), p.uid) != f.uids.end(); });
  check(!f.cgroups.empty(), [&] {
    return std::find(f.cgroups.begin(), f.cgroups.end(), p.cgroup_id) != f.cgroups.end();
  });
  return any ? matched > 0 : matched == given;
}

int64_t recordTime(const raqib_record &r) {
  if (r.file) return r.file->last_unix_ns;
  if (r.exec) return r.exec->exec_unix_ns ? r.exec->exec_unix_ns : r.exec->exit_unix_ns;
  if (r.flow) return r.flow->last_unix_ns;
  if (r.dns) return r.dns->last_unix_ns;
  return 0;
}

const char *perName(Times::Per per) {
  switch (per) {
    case Times::Per::Process:
      return "process";
    case Times::Per::Exe:
      return "exe";
    case Times::Per::ParentExe:
      return "parent_exe";
    case Times::Per::Ancestry:
      return "ancestry";
    case Times::Per::Total:
      return "total";
  }
  return "?";
}

std::string limitKey(Times::Per per, const raqib_record &record) {
  const raqib_process &p = *record.process;
  switch (per) {
    case Times::Per::Process:
      return fmt::format("pid {} {}", p.pid, p.exe);
    case Times::Per::Exe:
      return p.exe;
    case Times::Per::ParentExe:
      return parentExe(record);
    case Times::Per::Ancestry: {
      std::string key = p.exe;
      for (uint32_t i = 0; i < record.ancestry_len; i++) (key += " < ") += record.ancestry[i].exe;
      return key;
    }
    case Times::Per::Total:
      return "all";
  }
  return "";
}

// Buckets one recipe keeps at most; beyond that the expired ones are reported and dropped.
constexpr size_t kMaxBuckets = 4096;

}  // namespace

bool conditionsMatch(const Recipe &recipe, const raqib_record &record) {
  switch (recipe.plugin) {
    case Plugin::File:
      return fileMatches(recipe.file, record);
    case Plugin::Exec:
      return execMatches(recipe.exec, record);
    case Plugin::Net:
      return netMatches(recipe.net, record);
  }
  return false;
}

bool filtersPass(const Recipe &recipe, const raqib_record &record) {
  if (!recipe.include.empty && !filterMatches(recipe.include, record, false)) return false;
  return recipe.exclude.empty || !filterMatches(recipe.exclude, record, true);
}

void RecipeSet::match(const raqib_record &record, const Emit &emit, const Report &report) {
  int64_t now = recordTime(record);
  sweep(now, report);
  for (size_t i = 0; i < recipes_.size(); i++) {
    const Recipe &r = recipes_[i];
    if (!r.enabled || !conditionsMatch(r, record) || !filtersPass(r, record)) continue;
    if (allow(i, record, now, report)) emit(r);
  }
}

namespace {

std::string suppressedLine(const Recipe &r, const std::string &key, uint64_t suppressed) {
  return fmt::format(
      "recipe {}: {} detection(s) suppressed by times (at most {} per {} in {}ms), {} {}",
      r.meta.name, suppressed, r.times.max, perName(r.times.per), r.times.window_ns / 1000000,
      perName(r.times.per), key);
}

}  // namespace

bool RecipeSet::allow(size_t index, const raqib_record &record, int64_t now, const Report &report) {
  const Recipe &r = recipes_[index];
  if (r.times.max == 0) return true;
  auto &buckets = limiters_[index].buckets;
  std::string key = limitKey(r.times.per, record);
  if (buckets.size() >= kMaxBuckets && !buckets.count(key)) {
    std::erase_if(buckets, [&](auto &kv) {
      if (now - kv.second.window_start < r.times.window_ns) return false;
      if (kv.second.suppressed) report(suppressedLine(r, kv.first, kv.second.suppressed));
      return true;
    });
    if (buckets.size() >= kMaxBuckets) key = "(too many keys)";
  }
  Bucket &b = buckets[key];
  if (b.count == 0 || now - b.window_start >= r.times.window_ns) {
    if (b.suppressed) report(suppressedLine(r, key, b.suppressed));
    b = Bucket{now, 0, 0};
  }
  if (++b.count <= r.times.max) return true;
  b.suppressed++;
  return false;
}

void RecipeSet::sweep(int64_t now, const Report &report) {
  constexpr int64_t kSweepEveryNs = 1000000000;
  if (now - last_sweep_ < kSweepEveryNs) return;
  last_sweep_ = now;
  for (size_t i = 0; i < recipes_.size(); i++) {
    for (auto &[key, b] : limiters_[i].buckets) {
      if (b.suppressed && now - b.window_start >= recipes_[i].times.window_ns) {
        report(suppressedLine(recipes_[i], key, b.suppressed));
        b.suppressed = 0;
      }
    }
  }
}

void RecipeSet::flushSuppressed(const Report &report) {
  for (size_t i = 0; i < recipes_.size(); i++)
    for (auto &[key, b] : limiters_[i].buckets)
      if (b.suppressed) {
        report(suppressedLine(recipes_[i], key, b.suppressed));
        b.suppressed = 0;
      }
}

Watched RecipeSet::watched() const {
  Watched w;
  for (const Recipe &r : recipes_) {
    if (!r.enabled) continue;
    r.file.paths.exportTo(w);
    r.exec.exe.exportTo(w);
    r.net.domains.exportTo(w);
    for (const Cidr &c : r.net.cidrs) w.networks.push_back(c.text);
  }
  for (auto *v : {&w.exact, &w.prefixes, &w.basenames, &w.patterns, &w.networks}) {
    std::sort(v->begin(), v->end());
    v->erase(std::unique(v->begin(), v->end()), v->end());
  }
  return w;
}

raqib_detection detectionFor(const RecipeMeta &meta, const raqib_record &record) {
  raqib_detection d{};
  d.struct_size = sizeof d;
  d.importance = meta.importance;
  d.name = meta.name.c_str();
  d.tactic = meta.tactic.c_str();
  d.technique = meta.technique.c_str();
  d.record = &record;
  return d;
}

}  // namespace raqib::recipes
