#include "output_format.hpp"

#include "taint.hpp"

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
      {RAQIB_ACTION_OPEN, "open"},           {RAQIB_ACTION_READ, "read"},
      {RAQIB_ACTION_WRITE, "write"},         {RAQIB_ACTION_CREATE, "create"},
      {RAQIB_ACTION_TRUNCATE, "truncate"},   {RAQIB_ACTION_UNLINK, "unlink"},
      {RAQIB_ACTION_RENAME, "rename"},       {RAQIB_ACTION_LINK, "link"},
      {RAQIB_ACTION_SYMLINK, "symlink"},     {RAQIB_ACTION_CHMOD, "chmod"},
      {RAQIB_ACTION_CHOWN, "chown"},         {RAQIB_ACTION_SETCAP, "setcap"},
      {RAQIB_ACTION_MMAP_EXEC, "mmap_exec"}, {RAQIB_ACTION_EXEC, "exec"},
      {RAQIB_ACTION_MOUNT, "mount"},         {RAQIB_ACTION_UMOUNT, "umount"},
  };
  std::vector<std::string> names;
  for (auto [bit, name] : kNames)
    if (actions & bit) names.emplace_back(name);
  return names;
}

const char *importanceName(uint32_t importance) {
  switch (importance) {
    case RAQIB_IMPORTANCE_LOW:
      return "low";
    case RAQIB_IMPORTANCE_MEDIUM:
      return "medium";
    case RAQIB_IMPORTANCE_HIGH:
      return "high";
    case RAQIB_IMPORTANCE_CRITICAL:
      return "critical";
    default:
      return nullptr;
  }
}

namespace {

using Json = nlohmann::ordered_json;

std::vector<std::string> flagNames(uint32_t flags,
                                   std::initializer_list<std::pair<uint32_t, const char *>> names) {
  std::vector<std::string> out;
  for (auto [bit, name] : names)
    if (flags & bit) out.emplace_back(name);
  return out;
}

Json processJson(const raqib_process &p) {
  Json args = Json::array();
  for (uint32_t i = 0; i < p.argc; i++) args.push_back(p.args[i]);
  Json j = {
      {"pid", p.pid},
      {"ppid", p.ppid},
      {"uid", p.uid},
      {"exe", p.exe},
      {"comm", p.comm},
      {"args", std::move(args)},
      {"cgroup_id", p.cgroup_id},
      {"start", p.start_unix_ns ? Json(rfc3339(p.start_unix_ns)) : Json()},
  };
  if (p.flags & RAQIB_PROCESS_ARGS_TRUNCATED) j["args_truncated"] = true;
  if (p.exe_flags)
    j["exe_flags"] = flagNames(p.exe_flags, {{RAQIB_EXE_DELETED, "deleted"},
                                             {RAQIB_EXE_MEMFD, "memfd"},
                                             {RAQIB_EXE_HIDDEN, "hidden"},
                                             {RAQIB_EXE_LOADER, "loader"}});
  if (p.flags & (RAQIB_PROCESS_ENV_LD_PRELOAD | RAQIB_PROCESS_ENV_LD_LIBRARY_PATH |
                 RAQIB_PROCESS_ENV_LD_AUDIT))
    j["env"] = flagNames(p.flags, {{RAQIB_PROCESS_ENV_LD_PRELOAD, "LD_PRELOAD"},
                                   {RAQIB_PROCESS_ENV_LD_LIBRARY_PATH, "LD_LIBRARY_PATH"},
                                   {RAQIB_PROCESS_ENV_LD_AUDIT, "LD_AUDIT"}});
  if (p.flags & RAQIB_PROCESS_ENV_TRUNCATED) j["env_truncated"] = true;
  if (p.flags &
      (RAQIB_PROCESS_STDIN_SOCKET | RAQIB_PROCESS_STDOUT_SOCKET | RAQIB_PROCESS_STDERR_SOCKET))
    j["stdio_sockets"] = flagNames(p.flags, {{RAQIB_PROCESS_STDIN_SOCKET, "stdin"},
                                             {RAQIB_PROCESS_STDOUT_SOCKET, "stdout"},
                                             {RAQIB_PROCESS_STDERR_SOCKET, "stderr"}});
  if (p.mnt_ns || p.pid_ns || p.net_ns)
    j["namespaces"] = {{"mnt", p.mnt_ns}, {"pid", p.pid_ns}, {"net", p.net_ns}};
  return j;
}

const char *flowDirectionName(uint32_t direction) {
  switch (direction) {
    case RAQIB_FLOW_CONNECT:
      return "connect";
    case RAQIB_FLOW_ACCEPT:
      return "accept";
    case RAQIB_FLOW_FLOW:
      return "flow";
    default:
      return "unknown";
  }
}

std::string protocolName(uint32_t protocol) {
  if (protocol == 6) return "tcp";
  if (protocol == 17) return "udp";
  return std::to_string(protocol);
}

std::string dnsTypeName(uint32_t qtype) {
  switch (qtype) {
    case 1:
      return "A";
    case 2:
      return "NS";
    case 5:
      return "CNAME";
    case 6:
      return "SOA";
    case 12:
      return "PTR";
    case 15:
      return "MX";
    case 16:
      return "TXT";
    case 28:
      return "AAAA";
    case 33:
      return "SRV";
    case 65:
      return "HTTPS";
    default:
      return "TYPE" + std::to_string(qtype);
  }
}

std::string dnsRcodeName(uint32_t rcode) {
  static constexpr const char *kNames[] = {"NOERROR",  "FORMERR", "SERVFAIL",
                                           "NXDOMAIN", "NOTIMP",  "REFUSED"};
  return rcode < std::size(kNames) ? kNames[rcode] : "RCODE" + std::to_string(rcode);
}

void addFlowFields(Json &j, const raqib_flow_record &f) {
  Json names = Json::array();
  for (uint32_t i = 0; i < f.names_len; i++) names.push_back(f.names[i]);
  Json flow = {
      {"direction", flowDirectionName(f.direction)},
      {"protocol", protocolName(f.protocol)},
      {"family", f.family},
      {"local", {{"addr", f.local_addr}, {"port", f.local_port}}},
      {"remote", {{"addr", f.remote_addr}, {"port", f.remote_port}}},
      {"bytes_out", f.bytes_out},
      {"bytes_in", f.bytes_in},
      {"packets_out", f.packets_out},
      {"packets_in", f.packets_in},
      {"state", f.state},
      {"names", std::move(names)},
  };
  if (f.error) flow["error"] = f.error;
  j["flow"] = std::move(flow);
  j["count"] = f.count;
  j["first"] = rfc3339(f.first_unix_ns);
  j["last"] = rfc3339(f.last_unix_ns);
}

void addDnsFields(Json &j, const raqib_dns_record &d) {
  Json answers = Json::array();
  for (uint32_t i = 0; i < d.answers_len; i++) answers.push_back(d.answers[i]);
  Json dns = {
      {"name", d.name},
      {"type", dnsTypeName(d.qtype)},
      {"answers", std::move(answers)},
      {"rcode", d.responses ? Json(dnsRcodeName(d.rcode)) : Json()},
      {"queries", d.queries},
      {"responses", d.responses},
  };
  if (d.flags & RAQIB_DNS_NAME_TRUNCATED) dns["name_truncated"] = true;
  if (d.flags & RAQIB_DNS_ANSWERS_TRUNCATED) dns["answers_truncated"] = true;
  j["dns"] = std::move(dns);
  j["count"] = d.queries;
  j["first"] = rfc3339(d.first_unix_ns);
  j["last"] = rfc3339(d.last_unix_ns);
}

// The process, its ancestry and the fields of the record's own kind.
void addRecordFields(Json &j, const raqib_record &record, const std::string &host) {
  j["process"] = processJson(*record.process);
  Json ancestry = Json::array();
  for (uint32_t i = 0; i < record.ancestry_len; i++) {
    const raqib_process &a = record.ancestry[i];
    ancestry.push_back({{"pid", a.pid}, {"exe", a.exe}, {"comm", a.comm}});
  }
  j["ancestry"] = std::move(ancestry);
  j["host"] = host;
  if (const raqib_file_record *f = record.file) {
    Json file = {{"path", f->path}, {"actions", actionNames(f->actions)}};
    if (f->other_path) file["other_path"] = f->other_path;
    if (f->watched_path) file["watched_path"] = f->watched_path;
    for (const PathFlagName &flag : kPathFlagNames)
      if (f->path_flags & flag.bit) file[flag.name] = true;
    if (f->error) file["error"] = f->error;
    j["file"] = std::move(file);
    j["count"] = f->count;
    j["first"] = rfc3339(f->first_unix_ns);
    j["last"] = rfc3339(f->last_unix_ns);
  }
  if (const raqib_exec_record *e = record.exec) {
    Json exec = {{"events", flagNames(e->events, {{RAQIB_EXEC_FORKED, "fork"},
                                                  {RAQIB_EXEC_EXECED, "exec"},
                                                  {RAQIB_EXEC_EXITED, "exit"},
                                                  {RAQIB_EXEC_UNSHARED, "unshare"},
                                                  {RAQIB_EXEC_SETNS, "setns"}})}};
    if (e->events & RAQIB_EXEC_EXECED) exec["exec_time"] = rfc3339(e->exec_unix_ns);
    if (e->events & RAQIB_EXEC_EXITED) {
      exec["exit_time"] = rfc3339(e->exit_unix_ns);
      if (e->exit_code & 0x7f)  // the wait status of a process killed by a signal
        exec["exit_signal"] = e->exit_code & 0x7f;
      else
        exec["exit_code"] = (e->exit_code >> 8) & 0xff;
    }
    j["exec"] = std::move(exec);
  }
  if (const raqib_flow_record *f = record.flow) addFlowFields(j, *f);
  if (const raqib_dns_record *d = record.dns) addDnsFields(j, *d);
}

// Paths are bytes, not always UTF-8: replace what is not, never throw. A
// tainted host says so in every record.
std::string dump(Json j) {
  if (hostTainted()) j["tainted"] = true;
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const char *recordTypeName(uint32_t kind) {
  switch (kind) {
    case RAQIB_RECORD_EXEC:
      return "exec";
    case RAQIB_RECORD_FILE:
      return "file";
    case RAQIB_RECORD_FLOW:
      return "flow";
    case RAQIB_RECORD_DNS:
      return "dns";
    default:
      return "unknown";
  }
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
  Json j = {
      {"uuid", meta.uuid},           {"time", rfc3339(meta.time_unix_ns)},
      {"kind", "detection"},         {"name", meta.name},
      {"plugin", meta.plugin},       {"tactic", meta.tactic},
      {"technique", meta.technique}, {"importance", importanceName(meta.importance)},
  };
  addRecordFields(j, record, meta.host);
  return dump(std::move(j));
}

std::string tamperJson(Json fields, const raqib_record *actor, const std::string &host) {
  if (actor) {
    addRecordFields(fields, *actor, host);
  } else {
    fields["process"] = nullptr;
    fields["ancestry"] = Json::array();
    fields["host"] = host;
  }
  return dump(std::move(fields));
}

std::string infoJson(const raqib_record &record, int64_t time_unix_ns, const std::string &host) {
  Json j = {
      {"time", rfc3339(time_unix_ns)}, {"kind", "info"}, {"type", recordTypeName(record.kind)}};
  addRecordFields(j, record, host);
  return dump(std::move(j));
}

std::string infoText(const raqib_record &record, int64_t time_unix_ns) {
  const raqib_process &p = *record.process;
  std::string line =
      fmt::format("{} info {} pid={} ppid={} uid={} exe={}", rfc3339(time_unix_ns),
                  recordTypeName(record.kind), p.pid, p.ppid, p.uid, printable(p.exe));
  if (const raqib_file_record *f = record.file)
    line += fmt::format(" file={}{}{} ({}) x{}", printable(f->path), f->other_path ? " -> " : "",
                        f->other_path ? printable(f->other_path) : "",
                        fmt::join(actionNames(f->actions), ","), f->count);
  if (const raqib_exec_record *e = record.exec) {
    if (e->events & RAQIB_EXEC_EXECED) line += " exec";
    if (e->events & RAQIB_EXEC_EXITED) line += fmt::format(" exit={}", e->exit_code);
  }
  if (const raqib_flow_record *f = record.flow) {
    line += fmt::format(" {} {} {}:{} -> {}:{}", flowDirectionName(f->direction),
                        protocolName(f->protocol), printable(f->local_addr), f->local_port,
                        printable(f->remote_addr), f->remote_port);
    if (f->direction == RAQIB_FLOW_FLOW)
      line += fmt::format(" out={}B/{}p in={}B/{}p", f->bytes_out, f->packets_out, f->bytes_in,
                          f->packets_in);
    if (*f->state) line += fmt::format(" state={}", f->state);
    for (uint32_t i = 0; i < f->names_len; i++)
      line += fmt::format("{}{}", i ? "," : " names=", printable(f->names[i]));
    if (f->direction != RAQIB_FLOW_FLOW) line += fmt::format(" x{}", f->count);
  }
  if (const raqib_dns_record *d = record.dns) {
    line += fmt::format(" dns {} {}", printable(d->name), dnsTypeName(d->qtype));
    if (d->responses) line += fmt::format(" {}", dnsRcodeName(d->rcode));
    for (uint32_t i = 0; i < d->answers_len; i++)
      line += fmt::format("{}{}", i ? "," : " -> ", d->answers[i]);
    line += fmt::format(" x{}", d->queries);
  }
  return line;
}

std::string detectionText(const DetectionMeta &meta, const raqib_record &record) {
  const raqib_process &p = *record.process;
  std::string line =
      fmt::format("{} {} {} [{} {}] pid={} uid={} exe={}", rfc3339(meta.time_unix_ns),
                  importanceName(meta.importance), meta.name, meta.tactic, meta.technique, p.pid,
                  p.uid, printable(p.exe));
  if (const raqib_file_record *f = record.file)
    line += fmt::format(" file={} ({}) x{}", printable(f->path),
                        fmt::join(actionNames(f->actions), ","), f->count);
  if (record.ancestry_len) {
    line += " via";
    for (uint32_t i = 0; i < record.ancestry_len; i++)
      line += fmt::format(" {}{}({})", i ? "<" : "", printable(record.ancestry[i].comm),
                          record.ancestry[i].pid);
  }
  return line;
}

}  // namespace raqib
