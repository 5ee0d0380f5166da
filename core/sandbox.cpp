#include "sandbox.hpp"

#include <dlfcn.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/bpf.h>
#include <linux/filter.h>
#include <linux/perf_event.h>
#include <linux/seccomp.h>
#include <seccomp.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <signal.h>
#include <sys/mman.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <climits>
#include <optional>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>
#include <vector>

#include <fmt/format.h>
#include <raqib/plugin_api.h>

namespace raqib {

const char *faultName(Fault fault) {
  switch (fault) {
    case Fault::exception:
      return "exception";
    case Fault::error:
      return "error";
    case Fault::crash:
      return "crash";
    case Fault::seccomp:
      return "seccomp";
    case Fault::hang:
      return "hang";
    case Fault::queue_full:
      return "queue_full";
    case Fault::log_flood:
      return "log_flood";
    case Fault::memory:
      return "memory";
    default:
      return "none";
  }
}

int hangSignal() {
  return SIGRTMIN + 2;
}

Fault faultOfSignal(int signal) {
  if (signal == SIGSYS) return Fault::seccomp;  // leave() after a recorded violation
  if (signal == hangSignal()) return Fault::hang;
  return Fault::crash;
}

std::string syscallName(long nr) {
  std::unique_ptr<char, void (*)(void *)> name(
      seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, int(nr)), free);
  return name ? name.get() : fmt::format("syscall {}", nr);
}

size_t MemoryRanges::firstEndingAfter(uint64_t at, bool touching) const {
  const Range *r = ranges_.data();
  return size_t(
      std::partition_point(r, r + count_,
                           [&](const Range &x) { return touching ? x.end < at : x.end <= at; }) -
      r);
}

uint64_t MemoryRanges::uncovered(uint64_t start, uint64_t end) const {
  if (end <= start) return 0;
  uint64_t covered = 0;
  for (size_t i = firstEndingAfter(start, false); i < count_ && ranges_[i].start < end; i++)
    covered += std::min(end, ranges_[i].end) - std::max(start, ranges_[i].start);
  return end - start - covered;
}

void MemoryRanges::add(uint64_t start, uint64_t end) {
  if (end <= start) return;
  bytes_ += uncovered(start, end);
  Range *r = ranges_.data();
  size_t i = firstEndingAfter(start, true), j = i;  // [i, j) overlap or touch: merged
  while (j < count_ && r[j].start <= end) j++;
  if (i == j) {
    std::move_backward(r + i, r + count_, r + count_ + 1);
    count_++;
    r[i] = {start, end};
    return;
  }
  r[i] = {std::min(start, r[i].start), std::max(end, r[j - 1].end)};
  std::move(r + j, r + count_, r + i + 1);
  count_ -= j - i - 1;
}

uint64_t MemoryRanges::remove(uint64_t start, uint64_t end) {
  if (end <= start) return 0;
  Range *r = ranges_.data();
  size_t i = firstEndingAfter(start, false);
  if (i < count_ && r[i].start < start && r[i].end > end) {  // a hole in one range: split
    if (room() == 0) return 0;
    std::move_backward(r + i + 1, r + count_, r + count_ + 1);
    count_++;
    r[i + 1] = {end, r[i].end};
    r[i].end = start;
    bytes_ -= end - start;
    return end - start;
  }
  uint64_t removed = 0;
  size_t kept = i, k = i;  // ranges [i, k) seen; what stays of them is in [i, kept)
  for (; k < count_ && r[k].start < end; k++) {
    removed += std::min(end, r[k].end) - std::max(start, r[k].start);
    if (r[k].start < start)
      r[kept++].end = start;  // its head stays
    else if (r[k].end > end)
      r[kept++] = {end, r[k].end};  // its tail stays
  }
  std::move(r + k, r + count_, r + kept);
  count_ -= k - kept;
  bytes_ -= removed;
  return removed;
}

namespace {

thread_local FaultTrap *t_trap = nullptr;  // the trap of this plugin thread, if it is one

[[noreturn]] void jumpBack(FaultTrap &trap, int sig) {
  trap.armed = 0;
  trap.signal = sig;
  siglongjmp(trap.env, 1);
}

// On an armed plugin thread: jump back to its worker instead of ending the
// process (atexit handlers and static destructors would otherwise run on
// the plugin's thread and leave the daemon on destroyed globals). Elsewhere
// return, and the caller does what was asked.
void trapExitCall(const char *call, int status) {
  FaultTrap *trap = t_trap;
  if (!trap || !trap->armed) return;
  trap->exit_call = call;
  trap->exit_status = status;
  jumpBack(*trap, kExitCalled);
}

template <class Fn>
Fn nextDefinition(const char *name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}

}  // namespace

void onFault(int sig, siginfo_t *info, void *) {
  FaultTrap *trap = t_trap;  // set for a plugin thread's whole life
  if (trap && sig == hangSignal()) {
    if (!trap->armed || trap->call_seq.load(std::memory_order_relaxed) != trap->hang_seq.load())
      return;  // the stuck call returned meanwhile: leave the thread alone
    if (trap->in_host_) {
      trap->hang_pending_ = 1;  // taken when the host callback returns
      return;
    }
  }
  if (trap && trap->armed) {
    trap->address = reinterpret_cast<uintptr_t>(info->si_addr);
    jumpBack(*trap, sig);
  }
  if (sig == hangSignal()) return;  // not a plugin thread
  // Not in a plugin: the fault is the daemon's own; die of it as without us.
  signal(sig, SIG_DFL);
}

void installFaultHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = onFault;
    // SA_NODEFER and no sa_mask: the handler runs with the thread's own mask,
    // so jumping out of it leaves that mask as it was (see RAQIB_FAULT_TRAP).
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, hangSignal()}) sigaction(sig, &sa, nullptr);
  });
}

void FaultTrap::attach() {
  t_trap = this;
  // A thread that already has a signal stack (AddressSanitizer gives every
  // thread one, and frees it when the thread ends) keeps it.
  stack_t current{};
  if (sigaltstack(nullptr, &current) == 0 && !(current.ss_flags & SS_DISABLE)) return;
  stack_size_ = std::max<size_t>(SIGSTKSZ, 64 * 1024);
  stack_ = mmap(nullptr, stack_size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (stack_ == MAP_FAILED) {
    stack_ = nullptr;
    return;
  }
  stack_t ss{};
  ss.ss_sp = stack_;
  ss.ss_size = stack_size_;
  sigaltstack(&ss, nullptr);
}

void FaultTrap::detach() {
  disarm();
  t_trap = nullptr;
}

FaultTrap::~FaultTrap() {
  // Only once the thread has ended (its alternate stack goes with it); a
  // thread left stuck is never destroyed.
  if (stack_) munmap(stack_, stack_size_);
}

void FaultTrap::arm() {
  signal = 0;
  address = 0;
  exit_call = "";
  exit_status = 0;
  violation.store(false);
  memory_refused.store(false);
  for (auto &nr : syscalls) nr.store(-1);
  in_host_ = 0;
  hang_pending_ = 0;
  armed = 1;
}

void FaultTrap::leave() {
  enter();
  // Back in the worker, outside any lock: take the fault path.
  if (violation.load() && armed) jumpBack(*this, SIGSYS);
}

std::string FaultTrap::forbiddenSyscalls() const {
  std::string names;
  for (const auto &nr : syscalls)
    if (long n = nr.load(); n >= 0) names += (names.empty() ? "" : ", ") + syscallName(n);
  return names;
}

FaultTrap::HostCall::HostCall() : trap_(t_trap) {
  if (trap_) trap_->in_host_ = trap_->in_host_ + 1;
}

FaultTrap::HostCall::~HostCall() {
  if (!trap_) return;
  trap_->in_host_ = trap_->in_host_ - 1;
  if (trap_->in_host_ || !trap_->hang_pending_) return;
  trap_->hang_pending_ = 0;
  if (trap_->armed && trap_->call_seq.load() == trap_->hang_seq.load())
    jumpBack(*trap_, hangSignal());
}

Status dropThreadCapabilities() {
  // capset(2) on the calling thread only; libcap's cap_set_proc would do the
  // same but also tries to synchronise every thread in recent versions.
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  if (::syscall(SYS_capset, &header, data) != 0)
    return Error{
        fmt::format("dropping the plugin thread's capabilities: {}", std::strerror(errno))};
  return Ok{};
}

namespace {

using FilterCtx = std::unique_ptr<void, void (*)(scmp_filter_ctx)>;

// Adds rules to one filter; the first failure sticks and is reported once.
class Rules {
 public:
  explicit Rules(uint32_t default_action) : ctx_(seccomp_init(default_action), seccomp_release) {
    if (!ctx_) rc_ = -ENOMEM;
  }
  scmp_filter_ctx ctx() const { return ctx_.get(); }
  void add(uint32_t action, int nr, std::initializer_list<scmp_arg_cmp> args = {}) {
    if (rc_ == 0)
      rc_ = seccomp_rule_add_array(ctx_.get(), action, nr, unsigned(args.size()), args.begin());
  }
  void allow(int nr, std::initializer_list<scmp_arg_cmp> args = {}) {
    add(SCMP_ACT_ALLOW, nr, args);
  }
  void allowAll(std::initializer_list<int> nrs) {
    for (int nr : nrs) allow(nr);
  }
  Status status(const char *what) const {
    if (rc_ == 0) return Ok{};
    return Error{fmt::format("building the seccomp filter of {}: {}", what, std::strerror(-rc_))};
  }

 private:
  FilterCtx ctx_;
  int rc_ = 0;
};

// What every thread of the daemon needs to live: memory that is never
// executable, futexes, clocks, randomness, signal return, its own ids, and
// ending itself. On a plugin thread (charge_memory) the calls that make
// memory writable or give it back go to the listener, which charges them.
void allowRuntime(Rules &r, bool charge_memory) {
  r.allowAll({SCMP_SYS(madvise), SCMP_SYS(futex), SCMP_SYS(sched_yield), SCMP_SYS(clock_gettime),
              SCMP_SYS(clock_getres), SCMP_SYS(gettimeofday), SCMP_SYS(nanosleep),
              SCMP_SYS(clock_nanosleep), SCMP_SYS(getrandom), SCMP_SYS(rt_sigreturn),
              SCMP_SYS(restart_syscall), SCMP_SYS(gettid), SCMP_SYS(getpid), SCMP_SYS(exit),
              SCMP_SYS(rseq)});
  if (!charge_memory) r.allowAll({SCMP_SYS(brk), SCMP_SYS(munmap), SCMP_SYS(mremap)});
  uint64_t refused = charge_memory ? PROT_EXEC | PROT_WRITE : PROT_EXEC;
  for (int nr : {SCMP_SYS(mmap), SCMP_SYS(mprotect), SCMP_SYS(pkey_mprotect)})
    r.allow(nr, {SCMP_A2(SCMP_CMP_MASKED_EQ, refused, 0)});
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
  // ASan reads the thread's attributes (pthread_getattr_np) and its signal
  // stack when a fault or the hang signal jumps back from that stack, and
  // removes the signal stack it gave a thread when the thread ends; TSan
  // reads the attributes too. Sanitizer builds only.
  r.allowAll({SCMP_SYS(sched_getaffinity), SCMP_SYS(sigaltstack)});
#endif
}

// The resources a plugin declared (raqib_resource bits).
void allowResources(Rules &r, uint32_t resources) {
  if (resources & RAQIB_RESOURCE_STDOUT) {
    for (int nr : {SCMP_SYS(write), SCMP_SYS(writev)}) r.allow(nr, {SCMP_A0(SCMP_CMP_EQ, 1)});
    r.allow(SCMP_SYS(ioctl), {SCMP_A0(SCMP_CMP_EQ, 1), SCMP_A1(SCMP_CMP_EQ, TCGETS)});  // isatty
  }
  if (resources & RAQIB_RESOURCE_FILE_WRITE)
    r.allowAll({SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(close), SCMP_SYS(write),
                SCMP_SYS(writev), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(lseek),
                SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(rename),
                SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlinkat), SCMP_SYS(unlink),
                // since API 1.1
                SCMP_SYS(ftruncate), SCMP_SYS(fchmod), SCMP_SYS(mkdirat), SCMP_SYS(mkdir)});
  if (resources & RAQIB_RESOURCE_NET_TCP_OUT) {
    for (int domain : {AF_INET, AF_INET6})
      r.allow(SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_EQ, uint64_t(domain)),
                                 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, uint64_t(SOCK_STREAM))});
    r.allowAll({SCMP_SYS(connect), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
                SCMP_SYS(recvmsg), SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev),
                SCMP_SYS(close), SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(getsockopt),
                SCMP_SYS(setsockopt), SCMP_SYS(getsockname), SCMP_SYS(getpeername),
                SCMP_SYS(shutdown), SCMP_SYS(fcntl)});
    // since API 1.1: an event loop (Boost.Asio)
    r.allowAll({SCMP_SYS(epoll_create1), SCMP_SYS(epoll_ctl), SCMP_SYS(epoll_wait),
                SCMP_SYS(epoll_pwait), SCMP_SYS(eventfd2), SCMP_SYS(timerfd_create),
                SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime)});
    r.allow(SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, uint64_t(FIONBIO))});
  }
  if (resources & RAQIB_RESOURCE_DGRAM_OUT) {  // since API 1.1
    for (int domain : {AF_INET, AF_INET6, AF_UNIX})
      r.allow(SCMP_SYS(socket), {SCMP_A0(SCMP_CMP_EQ, uint64_t(domain)),
                                 SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, uint64_t(SOCK_DGRAM))});
    r.allowAll({SCMP_SYS(connect), SCMP_SYS(sendto), SCMP_SYS(sendmsg), SCMP_SYS(close),
                SCMP_SYS(setsockopt), SCMP_SYS(getsockopt)});
  }
}

// Syscalls loading a shared object makes (the dynamic loader and the
// object's constructors), let through while a plugin thread is loading.
bool allowedWhileLoading(const seccomp_data &d) {
  auto readOnly = [](uint64_t flags) {
    return (flags & O_ACCMODE) == O_RDONLY && !(flags & (O_CREAT | O_TRUNC | __O_TMPFILE));
  };
  switch (d.nr) {
    case SYS_openat:
      return readOnly(d.args[2]);
    case SYS_open:
      return readOnly(d.args[1]);
    case SYS_read:
    case SYS_pread64:
    case SYS_fstat:
    case SYS_newfstatat:
    case SYS_statx:
    case SYS_lseek:
    case SYS_close:
    case SYS_mmap:
    case SYS_mprotect:
    case SYS_access:
    case SYS_faccessat:
    case SYS_faccessat2:
    case SYS_readlink:
    case SYS_readlinkat:
    case SYS_getcwd:
    case SYS_uname:
      return true;
    default:
      return false;
  }
}

uint64_t pageUp(uint64_t n) {
  static const uint64_t page = uint64_t(sysconf(_SC_PAGESIZE));
  return n > UINT64_MAX - page ? UINT64_MAX & ~(page - 1) : (n + page - 1) & ~(page - 1);
}

// The result of a raw mmap/mremap syscall as the C library gives it. Raw,
// so no sanitizer's interceptor runs on the answerer thread.
void *rawMap(long rc) {
  return reinterpret_cast<void *>(rc);
}

// Records a refused call in trap; the error the plugin sees is error.
void refuse(FaultTrap &trap, long nr, int error, seccomp_notif_resp &resp) {
  for (auto &slot : trap.syscalls) {
    long none = -1;
    if (slot.compare_exchange_strong(none, nr) || none == nr) break;
  }
  if (error == ENOMEM) trap.memory_refused.store(true);
  trap.violation.store(true);  // before the answer wakes the plugin
  resp.error = -error;
}

// A plugin thread's call that makes memory writable (mmap, mprotect,
// pkey_mprotect, mremap, brk) or gives it back (munmap): within
// trap.memory_limit it is done and charged, past it refused with ENOMEM.
// Where the kernel picks the address (mmap without MAP_FIXED, mremap) the
// call is made here, in the same address space and fd table, to learn it.
// False for any other call, or one that asks for executable memory.
bool answerMemoryCall(const seccomp_data &d, FaultTrap &trap, seccomp_notif_resp &resp) {
  MemoryRanges &m = trap.memory;
  // Room for the two ranges a call can add (mremap: a split, then the new one).
  auto fits = [&](uint64_t more) { return more <= trap.memory_limit - m.bytes() && m.room() >= 2; };
  auto settle = [&] {
    trap.memory_charged.store(m.bytes());
    return true;
  };
  auto through = [&] {
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
    return settle();
  };
  auto madeHere = [&](void *at, uint64_t len) {
    if (at == MAP_FAILED) {
      resp.error = -errno;
      return settle();
    }
    m.add(uint64_t(at), uint64_t(at) + pageUp(len));
    resp.val = int64_t(at);
    return settle();
  };
  const uint64_t addr = d.args[0], len = d.args[1];
  switch (d.nr) {
    case SYS_mmap:  // those without PROT_WRITE never come here
    case SYS_mprotect:
    case SYS_pkey_mprotect: {
      if (d.args[2] & PROT_EXEC) return false;
      bool placed = d.nr != SYS_mmap || (d.args[3] & (MAP_FIXED | MAP_FIXED_NOREPLACE));
#ifdef __SANITIZE_ADDRESS__
      // AddressSanitizer maps its shadow of the thread's memory as it goes
      // and ends the process when that fails: its shadow (x86-64) is not the
      // plugin's to be charged. Sanitizer builds only.
      if (placed && addr >= 0x7fff8000 && addr + len <= 0x10007fff8000) return through();
#endif
      uint64_t more = placed ? m.uncovered(addr, addr + pageUp(len)) : pageUp(len);
      if (!fits(more)) {
        refuse(trap, long(d.nr), ENOMEM, resp);
        return settle();
      }
      if (!placed)
        return madeHere(
            rawMap(::syscall(SYS_mmap, addr, len, d.args[2], d.args[3], d.args[4], d.args[5])),
            len);
      m.add(addr, addr + pageUp(len));
      return through();
    }
    case SYS_munmap:
      m.remove(addr, addr + pageUp(len));
      return through();
    case SYS_mremap: {
      uint64_t new_len = d.args[2];
      if (!fits(pageUp(new_len) > pageUp(len) ? pageUp(new_len) - pageUp(len) : 0)) {
        refuse(trap, long(d.nr), ENOMEM, resp);
        return settle();
      }
      void *at = rawMap(::syscall(SYS_mremap, addr, len, new_len, d.args[3], d.args[4]));
      bool was_charged = at != MAP_FAILED && m.remove(addr, addr + pageUp(len)) > 0;
      if (at != MAP_FAILED && !was_charged) {  // moved or resized, but not memory of ours
        resp.val = int64_t(at);
        return settle();
      }
      return madeHere(at, new_len);
    }
    case SYS_brk: {
      uint64_t now = uint64_t(::syscall(SYS_brk, 0));
      if (addr > now) {
        if (!fits(m.uncovered(now, pageUp(addr)))) {
          // brk fails by returning the break unchanged, never an error
          // (the C library would take the error for the new break).
          refuse(trap, long(d.nr), ENOMEM, resp);
          resp.error = 0;
          resp.val = int64_t(now);
          return settle();
        }
        m.add(now, pageUp(addr));
      } else if (addr != 0) {
        m.remove(pageUp(addr), pageUp(now));
      }
      return through();
    }
    default:
      return false;
  }
}

}  // namespace

Result<int> confinePluginThread(uint32_t resources, int wake_fd) {
  Rules r(SCMP_ACT_NOTIFY);
  allowRuntime(r, true);
  // Signals may be unblocked and the mask read, never blocked: a blocked
  // SIGSEGV would make the kernel kill the whole process on a fault.
  r.allow(SCMP_SYS(rt_sigprocmask), {SCMP_A0(SCMP_CMP_EQ, SIG_UNBLOCK)});
  r.allow(SCMP_SYS(rt_sigprocmask), {SCMP_A1(SCMP_CMP_EQ, 0)});
  // The daemon's logger writes to stderr from the calling thread.
  for (int nr : {SCMP_SYS(write), SCMP_SYS(writev)}) r.allow(nr, {SCMP_A0(SCMP_CMP_EQ, 2)});
  // Once confined, the thread wakes the answerer to take its listener: an
  // eventfd's 8-byte count, nothing more.
  r.allow(SCMP_SYS(write), {SCMP_A0(SCMP_CMP_EQ, uint64_t(wake_fd)), SCMP_A2(SCMP_CMP_EQ, 8)});
  allowResources(r, resources);
  if (auto s = r.status("a plugin thread"); !s) return Error{s.error()};
  // Syscalls of other ABIs (int $0x80) go to the listener too.
  if (int rc = seccomp_attr_set(r.ctx(), SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_NOTIFY); rc != 0)
    return Error{fmt::format("seccomp: other syscall ABIs: {}", std::strerror(-rc))};
  // Loaded by hand rather than with seccomp_load, whose listener fd is one
  // process-wide slot: each plugin thread has its own listener.
  int memfd = memfd_create("raqib-seccomp", MFD_CLOEXEC);
  if (memfd < 0) return Error{fmt::format("seccomp: memfd_create: {}", std::strerror(errno))};
  std::vector<sock_filter> program;
  int rc = seccomp_export_bpf(r.ctx(), memfd);
  off_t size = rc == 0 ? lseek(memfd, 0, SEEK_END) : -1;
  if (size > 0) {
    program.resize(size_t(size) / sizeof(sock_filter));
    if (pread(memfd, program.data(), size_t(size), 0) != size) program.clear();
  }
  close(memfd);
  if (program.empty())
    return Error{fmt::format("seccomp: exporting the plugin filter failed ({})", rc)};
  sock_fprog prog{static_cast<unsigned short>(program.size()), program.data()};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)  // this thread's; required without privilege
    return Error{fmt::format("setting no_new_privs: {}", std::strerror(errno))};
  long listener =
      ::syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (listener < 0)
    return Error{fmt::format("loading the plugin's seccomp filter: {}", std::strerror(errno))};
  return int(listener);
}

bool answerNotification(int listener_fd, FaultTrap &trap) {
  seccomp_notif req{};
  if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_RECV, &req) != 0)
    return errno == EINTR || errno == ENOENT;  // ENOENT: the caller was interrupted meanwhile
  seccomp_notif_resp resp{};
  resp.id = req.id;
  // Memory made writable is charged even while the file loads (its
  // constructors run then); executable mappings only go through then.
  bool native = req.data.arch == AUDIT_ARCH_X86_64;
  bool answered = native && answerMemoryCall(req.data, trap, resp);
  if (!answered && native && trap.loading.load() && allowedWhileLoading(req.data))
    resp.flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;
  else if (!answered)
    refuse(trap, long(req.data.nr), EPERM, resp);
  if (ioctl(listener_fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) != 0 && errno != ENOENT) return false;
  return true;
}

Status confineCoreThread(CoreThread role) {
  // A core thread that strays gets EPERM rather than killing the daemon.
  Rules r(SCMP_ACT_ERRNO(EPERM));
  allowRuntime(r, false);
  r.allowAll({SCMP_SYS(rt_sigprocmask), SCMP_SYS(rt_sigaction), SCMP_SYS(exit_group),
              SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close), SCMP_SYS(poll),
              SCMP_SYS(ppoll)});
  const char *what = "the drain thread";
  // The hang signal to the daemon's own plugin threads, nothing else.
  auto allowHangSignal = [&] {
    r.allow(SCMP_SYS(tgkill), {SCMP_A0(SCMP_CMP_EQ, uint64_t(getpid())),
                               SCMP_A2(SCMP_CMP_EQ, uint64_t(hangSignal()))});
  };
  switch (role) {
    case CoreThread::drain:
      // Map operations on the fds it holds; never a load, attach or create.
      for (int cmd : {BPF_MAP_LOOKUP_ELEM, BPF_MAP_UPDATE_ELEM, BPF_MAP_DELETE_ELEM,
                      BPF_MAP_GET_NEXT_KEY, BPF_MAP_LOOKUP_BATCH, BPF_MAP_LOOKUP_AND_DELETE_BATCH,
                      BPF_ITER_CREATE, BPF_OBJ_GET_INFO_BY_FD})
        r.allow(SCMP_SYS(bpf), {SCMP_A0(SCMP_CMP_EQ, uint64_t(cmd))});
      // Boost.Asio's reactor, timers and signals.
      r.allowAll({SCMP_SYS(epoll_wait), SCMP_SYS(epoll_pwait), SCMP_SYS(epoll_ctl),
                  SCMP_SYS(timerfd_settime), SCMP_SYS(timerfd_gettime), SCMP_SYS(fcntl)});
      r.allow(SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, FIONBIO)});
      // libbpf disables a tracepoint's perf event when its link is closed.
      r.allow(SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, PERF_EVENT_IOC_DISABLE)});
      allowHangSignal();  // stop() interrupts printers still blocked on output
      // SIGHUP reads the configuration (and its list files) again, as the
      // daemon's user: read-only opens, nothing created, truncated or written.
      for (int nr : {SCMP_SYS(openat), SCMP_SYS(open)})
        r.allow(nr, {SCMP_CMP(unsigned(nr == SCMP_SYS(openat) ? 2 : 1), SCMP_CMP_MASKED_EQ,
                              O_ACCMODE | O_CREAT | O_TRUNC | O_APPEND | O_PATH, 0)});
      r.allowAll({SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(lseek)});
      // The tamper drain lists the daemon's own threads for tracers.
      r.allow(SCMP_SYS(getdents64));
      break;
    case CoreThread::watchdog:
      what = "the watchdog thread";
      allowHangSignal();
      break;
    case CoreThread::answerer:
      // The notification ioctls; the memory calls it makes for a plugin
      // thread are in allowRuntime (never executable).
      what = "the answerer thread";
      for (unsigned long cmd :
           {SECCOMP_IOCTL_NOTIF_RECV, SECCOMP_IOCTL_NOTIF_SEND, SECCOMP_IOCTL_NOTIF_ID_VALID})
        r.allow(SCMP_SYS(ioctl), {SCMP_A1(SCMP_CMP_EQ, cmd)});
      break;
  }
  if (auto s = r.status(what); !s) return s;
  if (int rc = seccomp_load(r.ctx()); rc != 0)
    return Error{fmt::format("loading the seccomp filter of {}: {}", what, std::strerror(-rc))};
  return Ok{};
}

}  // namespace raqib

// The calls that end the process, as a plugin reaches them through its PLT:
// the daemon exports these definitions (core/meson.build), so they come
// before the C library's. On a plugin thread they end the plugin's call.
extern "C" {

void exit(int status) noexcept {
  raqib::trapExitCall("exit", status);
  raqib::nextDefinition<void (*)(int)>("exit")(status);
  __builtin_unreachable();
}

void quick_exit(int status) noexcept {
  raqib::trapExitCall("quick_exit", status);
  raqib::nextDefinition<void (*)(int)>("quick_exit")(status);
  __builtin_unreachable();
}

void _exit(int status) {
  raqib::trapExitCall("_exit", status);
  raqib::nextDefinition<void (*)(int)>("_exit")(status);
  __builtin_unreachable();
}

void _Exit(int status) noexcept {
  raqib::trapExitCall("_Exit", status);
  raqib::nextDefinition<void (*)(int)>("_Exit")(status);
  __builtin_unreachable();
}

void abort() noexcept {
  raqib::trapExitCall("abort", 0);
  raqib::nextDefinition<void (*)()>("abort")();
  __builtin_unreachable();
}

void pthread_exit(void *value) {
  raqib::trapExitCall("pthread_exit", 0);
  raqib::nextDefinition<void (*)(void *)>("pthread_exit")(value);
  __builtin_unreachable();
}

}  // extern "C"
