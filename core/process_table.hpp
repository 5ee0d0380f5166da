// The core's view of every process: seeded from /proc at start (so processes
// older than raqib have ancestry), then kept current from the exec map.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <string>
#include <unordered_map>
#include <vector>

#include "raqib/records.h"
#include "result.hpp"

namespace raqib {

inline constexpr size_t kMaxArgs = 16;  // arguments kept per process

struct ProcessInfo {
  uint32_t pid = 0;
  uint32_t ppid = 0;
  uint32_t uid = 0;
  uint32_t euid = 0;
  uint32_t gid = 0;
  std::string exe;
  std::string comm;
  std::vector<std::string> args;
  bool args_truncated = false;
  uint64_t cgroup_id = 0;
  uint32_t mnt_ns = 0;  // namespace inode numbers
  uint32_t pid_ns = 0;
  uint32_t net_ns = 0;
  uint32_t exe_flags = 0;      // RAQIB_EXE_*
  uint32_t exec_flags = 0;     // RAQIB_PROCESS_ENV_* and _STD*_SOCKET of the last exec
  uint64_t start_boot_ns = 0;  // CLOCK_BOOTTIME
  std::optional<uint64_t> exit_boot_ns;
  int32_t exit_code = 0;
  std::optional<uint32_t> exec_seq;  // which image (raqib_image); unknown when seeded from /proc
};

// The image a record names: the process's start and which exec of it.
struct ImageRef {
  uint64_t start_boot_ns = 0;
  uint32_t exec_seq = 0;
};

// RAQIB_EXE_* flags of an executable's canonical path (deleted: it had no
// links left).
uint32_t exeFlags(std::string_view exe, bool deleted);

// The RAQIB_PROCESS_ENV_* and RAQIB_PROCESS_STD*_SOCKET flags of a proc record's flags.
uint32_t execFlags(uint32_t proc_flags);
// The other way: the proc record flags (RAQIB_PROC_*) behind those flags.
uint32_t procFlags(uint32_t exec_flags);

// Split a NUL-separated argv of len bytes into at most kMaxArgs arguments;
// truncated is set when arguments were left out or cut.
std::vector<std::string> splitArgs(const char *bytes, size_t len, bool &truncated);

class ProcessTable {
 public:
  // Read every process of proc_root. Processes that vanish meanwhile are skipped.
  Status seedFromProc(const std::string &proc_root = "/proc");

  // Merge one drained exec-map record; exe is its resolved exe path.
  void apply(const raqib_proc &rec, const std::string &exe);

  const ProcessInfo *find(uint32_t pid) const;

  // The image of pid that image names: the current one, or one it replaced
  // (by an exec, or as an earlier process with the same pid) that is still
  // kept; the current one when neither matches.
  const ProcessInfo *findImage(uint32_t pid, const ImageRef &image) const;

  // Parent first, up to pid 1; stops at an unknown pid or a loop.
  std::vector<const ProcessInfo *> ancestry(uint32_t pid) const;

  // Mark exited (at now) every process not in live, the kernel's list of
  // processes, or whose pid now belongs to a later process. Returns how many.
  size_t reconcile(const std::vector<raqib_live_task> &live, uint64_t now_boot_ns);

  // Forget processes that exited, and images replaced, more than keep
  // before now.
  void expire(uint64_t now_boot_ns, std::chrono::nanoseconds keep);

  size_t size() const { return procs_.size() + replaced_count_; }

 private:
  // p takes rec's facts (exe: its executable's path when it exec'd).
  void fill(ProcessInfo &p, const raqib_proc &rec, const std::string &exe) const;
  // Keep p's image, about to be replaced at now, for the records it made.
  void keepReplaced(const ProcessInfo &p, uint64_t now_boot_ns);

  std::unordered_map<uint32_t, ProcessInfo> procs_;
  // Images replaced by an exec or a reused pid, per pid, with when.
  std::unordered_map<uint32_t, std::vector<std::pair<ProcessInfo, uint64_t>>> replaced_;
  size_t replaced_count_ = 0;
};

// The cgroup v2 mount point, from /proc/self/mountinfo; "" when none.
std::string cgroup2Root();

// CLOCK_BOOTTIME now, in ns.
uint64_t bootNowNs();
// Add to a CLOCK_BOOTTIME instant to get ns since the Unix epoch.
int64_t bootToUnixOffsetNs();

}  // namespace raqib
