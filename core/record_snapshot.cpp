#include "record_snapshot.hpp"

namespace raqib {

std::shared_ptr<RecordSnapshot> RecordSnapshot::about(const ProcessTable &table, uint32_t pid,
                                                      uint32_t kind, int64_t boot_to_unix_ns,
                                                      std::optional<ImageRef> image) {
  std::shared_ptr<RecordSnapshot> s(new RecordSnapshot());
  const ProcessInfo *p = image ? table.findImage(pid, *image) : table.find(pid);
  ProcessInfo unknown;
  unknown.pid = pid;
  s->addProcess(p ? *p : unknown, boot_to_unix_ns);
  for (const ProcessInfo *a : table.ancestry(pid)) s->addProcess(*a, boot_to_unix_ns);
  s->record_.kind = kind;
  return s;
}

std::shared_ptr<const RecordSnapshot> RecordSnapshot::file(const ProcessTable &table, uint32_t pid,
                                                           FileActivity activity,
                                                           int64_t boot_to_unix_ns,
                                                           std::optional<ImageRef> image) {
  auto s = about(table, pid, RAQIB_RECORD_FILE, boot_to_unix_ns, image);
  s->file_activity_ = std::move(activity);
  const FileActivity &a = s->file_activity_;
  s->file_.struct_size = sizeof s->file_;
  s->file_.actions = a.actions;
  s->file_.path = a.path.c_str();
  s->file_.path_flags = a.path_flags;
  s->file_.error = a.error;
  s->file_.count = a.count;
  s->file_.first_unix_ns = a.first_unix_ns;
  s->file_.last_unix_ns = a.last_unix_ns;
  s->file_.other_path = a.other_path ? a.other_path->c_str() : nullptr;
  s->file_.watched_path = a.watched_path ? a.watched_path->c_str() : nullptr;
  s->record_.file = &s->file_;
  s->link();
  return s;
}

std::shared_ptr<const RecordSnapshot> RecordSnapshot::exec(const ProcessTable &table, uint32_t pid,
                                                           ExecActivity activity,
                                                           int64_t boot_to_unix_ns,
                                                           std::optional<ImageRef> image) {
  auto s = about(table, pid, RAQIB_RECORD_EXEC, boot_to_unix_ns, image);
  s->exec_activity_ = activity;
  s->exec_.struct_size = sizeof s->exec_;
  s->exec_.events = activity.events;
  s->exec_.exit_code = activity.exit_code;
  s->exec_.exec_unix_ns = activity.exec_unix_ns;
  s->exec_.exit_unix_ns = activity.exit_unix_ns;
  s->record_.exec = &s->exec_;
  s->link();
  return s;
}

std::shared_ptr<const RecordSnapshot> RecordSnapshot::flow(const ProcessTable &table, uint32_t pid,
                                                           FlowActivity activity,
                                                           int64_t boot_to_unix_ns,
                                                           std::optional<ImageRef> image) {
  auto s = about(table, pid, RAQIB_RECORD_FLOW, boot_to_unix_ns, image);
  s->flow_activity_ = std::move(activity);
  const FlowActivity &a = s->flow_activity_;
  for (const auto &n : a.names) s->flow_names_.push_back(n.c_str());
  raqib_flow_record &f = s->flow_;
  f.struct_size = sizeof f;
  f.direction = a.direction;
  f.protocol = a.protocol;
  f.family = a.family;
  f.local_addr = a.local_addr.c_str();
  f.remote_addr = a.remote_addr.c_str();
  f.local_port = a.local_port;
  f.remote_port = a.remote_port;
  f.bytes_out = a.bytes_out;
  f.bytes_in = a.bytes_in;
  f.packets_out = a.packets_out;
  f.packets_in = a.packets_in;
  f.state = a.state.c_str();
  f.names = s->flow_names_.data();
  f.names_len = static_cast<uint32_t>(s->flow_names_.size());
  f.error = a.error;
  f.count = a.count;
  f.first_unix_ns = a.first_unix_ns;
  f.last_unix_ns = a.last_unix_ns;
  s->record_.flow = &s->flow_;
  s->link();
  return s;
}

std::shared_ptr<const RecordSnapshot> RecordSnapshot::dns(const ProcessTable &table, uint32_t pid,
                                                          DnsActivity activity,
                                                          int64_t boot_to_unix_ns) {
  auto s = about(table, pid, RAQIB_RECORD_DNS, boot_to_unix_ns);
  s->dns_activity_ = std::move(activity);
  const DnsActivity &a = s->dns_activity_;
  for (const auto &n : a.answers) s->dns_answers_.push_back(n.c_str());
  raqib_dns_record &d = s->dns_;
  d.struct_size = sizeof d;
  d.qtype = a.qtype;
  d.name = a.name.c_str();
  d.answers = s->dns_answers_.data();
  d.answers_len = static_cast<uint32_t>(s->dns_answers_.size());
  d.rcode = a.rcode;
  d.flags = a.flags;
  d.queries = a.queries;
  d.responses = a.responses;
  d.first_unix_ns = a.first_unix_ns;
  d.last_unix_ns = a.last_unix_ns;
  s->record_.dns = &s->dns_;
  s->link();
  return s;
}

std::shared_ptr<const RecordSnapshot> RecordSnapshot::actor(const ProcessTable &table, uint32_t pid,
                                                            int64_t boot_to_unix_ns) {
  auto s = about(table, pid, RAQIB_RECORD_TAMPER, boot_to_unix_ns);
  s->link();
  return s;
}

void RecordSnapshot::addProcess(const ProcessInfo &p, int64_t boot_to_unix_ns) {
  owned_.push_back({p.exe, p.comm, p.args, {}});
  raqib_process v{};
  v.struct_size = sizeof v;
  v.pid = p.pid;
  v.ppid = p.ppid;
  v.uid = p.uid;
  v.euid = p.euid;
  v.gid = p.gid;
  v.flags = (p.args_truncated ? RAQIB_PROCESS_ARGS_TRUNCATED : 0) |
            (p.exit_boot_ns ? RAQIB_PROCESS_EXITED : 0) | p.exec_flags;
  v.cgroup_id = p.cgroup_id;
  v.start_unix_ns = p.start_boot_ns ? unixNsOfBoot(p.start_boot_ns, boot_to_unix_ns) : 0;
  v.mnt_ns = p.mnt_ns;
  v.pid_ns = p.pid_ns;
  v.net_ns = p.net_ns;
  v.exe_flags = p.exe_flags;
  procs_.push_back(v);
}

void RecordSnapshot::link() {
  for (size_t i = 0; i < owned_.size(); i++) {
    OwnedProcess &o = owned_[i];
    for (const auto &a : o.args) o.argv.push_back(a.c_str());
    procs_[i].exe = o.exe.c_str();
    procs_[i].comm = o.comm.c_str();
    procs_[i].args = o.argv.data();
    procs_[i].argc = static_cast<uint32_t>(o.argv.size());
  }
  record_.struct_size = sizeof record_;
  record_.process = &procs_[0];
  record_.ancestry = procs_.size() > 1 ? &procs_[1] : nullptr;
  record_.ancestry_len = static_cast<uint32_t>(procs_.size() - 1);
}

}  // namespace raqib
