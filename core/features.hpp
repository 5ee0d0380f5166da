// What this kernel lets raqib use: each hook type, and each kfunc raqib calls
// where the kernel has it, is tried for real (load and attach a trivial
// program), since "supported" and "allowed here" differ (fentry and lsm load
// nowhere on these machines, EPERM).
#pragma once

#include <string>
#include <string_view>
#include <vector>

struct btf;

namespace raqib {

// The kfunc the tamper checks resolve ptrace and process_vm_* targets with
// (Linux 6.13 and later).
inline constexpr const char *kTaskFromVpid = "bpf_task_from_vpid";

// Tests only: the probe of this name ("bpf_task_from_vpid", ...) counts as
// refused, so a test can take its fallback on a kernel that has the hook.
inline constexpr const char *kRefuseProbeEnv = "RAQIB_TEST_REFUSE_PROBE";

struct HookSupport {
  std::string hook;  // "tp_btf", "fentry", ..., or a kfunc's name
  bool kfunc = false;
  bool usable = false;
  std::string detail;  // the error, when not usable
  std::string role;    // what raqib uses it for, or the fallback it takes
};

std::vector<HookSupport> probeHooks();

// Whether the kernel's BTF (vmlinux; null: none) has a type of that name and
// kind (BTF_KIND_*).
bool btfHas(const btf *vmlinux, const char *name, int kind);

// Whether the row called hook is usable.
bool hookUsable(const std::vector<HookSupport> &hooks, std::string_view hook);

// The table `raqib --features` prints.
std::string featuresTable(const std::vector<HookSupport> &hooks);

// The table of the entries to a file action (syscall ABIs, io_uring, ...)
// and whether raqib records an action taken through each.
std::string entriesTable();

}  // namespace raqib
