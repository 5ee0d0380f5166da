#include "bpf_monitor.hpp"

#include <bpf/bpf.h>
#include <bpf/btf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <linux/capability.h>
#include <linux/seccomp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <fcntl.h>

#include <cstdarg>
#include <algorithm>
#include <filesystem>

#include "features.hpp"
#include "process_table.hpp"
#include "raqib.skel.h"
#include "dns_lane.hpp"
#include "exec_lane.hpp"
#include "peer_lane.hpp"
#include "tamper.hpp"
#include "watched_set.hpp"

namespace raqib {

namespace {

int libbpfToSpdlog(enum libbpf_print_level level, const char *format, va_list args) {
  if (level == LIBBPF_DEBUG && !spdlog::should_log(spdlog::level::trace)) return 0;
  char line[2048];
  int n = vsnprintf(line, sizeof line, format, args);
  std::string_view text(line, n > 0 ? std::min<size_t>(n, sizeof line - 1) : 0);
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  // libbpf's own warnings are details of an error the core reports in one
  // line; they are kept for whoever turns on debug logging.
  spdlog::debug("libbpf: {}", text);
  return 0;
}

bool hasEffective(cap_t caps, cap_value_t cap) {
  cap_flag_value_t v = CAP_CLEAR;
  return cap_get_flag(caps, cap, CAP_EFFECTIVE, &v) == 0 && v == CAP_SET;
}

// What this machine lacks to run raqib, in one line; nullopt when nothing.
std::optional<std::string> missingPrerequisite() {
  cap_t caps = cap_get_proc();
  bool privileged = caps && (hasEffective(caps, CAP_SYS_ADMIN) ||
                             (hasEffective(caps, CAP_BPF) && hasEffective(caps, CAP_PERFMON)));
  if (caps) cap_free(caps);
  if (!privileged)
    return "raqib must run as root (it needs CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN, to "
           "load its eBPF programs): run it as root or through sudo";
  if (!std::filesystem::exists("/sys/kernel/btf/vmlinux"))
    return "this kernel has no BTF (/sys/kernel/btf/vmlinux is missing): raqib needs a kernel "
           "built with CONFIG_DEBUG_INFO_BTF=y (Debian's kernels since 11 are)";
  if (!std::filesystem::exists("/sys/kernel/tracing/events") &&
      !std::filesystem::exists("/sys/kernel/debug/tracing/events"))
    return "tracefs is not mounted: mount it with 'mount -t tracefs tracefs /sys/kernel/tracing' "
           "(./run.sh does this)";
  return std::nullopt;
}

bool tracepointExists(const std::string &category, const std::string &name) {
  for (const char *root : {"/sys/kernel/tracing/events/", "/sys/kernel/debug/tracing/events/"})
    if (std::filesystem::exists(std::string(root) + category + "/" + name)) return true;
  return false;
}

// One log line per hook type this kernel refuses, naming the fallback, and
// one per kfunc raqib calls where it can: used, or the fallback.
Result<std::vector<HookSupport>> checkHooks() {
  std::vector<HookSupport> hooks = probeHooks();
  for (const HookSupport &h : hooks) {
    if (h.kfunc && h.usable) {
      spdlog::info("kfunc {} is used: {}", h.hook, h.role);
      continue;
    }
    if (h.kfunc) {
      spdlog::info("kfunc {} is not usable here ({}); fallback: {}", h.hook, h.detail, h.role);
      continue;
    }
    if (h.usable) continue;
    if (h.role.starts_with("none"))
      return Error{fmt::format("this kernel does not let raqib use {} programs ({}): {}", h.hook,
                               h.detail, h.role)};
    spdlog::info("{} programs are not usable here ({}); fallback: {}", h.hook, h.detail, h.role);
  }
  return hooks;
}

}  // namespace

void routeLibbpfLogs() {
  libbpf_set_print(libbpfToSpdlog);
}

Result<int> EpochPair::flip() {
  int idle = 1 - current_;
  if (undrained_) return inner_[idle];
  // Both maps: an entry written into the one out of service (by something
  // other than raqib's programs) is drained once that map has had its turn.
  if (guard_ && guard_->holdsOnlyItsOwn(inner_[current_]) && guard_->holdsOnlyItsOwn(inner_[idle]))
    return kNothingToDrain;
  uint32_t slot = 0;
  int fd = inner_[idle];
  // Updating a map-of-maps from user space returns only after an RCU grace
  // period, so no program still writes the map taken out.
  if (int err = bpf_map_update_elem(outer_, &slot, &fd, BPF_ANY); err < 0)
    return Error{fmt::format("swapping the epoch map: {}", std::strerror(-err))};
  int drained = inner_[current_];
  current_ = idle;
  undrained_ = true;
  if (guard_) guard_->takenOut(drained);
  return drained;
}

Result<std::unique_ptr<BpfMonitor>> BpfMonitor::start(const Config &config) {
  if (auto missing = missingPrerequisite()) return Error{*missing};
  routeLibbpfLogs();
  auto hooks = checkHooks();
  if (!hooks) return Error{hooks.error()};

  std::unique_ptr<BpfMonitor> m(new BpfMonitor());
  m->skel_ = raqib_bpf__open();
  if (!m->skel_)
    return Error{fmt::format("opening the embedded BPF object failed: {}", std::strerror(errno))};
  raqib_bpf *s = m->skel_;

  std::array<uint64_t, 2> key{};  // per boot: map contents name no path without it
  if (getrandom(key.data(), sizeof key, 0) != sizeof key)
    return Error{fmt::format("getrandom for the path-hash key failed: {}", std::strerror(errno))};
  s->rodata->hash_key0 = key[0];
  s->rodata->hash_key1 = key[1];
  auto self = kernelTgid();
  if (!self) return Error{self.error()};
  s->rodata->self_tgid = *self;
  s->rodata->resolve_vpid = hookUsable(*hooks, kTaskFromVpid);
  bool streaming = config.transport == Transport::Ringbuf;
  s->rodata->stream_files = streaming;
  // The ring buffer exists either way; it is only sized for use when streaming.
  bpf_map__set_max_entries(s->maps.events, streaming ? config.ringbuf_bytes : 4096);

  for (bpf_map *map : {s->maps.exec_activity_a, s->maps.exec_activity_b})
    bpf_map__set_max_entries(map, config.exec.map_entries);
  for (bpf_map *map : {s->maps.file_activity_a, s->maps.file_activity_b})
    bpf_map__set_max_entries(map, config.file_access.map_entries);
  bpf_map__set_max_entries(s->maps.strings, config.strings_map_entries);
  for (bpf_map *map : {s->maps.peers_a, s->maps.peers_b})
    bpf_map__set_max_entries(map, config.network_peers.map_entries);
  for (bpf_map *map : {s->maps.flows_a, s->maps.flows_b})
    bpf_map__set_max_entries(map, config.network_flows.map_entries);
  for (bpf_map *map : {s->maps.dns_a, s->maps.dns_b})
    bpf_map__set_max_entries(map, config.dns.map_entries);
  for (bpf_map *map : {s->maps.tamper_activity_a, s->maps.tamper_activity_b})
    bpf_map__set_max_entries(map, config.tamper.map_entries);
  // Sockets outlive their flow entries; keep owners for several epochs' worth.
  bpf_map__set_max_entries(s->maps.sock_owner,
                           std::max<uint32_t>(4 * config.network_flows.map_entries, 1024));

  // A program whose section names a tracepoint this kernel lacks (a
  // syscall this kernel was built without, a filesystem it has not) is left
  // out.
  std::unique_ptr<btf, decltype(&btf__free)> vmlinux(btf__load_vmlinux_btf(), btf__free);
  bpf_program *prog;
  bpf_object__for_each_program(prog, s->obj) {
    std::string_view section = bpf_program__section_name(prog);
    std::string missing;
    if (section.starts_with("tracepoint/")) {
      section.remove_prefix(std::string_view("tracepoint/").size());
      size_t slash = section.find('/');
      std::string category(section.substr(0, slash)), name(section.substr(slash + 1));
      if (slash != std::string_view::npos && !tracepointExists(category, name))
        missing = category + "/" + name;
    } else if (section.starts_with("tp_btf/")) {
      section.remove_prefix(std::string_view("tp_btf/").size());
      std::string type = "btf_trace_" + std::string(section);
      if (!btfHas(vmlinux.get(), type.c_str(), BTF_KIND_TYPEDEF)) missing = section;
    }
    if (missing.empty()) continue;
    spdlog::info("this kernel has no tracepoint {}: {} is not loaded", missing,
                 bpf_program__name(prog));
    bpf_program__set_autoload(prog, false);
  }
  WatchedLane::configure(s, config);
  ExecLane::configure(s, config);
  DnsLane::configure(s, config);
  PeerLane::configure(s, config);

  if (int err = raqib_bpf__load(s); err < 0)
    return Error{
        fmt::format("loading the BPF programs into the kernel failed: {} (set "
                    "[core] log_level = \"trace\" for the verifier's log)",
                    std::strerror(-err))};
  m->watched_ = std::make_unique<WatchedLane>();
  if (auto filled = m->watched_->fill(s, config.watched); !filled) return Error{filled.error()};
  if (auto started = m->watched_->nextEpoch(); !started) return Error{started.error()};
  m->exec_lane_ = std::make_unique<ExecLane>();
  if (auto filled = m->exec_lane_->fill(s, config.watched_execs); !filled)
    return Error{filled.error()};
  m->dns_lane_ = std::make_unique<DnsLane>();
  if (auto filled = m->dns_lane_->fill(s, config.watched_domains); !filled)
    return Error{filled.error()};
  m->peer_lane_ = std::make_unique<PeerLane>();
  if (auto filled = m->peer_lane_->fill(s, config.watched_peers); !filled)
    return Error{filled.error()};
  if (auto attached = m->attachAll(); !attached) return Error{attached.error()};
  if (auto held = m->startLinkHolder(); !held) return Error{held.error()};
  if (auto registered = m->registerOwnObjects(); !registered) return Error{registered.error()};
  // libbpf reads the possible CPUs once and keeps them: now, while files
  // can still be opened.
  if (libbpf_num_possible_cpus() <= 0) return Error{"cannot count the possible CPUs"};

  m->exec_ = EpochPair(bpf_map__fd(s->maps.exec_activity), bpf_map__fd(s->maps.exec_activity_a),
                       bpf_map__fd(s->maps.exec_activity_b));
  m->file_ = EpochPair(bpf_map__fd(s->maps.file_activity), bpf_map__fd(s->maps.file_activity_a),
                       bpf_map__fd(s->maps.file_activity_b));
  m->peers_ = EpochPair(bpf_map__fd(s->maps.peers), bpf_map__fd(s->maps.peers_a),
                        bpf_map__fd(s->maps.peers_b));
  m->flows_ = EpochPair(bpf_map__fd(s->maps.flows), bpf_map__fd(s->maps.flows_a),
                        bpf_map__fd(s->maps.flows_b));
  m->dns_ =
      EpochPair(bpf_map__fd(s->maps.dns), bpf_map__fd(s->maps.dns_a), bpf_map__fd(s->maps.dns_b));
  m->tamper_ =
      EpochPair(bpf_map__fd(s->maps.tamper_activity), bpf_map__fd(s->maps.tamper_activity_a),
                bpf_map__fd(s->maps.tamper_activity_b));
  return m;
}

Status BpfMonitor::attachAll() {
  auto keep = [this](bpf_link *link, const std::string &what) -> Status {
    if (!link)
      return Error{
          fmt::format("attaching {} failed: {} (set [core] log_level = \"trace\" for "
                      "libbpf's details)",
                      what, std::strerror(errno))};
    links_.emplace_back(link, bpf_link__destroy);
    link_names_.push_back(what);
    return Ok{};
  };
  // The network hooks go on the root cgroup v2, so they see every process.
  std::string cgroup_root = cgroup2Root();
  if (cgroup_root.empty())
    return Error{
        "no cgroup v2 hierarchy is mounted (raqib attaches its network hooks to its root): "
        "mount it with 'mount -t cgroup2 none /sys/fs/cgroup/unified'"};
  std::unique_ptr<int, void (*)(int *)> cgroup(
      new int(open(cgroup_root.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC)), [](int *fd) {
        if (*fd >= 0) close(*fd);
        delete fd;
      });
  if (*cgroup < 0)
    return Error{
        fmt::format("opening the cgroup v2 root {}: {}", cgroup_root, std::strerror(errno))};
  constexpr std::string_view kEnter = "raqib_enter_";
  bpf_program *prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    std::string_view name = bpf_program__name(prog);
    if (prog == skel_->progs.raqib_sys_exit) continue;  // attached with each entry
    if (!bpf_program__autoload(prog)) continue;         // its tracepoint is missing
    switch (bpf_program__type(prog)) {
      case BPF_PROG_TYPE_CGROUP_SKB:
      case BPF_PROG_TYPE_CGROUP_SOCK:
      case BPF_PROG_TYPE_CGROUP_SOCK_ADDR:
        if (auto s = keep(bpf_program__attach_cgroup(prog, *cgroup),
                          fmt::format("{} to the cgroup v2 root {}", name, cgroup_root));
            !s)
          return s;
        continue;
      default:
        break;
    }
    if (!name.starts_with(kEnter)) {
      if (auto s = keep(bpf_program__attach(prog), std::string(name)); !s) return s;
      if (prog == skel_->progs.raqib_live_tasks) tasks_iter_ = links_.back().get();
      continue;
    }
    std::string syscall(name.substr(kEnter.size()));
    std::string enter = "sys_enter_" + syscall, exit = "sys_exit_" + syscall;
    if (!tracepointExists("syscalls", enter)) {
      spdlog::info("syscall {} does not exist on this kernel: not traced", syscall);
      continue;
    }
    if (auto s = keep(bpf_program__attach_tracepoint(prog, "syscalls", enter.c_str()), enter); !s)
      return s;
    if (auto s = keep(
            bpf_program__attach_tracepoint(skel_->progs.raqib_sys_exit, "syscalls", exit.c_str()),
            exit);
        !s)
      return s;
  }
  return Ok{};
}

Status BpfMonitor::startLinkHolder() {
  int pipe_fds[2];
  if (pipe2(pipe_fds, O_CLOEXEC) != 0)
    return Error{fmt::format("creating the link holder's pipe: {}", std::strerror(errno))};
  std::vector<int> keep{pipe_fds[0]};
  for (const auto &link : links_) keep.push_back(bpf_link__fd(link.get()));
  std::sort(keep.begin(), keep.end());
  pid_t pid = fork();
  if (pid < 0) {
    close(pipe_fds[0]);
    close(pipe_fds[1]);
    return Error{fmt::format("starting the link holder: {}", std::strerror(errno))};
  }
  if (pid == 0) {
    // The child: only async-signal-safe calls. It keeps the links and the
    // pipe and nothing else (not stdout: a reader waits for its EOF), holds
    // no capability and may only read, then end.
    int next = 0;
    for (int fd : keep) {
      if (fd > next) syscall(SYS_close_range, next, fd - 1, 0);
      next = fd + 1;
    }
    syscall(SYS_close_range, next, ~0u, 0);
    prctl(PR_SET_NAME, "raqib-links", 0, 0, 0);
    __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
    __user_cap_data_struct caps[_LINUX_CAPABILITY_U32S_3]{};
    syscall(SYS_capset, &header, caps);
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    prctl(PR_SET_SECCOMP, SECCOMP_MODE_STRICT, 0, 0, 0);  // read, write, exit, sigreturn
    char byte;
    while (read(pipe_fds[0], &byte, 1) != 0) {
    }
    syscall(SYS_exit, 0);  // strict mode has no exit_group; this is the only thread
  }
  close(pipe_fds[0]);
  holder_pipe_ = pipe_fds[1];
  return Ok{};
}

BpfMonitor::~BpfMonitor() {
  // The link holder still references every link: these closes are cheap.
  links_.clear();
  raqib_bpf__destroy(skel_);
  if (holder_pipe_ >= 0) close(holder_pipe_);
}

int BpfMonitor::stringsFd() const {
  return bpf_map__fd(skel_->maps.strings);
}

int BpfMonitor::eventsFd() const {
  return bpf_map__fd(skel_->maps.events);
}

Result<std::vector<raqib_live_task>> BpfMonitor::liveTasks() const {
  int fd = bpf_iter_create(bpf_link__fd(tasks_iter_));
  if (fd < 0) return Error{fmt::format("listing processes: {}", std::strerror(-fd))};
  std::vector<raqib_live_task> live;
  std::vector<char> bytes;
  char buf[16384];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0 || (n < 0 && errno == EINTR))
    if (n > 0) bytes.insert(bytes.end(), buf, buf + n);
  int err = n < 0 ? errno : 0;
  close(fd);
  if (err) return Error{fmt::format("listing processes: {}", std::strerror(err))};
  live.resize(bytes.size() / sizeof(raqib_live_task));
  std::memcpy(live.data(), bytes.data(), live.size() * sizeof(raqib_live_task));
  return live;
}

Result<std::array<MapCounters, RAQIB_MAP_COUNT>> BpfMonitor::counters() const {
  std::array<MapCounters, RAQIB_MAP_COUNT> totals{};
  int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return Error{"cannot count the possible CPUs"};
  std::vector<raqib_map_counters> per_cpu(cpus);
  int fd = bpf_map__fd(skel_->maps.map_counters);
  for (uint32_t id = 0; id < RAQIB_MAP_COUNT; id++) {
    if (int err = bpf_map_lookup_elem(fd, &id, per_cpu.data()); err < 0)
      return Error{fmt::format("reading the map counters: {}", std::strerror(-err))};
    for (const auto &c : per_cpu) {
      totals[id].inserts += c.inserts;
      totals[id].updates += c.updates;
      totals[id].failed += c.failed;
      totals[id].capped += c.capped;
    }
  }
  return totals;
}

}  // namespace raqib
