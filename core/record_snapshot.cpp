#include "record_snapshot.hpp"

namespace raqib {

std::shared_ptr<const RecordSnapshot> RecordSnapshot::file(const ProcessTable &table, uint32_t pid,
                                                           FileActivity activity,
                                                           int64_t boot_to_unix_ns) {
  std::shared_ptr<RecordSnapshot> s(new RecordSnapshot());
  const ProcessInfo *p = table.find(pid);
  ProcessInfo unknown;
  unknown.pid = pid;
  s->addProcess(p ? *p : unknown, boot_to_unix_ns);
  for (const ProcessInfo *a : table.ancestry(pid)) s->addProcess(*a, boot_to_unix_ns);
  s->activity_ = std::move(activity);
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
            (p.exit_boot_ns ? RAQIB_PROCESS_EXITED : 0);
  v.cgroup_id = p.cgroup_id;
  v.start_unix_ns = p.start_boot_ns ? int64_t(p.start_boot_ns) + boot_to_unix_ns : 0;
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
  file_.struct_size = sizeof file_;
  file_.actions = activity_.actions;
  file_.path = activity_.path.c_str();
  file_.path_flags = activity_.path_flags;
  file_.error = activity_.error;
  file_.count = activity_.count;
  file_.first_unix_ns = activity_.first_unix_ns;
  file_.last_unix_ns = activity_.last_unix_ns;
  record_.struct_size = sizeof record_;
  record_.kind = RAQIB_RECORD_FILE;
  record_.process = &procs_[0];
  record_.ancestry = procs_.size() > 1 ? &procs_[1] : nullptr;
  record_.ancestry_len = static_cast<uint32_t>(procs_.size() - 1);
  record_.file = &file_;
}

}  // namespace raqib
