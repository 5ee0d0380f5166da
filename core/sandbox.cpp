#include "sandbox.hpp"

#include <sys/ioctl.h>
#include <seccomp.h>
#include <signal.h>
#include <ucontext.h>
#include <sys/mman.h>
#include <linux/capability.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include <fmt/format.h>
#include <raqib/plugin_api.h>

#ifndef SYS_SECCOMP
#define SYS_SECCOMP 1  // si_code of a SIGSYS raised by a seccomp filter
#endif

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
    default:
      return "none";
  }
}

int hangSignal() {
  return SIGRTMIN + 2;
}

Fault faultOfSignal(int signal) {
  if (signal == SIGSYS) return Fault::seccomp;
  if (signal == hangSignal()) return Fault::hang;
  return Fault::crash;
}

std::string syscallName(long nr) {
  std::unique_ptr<char, void (*)(void *)> name(
      seccomp_syscall_resolve_num_arch(SCMP_ARCH_NATIVE, int(nr)), free);
  return name ? name.get() : fmt::format("syscall {}", nr);
}

namespace {

thread_local FaultTrap *t_trap = nullptr;  // the trap of this plugin thread, if it is one

void onFault(int sig, siginfo_t *info, void *context) {
  FaultTrap *trap = t_trap;  // set for a plugin thread's whole life
  if (trap && sig == SIGSYS && info->si_code == SYS_SECCOMP) {
    // Make the forbidden call fail with EPERM and let the caller go on: the
    // C library then releases whatever locks it took around the call (fork
    // holds every malloc arena). The worker reports the violation when the
    // plugin's call returns, and restarts the plugin.
    auto *uc = static_cast<ucontext_t *>(context);
#if defined(__x86_64__)
    uc->uc_mcontext.gregs[REG_RAX] = -EPERM;
#elif defined(__aarch64__)
    uc->uc_mcontext.regs[0] = uint64_t(-EPERM);
#else
#error "set the syscall return register for this architecture"
#endif
    if (!trap->violation) trap->syscall = info->si_syscall;
    trap->violation = 1;
    return;
  }
  if (trap && sig == hangSignal() &&
      (!trap->armed || trap->call_seq.load(std::memory_order_relaxed) != trap->hang_seq.load()))
    return;  // the stuck call returned meanwhile: leave the thread alone
  if (trap && trap->armed) {
    trap->armed = 0;
    trap->signal = sig;
    trap->address = reinterpret_cast<uintptr_t>(info->si_addr);
    siglongjmp(trap->env, 1);
  }
  if (sig == hangSignal()) return;  // not a plugin thread
  // Not in a plugin: the fault is the daemon's own; die of it as without us.
  signal(sig, SIG_DFL);
  if (sig == SIGSYS) raise(sig);
}

}  // namespace

void installFaultHandlers() {
  static std::once_flag once;
  std::call_once(once, [] {
    struct sigaction sa {};
    sa.sa_sigaction = onFault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGSYS, hangSignal()})
      sigaction(sig, &sa, nullptr);
  });
}

void FaultTrap::attach() {
  t_trap = this;
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
  if (!stack_) return;
  stack_t ss{};
  ss.ss_flags = SS_DISABLE;
  sigaltstack(&ss, nullptr);
  munmap(stack_, stack_size_);
  stack_ = nullptr;
}

FaultTrap::~FaultTrap() {
  // A thread left stuck keeps its stack; only the owning thread may free it.
}

void FaultTrap::arm() {
  signal = 0;
  syscall = -1;
  address = 0;
  violation = 0;
  armed = 1;
}

void FaultTrap::leave() {
  enter();
  if (violation && armed) {
    // Back in the worker, outside any lock: take the fault path.
    armed = 0;
    signal = SIGSYS;
    siglongjmp(env, 1);
  }
}

void FaultTrap::disarm() {
  armed = 0;
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

Status confineThread(uint32_t resources) {
  std::unique_ptr<void, void (*)(scmp_filter_ctx)> ctx(seccomp_init(SCMP_ACT_TRAP),
                                                       seccomp_release);
  if (!ctx) return Error{"seccomp_init failed"};
  int rc = 0;
  auto allow = [&](int nr) {
    if (rc == 0) rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0);
  };
  auto allowFd = [&](int nr, int fd) {
    if (rc == 0)
      rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 1, SCMP_A0(SCMP_CMP_EQ, uint64_t(fd)));
  };
  // The C++ runtime: allocation, locks and condition variables, clocks,
  // randomness (detection uuids), signal return and mask (the fault trap),
  // and ending this thread (exit, not exit_group: that would end the daemon).
  for (int nr : {SCMP_SYS(brk),
                 SCMP_SYS(mmap),
                 SCMP_SYS(munmap),
                 SCMP_SYS(mremap),
                 SCMP_SYS(mprotect),
                 SCMP_SYS(madvise),
                 SCMP_SYS(futex),
                 SCMP_SYS(sched_yield),
                 SCMP_SYS(clock_gettime),
                 SCMP_SYS(clock_getres),
                 SCMP_SYS(gettimeofday),
                 SCMP_SYS(nanosleep),
                 SCMP_SYS(clock_nanosleep),
                 SCMP_SYS(getrandom),
                 SCMP_SYS(rt_sigreturn),
                 SCMP_SYS(rt_sigprocmask),
                 SCMP_SYS(sigaltstack),
                 SCMP_SYS(gettid),
                 SCMP_SYS(getpid),
                 SCMP_SYS(exit),
                 SCMP_SYS(rseq)})
    allow(nr);
#ifdef __SANITIZE_ADDRESS__
  // AddressSanitizer builds only (test.sh's build-asan): when a fault jumps
  // back from the signal stack, ASan reads this thread's stack bounds with
  // pthread_getattr_np, which calls sched_getaffinity.
  allow(SCMP_SYS(sched_getaffinity));
#endif
  // The daemon's logger writes to stderr from the calling thread.
  allowFd(SCMP_SYS(write), 2);
  allowFd(SCMP_SYS(writev), 2);
  if (resources & RAQIB_RESOURCE_STDOUT) {
    allowFd(SCMP_SYS(write), 1);
    allowFd(SCMP_SYS(writev), 1);
    if (rc == 0)  // isatty(1)
      rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(ioctl), 2, SCMP_A0(SCMP_CMP_EQ, 1),
                            SCMP_A1(SCMP_CMP_EQ, uint64_t(TCGETS)));
  }
  if (resources & RAQIB_RESOURCE_FILE_WRITE)
    for (int nr : {SCMP_SYS(openat), SCMP_SYS(open), SCMP_SYS(close), SCMP_SYS(write),
                   SCMP_SYS(writev), SCMP_SYS(fsync), SCMP_SYS(fdatasync), SCMP_SYS(lseek),
                   SCMP_SYS(fstat), SCMP_SYS(newfstatat), SCMP_SYS(statx), SCMP_SYS(rename),
                   SCMP_SYS(renameat), SCMP_SYS(renameat2), SCMP_SYS(unlinkat), SCMP_SYS(unlink)})
      allow(nr);
  if (resources & RAQIB_RESOURCE_NET_TCP_OUT) {
    for (int domain : {AF_INET, AF_INET6})
      if (rc == 0)
        rc = seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, SCMP_SYS(socket), 2,
                              SCMP_A0(SCMP_CMP_EQ, uint64_t(domain)),
                              SCMP_A1(SCMP_CMP_MASKED_EQ, 0xf, uint64_t(SOCK_STREAM)));
    for (int nr :
         {SCMP_SYS(connect), SCMP_SYS(sendto), SCMP_SYS(recvfrom), SCMP_SYS(sendmsg),
          SCMP_SYS(recvmsg), SCMP_SYS(read), SCMP_SYS(write), SCMP_SYS(writev), SCMP_SYS(close),
          SCMP_SYS(poll), SCMP_SYS(ppoll), SCMP_SYS(getsockopt), SCMP_SYS(setsockopt),
          SCMP_SYS(getsockname), SCMP_SYS(getpeername), SCMP_SYS(shutdown), SCMP_SYS(fcntl)})
      allow(nr);
  }
  if (rc != 0) return Error{fmt::format("building the seccomp filter: {}", std::strerror(-rc))};
  // No SCMP_FLTATR_CTL_TSYNC: the filter applies to this thread only.
  if ((rc = seccomp_load(ctx.get())) != 0)
    return Error{fmt::format("loading the seccomp filter: {}", std::strerror(-rc))};
  return Ok{};
}

}  // namespace raqib
