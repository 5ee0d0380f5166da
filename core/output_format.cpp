#include "output_format.hpp"

#include <ctime>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace raqib {

std::string rfc3339(int64_t unix_ns) {
  time_t secs = unix_ns / 1000000000;
  int64_t nanos = unix_ns % 1000000000;
  if (nanos < 0) {
    secs -= 1;
    nanos += 1000000000;
  }
  tm t{};
  gmtime_r(&secs, &t);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z", t.tm_year + 1900, t.tm_mon + 1,
                     t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec, nanos);
}

std::vector<std::string> actionNames(uint32_t actions) {
  static constexpr std::pair<uint32_t, const char *> kNames[] = {
      {RAQIB_ACTION_OPEN, "open"},     {RAQIB_ACTION_READ, "read"},
      {RAQIB_ACTION_WRITE, "write"},   {RAQIB_ACTION_CREATE, "create"},
      {RAQIB_ACTION_TRUNCATE, "truncate"},
  };
  std::vector<std::string> names;
  for (auto [bit, name] : kNames)
    if (actions & bit) names.emplace_back(name);
  return names;
}

const char *importanceName(uint32_t importance) {
  switch (importance) {
    case RAQIB_IMPORTANCE_LOW: return "low";
    case RAQIB_IMPORTANCE_MEDIUM: return "medium";
    case RAQIB_IMPORTANCE_HIGH: return "high";
    case RAQIB_IMPORTANCE_CRITICAL: return "critical";
    default: return nullptr;
  }
}

namespace {

nlohmann::ordered_json processJson(const raqib_process &p) {
  nlohmann::ordered_json args = nlohmann::ordered_json::array();
  for (uint32_t i = 0; i < p.argc; i++) args.push_back(p.args[i]);
  nlohmann::ordered_json j = {
      {"pid", p.pid},
      {"ppid", p.ppid},
      {"uid", p.uid},
      {"exe", p.exe},
      {"comm", p.comm},
      {"args", std::move(args)},
      {"cgroup_id", p.cgroup_id},
      {"start", p.start_unix_ns ? nlohmann::ordered_json(rfc3339(p.start_unix_ns)) : nlohmann::ordered_json()},
  };
  if (p.flags & RAQIB_PROCESS_ARGS_TRUNCATED) j["args_truncated"] = true;
  return j;
}

// Control characters of hostile names escaped, so one detection stays one line.
std::string printable(const char *s) {
  std::string out;
  for (; *s; s++) {
    unsigned char c = *s;
    if (c < 0x20 || c == 0x7f)
      out += fmt::format("\\x{:02x}", c);
    else
      out += char(c);
  }
  return out;
}

}  // namespace

std::string detectionJson(const DetectionMeta &meta, const raqib_record &record) {
  nlohmann::ordered_json ancestry = nlohmann::ordered_json::array();
  for (uint32_t i = 0; i < record.ancestry_len; i++) {
    const raqib_process &a = record.ancestry[i];
    ancestry.push_back({{"pid", a.pid}, {"exe", a.exe}, {"comm", a.comm}});
  }
  nlohmann::ordered_json j = {
      {"uuid", meta.uuid},
      {"time", rfc3339(meta.time_unix_ns)},
      {"kind", "detection"},
      {"name", meta.name},
      {"plugin", meta.plugin},
      {"tactic", meta.tactic},
      {"technique", meta.technique},
      {"importance", importanceName(meta.importance)},
      {"process", processJson(*record.process)},
      {"ancestry", std::move(ancestry)},
      {"host", meta.host},
  };
  if (const raqib_file_record *f = record.file) {
    nlohmann::ordered_json file = {{"path", f->path}, {"actions", actionNames(f->actions)}};
    if (f->path_flags & RAQIB_PATH_TRUNCATED) file["path_truncated"] = true;
    if (f->path_flags & RAQIB_PATH_UNRESOLVED) file["path_unresolved"] = true;
    if (f->error) file["error"] = f->error;
    j["file"] = std::move(file);
    j["count"] = f->count;
    j["first"] = rfc3339(f->first_unix_ns);
    j["last"] = rfc3339(f->last_unix_ns);
  }
  // Paths are bytes, not always UTF-8: replace what is not, never throw.
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string detectionText(const DetectionMeta &meta, const raqib_record &record) {
  const raqib_process &p = *record.process;
  std::string line = fmt::format("{} {} {} [{} {}] pid={} uid={} exe={}", rfc3339(meta.time_unix_ns),
                                 importanceName(meta.importance), meta.name, meta.tactic,
                                 meta.technique, p.pid, p.uid, printable(p.exe));
  if (const raqib_file_record *f = record.file)
    line += fmt::format(" file={} ({}) x{}", printable(f->path), fmt::join(actionNames(f->actions), ","),
                        f->count);
  if (record.ancestry_len) {
    line += " via";
    for (uint32_t i = 0; i < record.ancestry_len; i++)
      line += fmt::format(" {}{}({})", i ? "<" : "", printable(record.ancestry[i].comm),
                          record.ancestry[i].pid);
  }
  return line;
}

}  // namespace raqib
