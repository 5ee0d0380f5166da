#include "features.hpp"

#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdlib>

#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "probe.skel.h"
#include "process_table.hpp"

namespace raqib {

namespace {

struct Probe {
  const char *hook;
  bool kfunc;
  const char *program;
  const char *used_for;  // when usable
  const char *fallback;  // when not
};

constexpr Probe kProbes[] = {
    {"tp_btf", false, "probe_tp_btf",
     "process fork/exec/exit, ia32 file syscalls (raw sys_exit), io_uring file operations, "
     "watched inodes changed by name (ext4_mark_inode_dirty, writeback_mark_inode_dirty)",
     "none: raqib needs tp_btf"},
    {"tracepoint", false, "probe_tracepoint", "file syscalls (entry and exit)",
     "none: raqib needs syscall tracepoints"},
    {"raw_tp", false, "probe_raw_tp", "not needed while tp_btf works", "-"},
    {"fentry", false, "probe_fentry", "not used",
     "file paths come from syscall tracepoints and the dentry walk"},
    {"lsm", false, "probe_lsm", "not used",
     "no in-kernel enforcement; activity is observed, not blocked"},
    {"kprobe", false, "probe_kprobe", "not used",
     "names passed to unlink/rename/link/chmod/... are joined to their canonical directory "
     "(path_lexical)"},
    {"cgroup_skb", false, "probe_cgroup_skb", "network flows and DNS", "no flow or DNS records"},
    {"cgroup_sock_addr", false, "probe_cgroup_connect", "outgoing connects", "no connect records"},
    {kTaskFromVpid, true, "probe_task_from_vpid",
     "ptrace and process_vm_* targets resolved in the caller's pid namespace (tamper)",
     "ptrace and process_vm_* targets compared with raqib's kernel pids, for callers in the "
     "initial pid namespace only: one in another pid namespace naming raqib by its number there "
     "is missed"},
};

// Load probe alone and attach it; "" when both work, else the error.
std::string tryHook(const Probe &probe, const std::string &cgroup_root) {
  std::unique_ptr<probe_bpf, decltype(&probe_bpf__destroy)> skel(probe_bpf__open(),
                                                                 probe_bpf__destroy);
  if (!skel) return fmt::format("open: {}", std::strerror(errno));
  if (probe.kfunc) {  // its load would only say EINVAL
    std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), btf__free);
    if (vmlinux && btf__find_by_name_kind(vmlinux.get(), probe.hook, BTF_KIND_FUNC) < 0)
      return fmt::format("this kernel has no kfunc {}", probe.hook);
  }
  bpf_program *target = nullptr, *p;
  bpf_object__for_each_program(p, skel->obj) {
    bool is_target = std::strcmp(bpf_program__name(p), probe.program) == 0;
    bpf_program__set_autoload(p, is_target);
    if (is_target) target = p;
  }
  if (int err = probe_bpf__load(skel.get()); err < 0)
    return fmt::format("load: {}", std::strerror(-err));
  bpf_link *link = nullptr;
  if (bpf_program__type(target) == BPF_PROG_TYPE_CGROUP_SKB ||
      bpf_program__type(target) == BPF_PROG_TYPE_CGROUP_SOCK_ADDR) {
    int cg = open(cgroup_root.c_str(), O_RDONLY | O_DIRECTORY);
    if (cg < 0) return fmt::format("open cgroup v2 root {}: {}", cgroup_root, std::strerror(errno));
    link = bpf_program__attach_cgroup(target, cg);
    close(cg);
  } else {
    link = bpf_program__attach(target);
  }
  if (!link) return fmt::format("attach: {}", std::strerror(errno));
  bpf_link__destroy(link);
  return {};
}

}  // namespace

std::vector<HookSupport> probeHooks() {
  std::string cgroup_root = cgroup2Root();
  std::vector<HookSupport> out;
  const char *refused = std::getenv(kRefuseProbeEnv);
  for (const Probe &probe : kProbes) {
    std::string error = refused && std::string_view(refused) == probe.hook
                            ? fmt::format("refused by {}, for tests", kRefuseProbeEnv)
                            : tryHook(probe, cgroup_root);
    out.push_back({probe.hook, probe.kfunc, error.empty(), error,
                   error.empty() ? probe.used_for : probe.fallback});
  }
  return out;
}

bool hookUsable(const std::vector<HookSupport> &hooks, std::string_view hook) {
  return std::any_of(hooks.begin(), hooks.end(),
                     [&](const HookSupport &h) { return h.hook == hook && h.usable; });
}

std::string featuresTable(const std::vector<HookSupport> &hooks) {
  std::string out = fmt::format("{:<18} {:<8} {}\n", "hook", "usable", "raqib's use, or fallback");
  for (const auto &h : hooks)
    out += fmt::format("{:<18} {:<8} {}{}\n", h.hook, h.usable ? "yes" : "no", h.role,
                       h.usable ? "" : fmt::format(" ({})", h.detail));
  return out;
}

bool btfHas(const btf *vmlinux, const char *name, int kind) {
  return vmlinux && btf__find_by_name_kind(vmlinux, name, kind) >= 0;
}

namespace {

// This kernel's io_uring has the operation named opcode (enum io_uring_op).
bool uringHasOp(const btf *vmlinux, std::string_view opcode) {
  int id = vmlinux ? btf__find_by_name_kind(vmlinux, "io_uring_op", BTF_KIND_ENUM) : -1;
  if (id < 0) return false;
  const btf_type *t = btf__type_by_id(vmlinux, id);
  const struct btf_enum *values = btf_enum(t);
  for (int i = 0; i < btf_vlen(t); i++)
    if (opcode == btf__name_by_offset(vmlinux, values[i].name_off)) return true;
  return false;
}

// io_uring file operations, each read at its submission from the private
// request type its prep fills (bpf/abi.bpf.h): recorded when this kernel's
// BTF has that type, the operation and both tracepoints.
struct UringOp {
  const char *entry, *type, *opcode, *how;
};
constexpr UringOp kUringOps[] = {
    {"io_uring open", "io_open", "IORING_OP_OPENAT2",
     "OPENAT/OPENAT2: into an fd or a fixed-file slot (the file's path), or failed (the name as "
     "passed); with IOSQE_CQE_SKIP_SUCCESS by the name as passed, and reported (tamper move "
     "uring_unnamed_open)"},
    {"io_uring unlink", "io_unlink", "IORING_OP_UNLINKAT", "UNLINKAT (unlink and rmdir)"},
    {"io_uring rename", "io_rename", "IORING_OP_RENAMEAT", "RENAMEAT"},
    {"io_uring link", "io_link", "IORING_OP_SYMLINKAT", "LINKAT and SYMLINKAT"},
    {"io_uring setxattr", "io_xattr", "IORING_OP_SETXATTR",
     "SETXATTR and FSETXATTR of security.capability"},
    {"io_uring truncate", "io_ftrunc", "IORING_OP_FTRUNCATE", "FTRUNCATE"},
};

}  // namespace

std::string entriesTable() {
  // x32 syscalls skip the per-syscall tracepoints like ia32 ones; most
  // kernels build the ABI but leave it off (syscall.x32=n).
  errno = 0;
  bool x32 = syscall(0x40000000 | SYS_getpid) >= 0 || errno != ENOSYS;
  struct Entry {
    std::string entry, covered, how;
  };
  std::vector<Entry> entries = {
      {"native syscalls", "yes", "per-syscall tracepoints, entry and exit"},
      {"ia32 syscalls", "yes",
       "raw sys_exit, for int $0x80 and sysenter/syscall from 32-bit code; names read at the exit"},
      {"x32 syscalls", x32 ? "no" : "-",
       x32 ? "the x32 ABI is enabled here and not traced" : "the x32 ABI is off in this kernel"},
      {"open_by_handle_at", "yes", "its syscall tracepoints; the path of the fd opened"},
  };
  std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), btf__free);
  bool hooks = btfHas(vmlinux.get(), "btf_trace_io_uring_submit_req", BTF_KIND_TYPEDEF) &&
               btfHas(vmlinux.get(), "btf_trace_io_uring_complete", BTF_KIND_TYPEDEF) &&
               btfHas(vmlinux.get(), "btf_trace_io_uring_cqe_overflow", BTF_KIND_TYPEDEF);
  for (const UringOp &op : kUringOps) {
    bool has = hooks && btfHas(vmlinux.get(), op.type, BTF_KIND_STRUCT) &&
               uringHasOp(vmlinux.get(), op.opcode);
    std::string how =
        "no io_uring_submit_req, io_uring_complete or io_uring_cqe_overflow tracepoint in this "
        "kernel";
    if (has)
      how = fmt::format("io_uring_submit_req, then io_uring_complete or _cqe_overflow: {}", op.how);
    else if (hooks)
      how = fmt::format("{} or {} is not in this kernel's BTF: not recorded", op.type, op.opcode);
    entries.push_back({op.entry, has ? "yes" : "no", how});
  }
  entries.push_back({"io_uring mkdir", "-", "MKDIRAT: no action raqib records on any entry"});
  std::string out = fmt::format("{:<18} {:<8} {}\n", "file entry", "covered", "how");
  for (const Entry &e : entries) out += fmt::format("{:<18} {:<8} {}\n", e.entry, e.covered, e.how);
  return out;
}

}  // namespace raqib
