#include "process_table.hpp"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unordered_set>

#include <fmt/format.h>
#include <raqib/plugin_api.h>

namespace raqib {

namespace fs = std::filesystem;

uint64_t bootNowNs() {
  timespec ts{};
  clock_gettime(CLOCK_BOOTTIME, &ts);
  return uint64_t(ts.tv_sec) * 1000000000ull + ts.tv_nsec;
}

int64_t bootToUnixOffsetNs() {
  timespec rt{};
  clock_gettime(CLOCK_REALTIME, &rt);
  int64_t real = int64_t(rt.tv_sec) * 1000000000ll + rt.tv_nsec;
  return real - int64_t(bootNowNs());
}

uint32_t exeFlags(std::string_view exe, bool deleted) {
  uint32_t flags = deleted ? RAQIB_EXE_DELETED : 0;
  if (exe.rfind("/memfd:", 0) == 0) flags |= RAQIB_EXE_MEMFD;
  if (exe.find("/.") != std::string_view::npos) flags |= RAQIB_EXE_HIDDEN;
  std::string_view base = exe.substr(exe.rfind('/') + 1);
  if (base.rfind("ld-linux", 0) == 0 || base.rfind("ld-musl", 0) == 0 ||
      (base.rfind("ld-", 0) == 0 && base.find(".so") != std::string_view::npos))
    flags |= RAQIB_EXE_LOADER;
  return flags;
}

std::vector<std::string> splitArgs(const char *bytes, size_t len, bool &truncated) {
  std::vector<std::string> args;
  size_t start = 0;
  for (size_t i = 0; i <= len && args.size() < kMaxArgs; i++) {
    if (i == len || bytes[i] == '\0') {
      if (i > start || i < len) args.emplace_back(bytes + start, i - start);
      start = i + 1;
    }
  }
  if (start < len) truncated = true;  // more arguments than kMaxArgs
  return args;
}

std::string cgroup2Root() {
  std::ifstream in("/proc/self/mountinfo");
  std::string line;
  while (std::getline(in, line)) {
    auto dash = line.find(" - cgroup2 ");
    if (dash == std::string::npos) continue;
    std::istringstream fields(line);
    std::string id, parent, dev, root, mount_point;
    fields >> id >> parent >> dev >> root >> mount_point;
    return mount_point;
  }
  return {};
}

namespace {

std::string readFile(const fs::path &path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// Two start times that differ by less than this are the same process: /proc
// gives them in clock ticks, the kernel hooks in nanoseconds.
uint64_t startTolerance() {
  return 2 * (1000000000ull / sysconf(_SC_CLK_TCK));
}

bool sameStart(uint64_t a, uint64_t b) {
  return (a > b ? a - b : b - a) < startTolerance();
}

// Whether p started at start (a kernel record's): exactly, once p's start
// came from the kernel too (its image is known); within /proc's precision
// for a process seeded from there. Two processes can get one pid within a
// clock tick.
bool startedAt(const ProcessInfo &p, uint64_t start) {
  return p.exec_seq ? p.start_boot_ns == start : sameStart(p.start_boot_ns, start);
}

// The cgroup v2 id (the inode of its directory) from /proc/PID/cgroup.
uint64_t cgroupId(const fs::path &proc_dir, const std::string &cgroup_root) {
  if (cgroup_root.empty()) return 0;
  std::istringstream in(readFile(proc_dir / "cgroup"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("0::", 0) != 0) continue;
    struct stat st {};
    if (stat((cgroup_root + line.substr(3)).c_str(), &st) == 0) return st.st_ino;
  }
  return 0;
}

// The inode number of /proc/PID/ns/NAME ("mnt:[4026531841]"), or 0.
uint32_t namespaceId(const fs::path &proc_dir, const char *name) {
  std::error_code ec;
  std::string link = fs::read_symlink(proc_dir / "ns" / name, ec).string();
  auto open = link.find('[');
  return open == std::string::npos ? 0 : std::strtoul(link.c_str() + open + 1, nullptr, 10);
}

std::optional<ProcessInfo> readProc(const fs::path &dir, uint32_t pid,
                                    const std::string &cgroup_root) {
  ProcessInfo p;
  p.pid = pid;
  std::string stat = readFile(dir / "stat");
  auto open = stat.find('('), close = stat.rfind(')');
  if (open == std::string::npos || close == std::string::npos || close < open) return std::nullopt;
  p.comm = stat.substr(open + 1, close - open - 1);
  std::istringstream rest(stat.substr(close + 2));
  std::string field;
  std::vector<std::string> fields;
  while (rest >> field) fields.push_back(field);
  // After "pid (comm)": state is field 3, ppid 4, starttime 22.
  if (fields.size() < 20) return std::nullopt;
  p.ppid = std::strtoul(fields[1].c_str(), nullptr, 10);
  p.start_boot_ns =
      std::strtoull(fields[19].c_str(), nullptr, 10) * (1000000000ull / sysconf(_SC_CLK_TCK));

  std::istringstream status(readFile(dir / "status"));
  std::string line;
  while (std::getline(status, line)) {
    std::istringstream l(line);
    std::string key;
    l >> key;
    if (key == "Uid:") l >> p.uid >> p.euid;
    if (key == "Gid:") l >> p.gid;
  }
  std::string cmdline = readFile(dir / "cmdline");
  p.args = splitArgs(cmdline.data(), cmdline.size(), p.args_truncated);
  std::error_code ec;
  p.exe = fs::read_symlink(dir / "exe", ec).string();
  constexpr std::string_view kDeleted = " (deleted)";
  bool deleted = p.exe.size() > kDeleted.size() && p.exe.ends_with(kDeleted);
  if (deleted) p.exe.resize(p.exe.size() - kDeleted.size());
  p.exe_flags = exeFlags(p.exe, deleted);
  p.cgroup_id = cgroupId(dir, cgroup_root);
  p.mnt_ns = namespaceId(dir, "mnt");
  p.pid_ns = namespaceId(dir, "pid_for_children");
  p.net_ns = namespaceId(dir, "net");
  return p;
}

}  // namespace

Status ProcessTable::seedFromProc(const std::string &proc_root) {
  std::error_code ec;
  fs::directory_iterator it(proc_root, ec);
  if (ec) return Error{fmt::format("{}: cannot list processes: {}", proc_root, ec.message())};
  std::string cgroup_root = cgroup2Root();
  for (const auto &entry : it) {
    const std::string name = entry.path().filename();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) continue;
    uint32_t pid = std::strtoul(name.c_str(), nullptr, 10);
    if (auto p = readProc(entry.path(), pid, cgroup_root)) procs_[pid] = std::move(*p);
  }
  return Ok{};
}

namespace {
// (RAQIB_PROC_*, RAQIB_PROCESS_*)
constexpr std::pair<uint32_t, uint32_t> kExecFlagBits[] = {
    {RAQIB_PROC_ENV_LD_PRELOAD, RAQIB_PROCESS_ENV_LD_PRELOAD},
    {RAQIB_PROC_ENV_LD_LIBRARY_PATH, RAQIB_PROCESS_ENV_LD_LIBRARY_PATH},
    {RAQIB_PROC_ENV_LD_AUDIT, RAQIB_PROCESS_ENV_LD_AUDIT},
    {RAQIB_PROC_ENV_TRUNCATED, RAQIB_PROCESS_ENV_TRUNCATED},
    {RAQIB_PROC_STDIN_INET, RAQIB_PROCESS_STDIN_SOCKET},
    {RAQIB_PROC_STDOUT_INET, RAQIB_PROCESS_STDOUT_SOCKET},
    {RAQIB_PROC_STDERR_INET, RAQIB_PROCESS_STDERR_SOCKET},
};
}  // namespace

uint32_t execFlags(uint32_t proc_flags) {
  uint32_t out = 0;
  for (auto [kernel, sdk] : kExecFlagBits)
    if (proc_flags & kernel) out |= sdk;
  return out;
}

uint32_t procFlags(uint32_t exec_flags) {
  uint32_t out = 0;
  for (auto [kernel, sdk] : kExecFlagBits)
    if (exec_flags & sdk) out |= kernel;
  return out;
}

void ProcessTable::keepReplaced(const ProcessInfo &p, uint64_t now_boot_ns) {
  replaced_[p.pid].emplace_back(p, now_boot_ns);
  replaced_count_++;
}

void ProcessTable::apply(const raqib_proc &rec, const std::string &exe) {
  auto [it, inserted] = procs_.try_emplace(rec.tgid);
  ProcessInfo &p = it->second;
  if (!inserted && rec.start_ns && p.start_boot_ns && !startedAt(p, rec.start_ns)) {
    keepReplaced(p, rec.start_ns);  // the pid was reused
    p = ProcessInfo{};
  } else if (!inserted && p.pid != 0 &&
             (p.exec_seq ? *p.exec_seq != rec.exec_seq : bool(rec.flags & RAQIB_PROC_EXECED))) {
    if (p.exec_seq && rec.exec_seq < *p.exec_seq) {
      // An older image reached the table after a newer one (the exec lane
      // and the context map are taken out one after the other, a grace
      // period apart): it is kept for the records it made; the newer one
      // stays current.
      ProcessInfo older = p;
      fill(older, rec, exe);
      keepReplaced(older, rec.exec_ns ? rec.exec_ns : bootNowNs());
      return;
    }
    keepReplaced(p, rec.exec_ns ? rec.exec_ns : bootNowNs());  // an exec replaced its image
  }
  fill(p, rec, exe);
}

void ProcessTable::fill(ProcessInfo &p, const raqib_proc &rec, const std::string &exe) const {
  p.exec_seq = rec.exec_seq;
  bool fresh = p.pid == 0;
  p.pid = rec.tgid;
  p.ppid = rec.ppid;
  p.uid = rec.uid;
  p.euid = rec.euid;
  p.gid = rec.gid;
  p.cgroup_id = rec.cgroup_id;
  p.mnt_ns = rec.mnt_ns;
  p.pid_ns = rec.pid_ns;
  p.net_ns = rec.net_ns;
  if (rec.start_ns) p.start_boot_ns = rec.start_ns;
  if (rec.comm[0]) p.comm.assign(rec.comm, strnlen(rec.comm, sizeof rec.comm));

  if (fresh && (rec.flags & RAQIB_PROC_FORKED)) {
    // A forked child runs its parent's image until it execs.
    if (const ProcessInfo *parent = find(rec.ppid)) {
      p.exe = parent->exe;
      p.exe_flags = parent->exe_flags;
      p.exec_flags = parent->exec_flags;
      p.args = parent->args;
      p.args_truncated = parent->args_truncated;
    }
  }
  if (rec.flags & RAQIB_PROC_EXECED) {
    p.exe = exe;
    p.exe_flags = exeFlags(exe, rec.flags & RAQIB_PROC_EXE_DELETED);
    p.exec_flags = execFlags(rec.flags);
    p.args_truncated = rec.flags & RAQIB_PROC_ARGS_TRUNCATED;
    p.args = splitArgs(rec.args, std::min<size_t>(rec.args_len, sizeof rec.args), p.args_truncated);
  }
  if (rec.flags & RAQIB_PROC_EXITED) {
    p.exit_boot_ns = rec.exit_ns;
    p.exit_code = rec.exit_code;
  }
}

const ProcessInfo *ProcessTable::find(uint32_t pid) const {
  auto it = procs_.find(pid);
  return it == procs_.end() ? nullptr : &it->second;
}

const ProcessInfo *ProcessTable::findImage(uint32_t pid, const ImageRef &image) const {
  const ProcessInfo *current = find(pid);
  auto matches = [&](const ProcessInfo &p) {
    return startedAt(p, image.start_boot_ns) && (!p.exec_seq || *p.exec_seq == image.exec_seq);
  };
  if (current && matches(*current)) return current;
  if (auto it = replaced_.find(pid); it != replaced_.end())
    for (auto r = it->second.rbegin(); r != it->second.rend(); ++r)
      if (matches(r->first)) return &r->first;
  return current;
}

std::vector<const ProcessInfo *> ProcessTable::ancestry(uint32_t pid) const {
  std::vector<const ProcessInfo *> chain;
  std::unordered_set<uint32_t> seen{pid};
  const ProcessInfo *p = find(pid);
  while (p && p->pid > 1 && p->ppid != 0 && seen.insert(p->ppid).second) {
    p = find(p->ppid);
    if (p) chain.push_back(p);
  }
  return chain;
}

size_t ProcessTable::reconcile(const std::vector<raqib_live_task> &live, uint64_t now_boot_ns) {
  std::unordered_map<uint32_t, uint64_t> started;
  started.reserve(live.size());
  for (const auto &t : live) started.emplace(t.tgid, t.start_ns);
  size_t gone = 0;
  for (auto &[pid, p] : procs_) {
    if (p.exit_boot_ns) continue;
    auto it = started.find(pid);
    if (it != started.end() && (!p.start_boot_ns || sameStart(p.start_boot_ns, it->second)))
      continue;
    p.exit_boot_ns = now_boot_ns;
    gone++;
  }
  return gone;
}

void ProcessTable::expire(uint64_t now_boot_ns, std::chrono::nanoseconds keep) {
  std::erase_if(procs_, [&](const auto &entry) {
    const auto &exit = entry.second.exit_boot_ns;
    return exit && *exit + uint64_t(keep.count()) < now_boot_ns;
  });
  for (auto it = replaced_.begin(); it != replaced_.end();) {
    replaced_count_ -= std::erase_if(it->second, [&](const auto &image) {
      return image.second + uint64_t(keep.count()) < now_boot_ns;
    });
    it = it->second.empty() ? replaced_.erase(it) : std::next(it);
  }
}

}  // namespace raqib
