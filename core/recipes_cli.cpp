#include "recipes_cli.hpp"

#include <cstring>
#include <ctime>
#include <fstream>
#include <map>
#include <ostream>
#include <sstream>

#include <boost/uuid/random_generator.hpp>
#include <boost/uuid/uuid_io.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "output_format.hpp"
#include "recipe.hpp"
#include "dns_lane.hpp"
#include "peer_lane.hpp"
#include "exec_lane.hpp"
#include "watched_set.hpp"

namespace raqib {

extern const char kFileRecipes[];  // plugins/NAME/recipes.toml, as the plugins embed them
extern const char kExecRecipes[];
extern const char kNetRecipes[];

namespace {

using recipes::Document;
using recipes::Plugin;
using recipes::RecipeSet;

struct RecipePlugin {
  Plugin plugin;
  const char *catalogue;
  uint32_t subscriptions;  // as the plugin's descriptor says
};
constexpr RecipePlugin kRecipePlugins[] = {
    {Plugin::File, kFileRecipes, RAQIB_RECORD_FILE},
    {Plugin::Exec, kExecRecipes, RAQIB_RECORD_EXEC},
    {Plugin::Net, kNetRecipes, RAQIB_RECORD_FLOW | RAQIB_RECORD_DNS},
};

std::optional<std::string> readListFile(const std::string &path, std::string &err) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) {
    err = std::strerror(errno);
    return std::nullopt;
  }
  return text.str();
}

struct LoadedSet {
  const RecipePlugin *plugin;
  RecipeSet set;
};

// The recipe sets of the recipe plugins config enables: built-in recipes,
// then [plugins.NAME]'s, read from the configuration's own text so errors
// point into it.
Result<std::vector<LoadedSet>> loadSets(const Config &config, const ConfigText &text) {
  toml::table root;
  try {
    root = toml::parse(text.text, text.source);
  } catch (const toml::parse_error &e) {
    return Error{fmt::format("{}:{}:{}: {}", text.source, e.source().begin.line,
                             e.source().begin.column, e.description())};
  }
  std::vector<LoadedSet> sets;
  for (const RecipePlugin &p : kRecipePlugins) {
    const char *name = recipes::pluginName(p.plugin);
    auto configured = std::find_if(config.detectors.begin(), config.detectors.end(),
                                   [&](const PluginConfig &c) { return c.name == name; });
    if (configured == config.detectors.end() || !configured->enabled) continue;
    std::vector<Document> docs;
    try {
      docs.push_back(
          recipes::parseDocument(p.catalogue, fmt::format("raqib-{}.so:recipes.toml", name)));
      toml::table *section = root["plugins"][name].as_table();
      if (section) {
        // Moved, not copied: the nodes keep their positions in the file.
        auto own = std::make_shared<toml::table>(std::move(*section));
        own->erase("enabled");
        own->erase("queue_capacity");
        recipes::inlineListFiles(*own, text.source, readListFile);
        docs.push_back(Document{std::move(own), text.source});
      }
      sets.push_back({&p, RecipeSet::parse(p.plugin, docs)});
    } catch (const recipes::RecipeError &e) {
      return Error{e.what()};
    }
  }
  return sets;
}

int64_t unixNs(const nlohmann::json &j) {
  if (!j.is_string()) return 0;
  const std::string &t = j.get_ref<const std::string &>();  // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"
  tm parts{};
  if (t.size() < 30 || !strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &parts)) return 0;
  return int64_t(timegm(&parts)) * 1000000000ll + std::atoll(t.substr(20, 9).c_str());
}

// One record read back from its JSON form (docs/events.md), owning what its
// C view points into.
class ReplayedRecord {
 public:
  // Throws nlohmann::json::exception on a record that is not of the schema.
  explicit ReplayedRecord(const nlohmann::json &j) {
    host = j.value("host", "");
    addProcess(j.at("process"), true);
    for (const auto &a : j.value("ancestry", nlohmann::json::array())) addProcess(a, false);
    std::string type = j.at("type");
    if (type == "file")
      readFile(j);
    else if (type == "exec")
      readExec(j.at("exec"));
    else if (type == "flow")
      readFlow(j);
    else if (type == "dns")
      readDns(j);
    else
      throw std::invalid_argument("unknown record type \"" + type + "\"");
    link();
  }
  ReplayedRecord(const ReplayedRecord &) = delete;
  const raqib_record &view() const { return record_; }
  std::string host;

 private:
  struct Proc {
    std::string exe, comm;
    std::vector<std::string> args;
    std::vector<const char *> argv;
    raqib_process view{};
  };
  void addProcess(const nlohmann::json &p, bool full) {
    Proc &o = procs_.emplace_back();
    o.view.struct_size = sizeof o.view;
    o.view.pid = p.at("pid");
    o.exe = p.value("exe", "");
    o.comm = p.value("comm", "");
    if (!full) return;
    o.view.ppid = p.value("ppid", 0u);
    o.view.uid = p.value("uid", 0u);
    o.view.cgroup_id = p.value("cgroup_id", uint64_t(0));
    o.view.start_unix_ns = unixNs(p.value("start", nlohmann::json()));
    o.args = p.value("args", std::vector<std::string>{});
    if (p.value("args_truncated", false)) o.view.flags |= RAQIB_PROCESS_ARGS_TRUNCATED;
    for (const std::string &f : p.value("exe_flags", std::vector<std::string>{}))
      o.view.exe_flags |= f == "deleted"  ? RAQIB_EXE_DELETED
                          : f == "memfd"  ? RAQIB_EXE_MEMFD
                          : f == "hidden" ? RAQIB_EXE_HIDDEN
                          : f == "loader" ? RAQIB_EXE_LOADER
                                          : 0;
    for (const std::string &e : p.value("env", std::vector<std::string>{}))
      o.view.flags |= e == "LD_PRELOAD"        ? RAQIB_PROCESS_ENV_LD_PRELOAD
                      : e == "LD_LIBRARY_PATH" ? RAQIB_PROCESS_ENV_LD_LIBRARY_PATH
                      : e == "LD_AUDIT"        ? RAQIB_PROCESS_ENV_LD_AUDIT
                                               : 0;
    if (p.value("env_truncated", false)) o.view.flags |= RAQIB_PROCESS_ENV_TRUNCATED;
    for (const std::string &s : p.value("stdio_sockets", std::vector<std::string>{}))
      o.view.flags |= s == "stdin"    ? RAQIB_PROCESS_STDIN_SOCKET
                      : s == "stdout" ? RAQIB_PROCESS_STDOUT_SOCKET
                      : s == "stderr" ? RAQIB_PROCESS_STDERR_SOCKET
                                      : 0;
    if (p.contains("namespaces")) {
      o.view.mnt_ns = p["namespaces"].value("mnt", 0u);
      o.view.pid_ns = p["namespaces"].value("pid", 0u);
      o.view.net_ns = p["namespaces"].value("net", 0u);
    }
  }
  void times(const nlohmann::json &j, int64_t &first, int64_t &last, uint64_t *count) {
    first = unixNs(j.value("first", nlohmann::json()));
    last = unixNs(j.value("last", nlohmann::json()));
    if (count) *count = j.value("count", uint64_t(0));
  }
  void readFile(const nlohmann::json &j) {
    const auto &f = j.at("file");
    path_ = f.at("path");
    if (f.contains("other_path")) other_ = f["other_path"];
    if (f.contains("watched_path")) watched_ = f["watched_path"];
    static const std::map<std::string, uint32_t> kActionBits = [] {
      std::map<std::string, uint32_t> bits;
      for (uint32_t bit = 1; bit <= RAQIB_ACTION_UMOUNT; bit <<= 1)
        bits[actionNames(bit).at(0)] = bit;
      return bits;
    }();
    for (const std::string &a : f.value("actions", std::vector<std::string>{}))
      if (auto it = kActionBits.find(a); it != kActionBits.end()) file_.actions |= it->second;
    for (const PathFlagName &flag : kPathFlagNames)
      if (f.value(flag.name, false)) file_.path_flags |= flag.bit;
    file_.error = f.value("error", 0);
    times(j, file_.first_unix_ns, file_.last_unix_ns, &file_.count);
    file_.struct_size = sizeof file_;
    record_.kind = RAQIB_RECORD_FILE;
    record_.file = &file_;
  }
  void readExec(const nlohmann::json &e) {
    for (const std::string &ev : e.value("events", std::vector<std::string>{}))
      exec_.events |= ev == "fork"      ? RAQIB_EXEC_FORKED
                      : ev == "exec"    ? RAQIB_EXEC_EXECED
                      : ev == "exit"    ? RAQIB_EXEC_EXITED
                      : ev == "unshare" ? RAQIB_EXEC_UNSHARED
                      : ev == "setns"   ? RAQIB_EXEC_SETNS
                                        : 0;
    exec_.exec_unix_ns = unixNs(e.value("exec_time", nlohmann::json()));
    exec_.exit_unix_ns = unixNs(e.value("exit_time", nlohmann::json()));
    exec_.exit_code =
        e.contains("exit_signal") ? e["exit_signal"].get<int32_t>() : e.value("exit_code", 0) << 8;
    exec_.struct_size = sizeof exec_;
    record_.kind = RAQIB_RECORD_EXEC;
    record_.exec = &exec_;
  }
  void readFlow(const nlohmann::json &j) {
    const auto &f = j.at("flow");
    std::string dir = f.at("direction");
    flow_.direction = dir == "connect"  ? RAQIB_FLOW_CONNECT
                      : dir == "accept" ? RAQIB_FLOW_ACCEPT
                                        : RAQIB_FLOW_FLOW;
    std::string proto = f.value("protocol", "");
    flow_.protocol = proto == "tcp" ? 6 : proto == "udp" ? 17 : std::atoi(proto.c_str());
    flow_.family = f.value("family", 4u);
    local_ = f.at("local").value("addr", "");
    remote_ = f.at("remote").value("addr", "");
    flow_.local_port = f["local"].value("port", 0u);
    flow_.remote_port = f["remote"].value("port", 0u);
    flow_.bytes_out = f.value("bytes_out", uint64_t(0));
    flow_.bytes_in = f.value("bytes_in", uint64_t(0));
    flow_.packets_out = f.value("packets_out", uint64_t(0));
    flow_.packets_in = f.value("packets_in", uint64_t(0));
    state_ = f.value("state", "");
    names_ = f.value("names", std::vector<std::string>{});
    flow_.error = f.value("error", 0);
    times(j, flow_.first_unix_ns, flow_.last_unix_ns, &flow_.count);
    flow_.struct_size = sizeof flow_;
    record_.kind = RAQIB_RECORD_FLOW;
    record_.flow = &flow_;
  }
  void readDns(const nlohmann::json &j) {
    const auto &d = j.at("dns");
    path_ = d.at("name");
    std::string type = d.value("type", "A");
    dns_.qtype = type == "A" ? 1 : type == "AAAA" ? 28 : 0;
    names_ = d.value("answers", std::vector<std::string>{});
    dns_.queries = d.value("queries", uint64_t(0));
    dns_.responses = d.value("responses", uint64_t(0));
    times(j, dns_.first_unix_ns, dns_.last_unix_ns, nullptr);
    dns_.struct_size = sizeof dns_;
    record_.kind = RAQIB_RECORD_DNS;
    record_.dns = &dns_;
  }
  void link() {
    for (Proc &p : procs_) {
      for (const auto &a : p.args) p.argv.push_back(a.c_str());
      p.view.exe = p.exe.c_str();
      p.view.comm = p.comm.c_str();
      p.view.args = p.argv.data();
      p.view.argc = uint32_t(p.argv.size());
      views_.push_back(p.view);
    }
    for (const auto &n : names_) name_ptrs_.push_back(n.c_str());
    file_.path = path_.c_str();
    file_.other_path = other_ ? other_->c_str() : nullptr;
    file_.watched_path = watched_ ? watched_->c_str() : nullptr;
    flow_.local_addr = local_.c_str();
    flow_.remote_addr = remote_.c_str();
    flow_.state = state_.c_str();
    flow_.names = name_ptrs_.data();
    flow_.names_len = uint32_t(name_ptrs_.size());
    dns_.name = path_.c_str();
    dns_.answers = name_ptrs_.data();
    dns_.answers_len = uint32_t(name_ptrs_.size());
    record_.struct_size = sizeof record_;
    record_.process = &views_[0];
    record_.ancestry = views_.size() > 1 ? &views_[1] : nullptr;
    record_.ancestry_len = uint32_t(views_.size() - 1);
  }

  std::vector<Proc> procs_;
  std::vector<raqib_process> views_;
  std::string path_, local_, remote_, state_;
  std::optional<std::string> other_;
  std::optional<std::string> watched_;
  std::vector<std::string> names_;
  std::vector<const char *> name_ptrs_;
  raqib_file_record file_{};
  raqib_exec_record exec_{};
  raqib_flow_record flow_{};
  raqib_dns_record dns_{};
  raqib_record record_{};
};

}  // namespace

Result<ConfigText> readConfigText(const std::string &config_file) {
  if (config_file.empty())
    return ConfigText{std::string(defaultConfigText()), "<built-in default>"};
  std::ifstream in(config_file);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in)
    return Error{
        fmt::format("{}: cannot read the configuration: {}", config_file, std::strerror(errno))};
  return ConfigText{text.str(), config_file};
}

Status checkRecipes(const Config &config, const ConfigText &text) {
  auto sets = loadSets(config, text);
  if (!sets) return Error{sets.error()};
  return Ok{};
}

Status prepareRecipes(Config &config, const ConfigText &text) {
  auto sets = loadSets(config, text);
  if (!sets) return Error{sets.error()};
  for (const LoadedSet &s : *sets) {
    if (s.plugin->plugin == Plugin::File) config.watched = watchedPathsOf(s.set.recipes());
    if (s.plugin->plugin == Plugin::Exec) config.watched_execs = watchedExecsOf(s.set.recipes());
    if (s.plugin->plugin == Plugin::Net) {
      config.watched_domains = watchedDomainsOf(s.set.recipes());
      config.watched_peers = watchedPeersOf(s.set.recipes());
    }
  }
  for (PluginConfig &pc : config.detectors) {
    if (pc.name != "file" && pc.name != "exec" && pc.name != "net") continue;
    try {
      toml::table section = toml::parse(pc.section_toml);  // the core wrote it: valid
      recipes::inlineListFiles(section, text.source, readListFile);
      std::ostringstream out;
      out << section;
      pc.section_toml = out.str();
    } catch (const std::exception &e) {
      return Error{e.what()};
    }
  }
  return Ok{};
}

int listRecipes(const Config &config, const ConfigText &text, std::ostream &out) {
  auto sets = loadSets(config, text);
  if (!sets) {
    out << sets.error() << "\n";
    return 2;
  }
  out << "name\tplugin\timportance\ttactic\ttechnique\tenabled\tdescription\n";
  for (const LoadedSet &s : *sets)
    for (const recipes::Recipe &r : s.set.recipes())
      out << r.meta.name << "\t" << recipes::pluginName(r.plugin) << "\t"
          << importanceName(r.meta.importance) << "\t" << r.meta.tactic << "\t" << r.meta.technique
          << "\t" << (r.enabled ? "enabled" : "disabled") << "\t" << r.meta.description << "\n";
  return 0;
}

int replayRecords(const Config &config, const ConfigText &text, const std::string &records_file,
                  bool json, std::ostream &out, std::ostream &err) {
  auto sets = loadSets(config, text);
  if (!sets) {
    err << sets.error() << "\n";
    return 2;
  }
  std::ifstream in(records_file);
  if (!in) {
    err << records_file << ": cannot read the records: " << std::strerror(errno) << "\n";
    return 1;
  }
  boost::uuids::random_generator uuids;
  auto report = [&](const std::string &line) { err << line << "\n"; };
  std::string line;
  uint64_t line_no = 0, records = 0, detections = 0, skipped = 0;
  while (std::getline(in, line)) {
    line_no++;
    nlohmann::json j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_object() || j.value("kind", "") != "info") continue;  // detections, health
    std::unique_ptr<ReplayedRecord> record;
    try {
      record = std::make_unique<ReplayedRecord>(j);
    } catch (const std::exception &e) {
      err << records_file << ":" << line_no << ": skipped, not a raqib record: " << e.what()
          << "\n";
      skipped++;
      continue;
    }
    records++;
    const raqib_record &view = record->view();
    for (LoadedSet &s : *sets) {
      if (!(s.plugin->subscriptions & view.kind)) continue;
      s.set.match(
          view,
          [&](const recipes::Recipe &r) {
            DetectionMeta meta{boost::uuids::to_string(uuids()),
                               std::chrono::duration_cast<std::chrono::nanoseconds>(
                                   std::chrono::system_clock::now().time_since_epoch())
                                   .count(),
                               r.meta.name,
                               recipes::pluginName(r.plugin),
                               r.meta.tactic,
                               r.meta.technique,
                               r.meta.importance,
                               record->host};
            out << (json ? detectionJson(meta, view) : detectionText(meta, view)) << "\n";
            detections++;
          },
          report);
    }
  }
  for (LoadedSet &s : *sets) s.set.flushSuppressed(report);
  err << fmt::format("replay: {} records, {} detections, {} lines skipped\n", records, detections,
                     skipped);
  return 0;
}

}  // namespace raqib
