// What confines the daemon's threads after start-up. Every thread runs under
// a seccomp filter of its own (no TSYNC): the drain loop, the watchdog and
// the answerer under filters of what they need, each plugin thread under one built from
// the resources its ELF file declares, installed before any of the plugin's
// code (constructors included) runs on it.
//
// A plugin thread's forbidden syscalls are not signalled: they go to the
// answerer thread as seccomp user notifications, which it answers (EPERM,
// recorded as the plugin's violation; memory calls charged against the
// plugin's limit), so a plugin that blocks or ignores signals
// cannot turn its own violation into the end of the daemon. Faults (SIGSEGV
// and friends, the watchdog's hang signal) and calls that would end the
// process (exit, _exit, quick_exit, abort, pthread_exit) on a plugin thread
// jump back to that thread's worker loop. Best effort, by nature:
// docs/architecture.md says what a hostile plugin can still do.
#pragma once

#include <array>
#include <atomic>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <string>

#include "result.hpp"

namespace raqib {

// Why a plugin call did not return.
enum class Fault : uint8_t {
  none,
  exception,
  error,
  crash,
  seccomp,
  hang,
  queue_full,
  log_flood,
  memory
};
const char *faultName(Fault fault);

// Install the process-wide handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL and
// hangSignal(). Idempotent. On a thread without an armed FaultTrap a fault
// ends the process as it would have without them.
void installFaultHandlers();

// The signal the watchdog sends a plugin thread stuck in a call.
int hangSignal();

// RAQIB_FAULT_TRAP's value when the plugin called exit() and friends.
inline constexpr int kExitCalled = -1;

// Address ranges, merged as they are added: the memory a plugin thread made
// writable, for its memory limit. Kept by the answerer thread, which must
// never allocate (a plugin thread may wait for its answer while holding a
// malloc arena's lock), so its capacity is fixed.
class MemoryRanges {
 public:
  static constexpr size_t kCapacity = 4096;
  uint64_t bytes() const { return bytes_; }
  // Bytes of [start, end) not in the ranges yet.
  uint64_t uncovered(uint64_t start, uint64_t end) const;
  // Ranges that can still be added (each add or remove needs at most one).
  size_t room() const { return kCapacity - count_; }
  // Needs room() > 0.
  void add(uint64_t start, uint64_t end);
  // Takes [start, end) out; returns how many bytes of it were in. A range
  // that would split in two with no room stays in whole (still charged).
  uint64_t remove(uint64_t start, uint64_t end);

 private:
  struct Range {
    uint64_t start, end;
  };
  // The first range that ends after at (or at it, when touching counts).
  size_t firstEndingAfter(uint64_t at, bool touching) const;
  std::array<Range, kCapacity> ranges_{};  // [0, count_): sorted, disjoint, none touching the next
  size_t count_ = 0;
  uint64_t bytes_ = 0;
};

// One per plugin thread: the alternate signal stack, where to jump back,
// which plugin call is running, and what the watchdog and the answerer
// recorded for it.
class FaultTrap {
 public:
  FaultTrap() = default;
  ~FaultTrap();

  // On the plugin thread: install the alternate signal stack (owned here,
  // freed with the trap after the thread ended) and mark the thread.
  void attach();
  // On the plugin thread, before it ends: disarm and unmark the thread.
  void detach();

  // Arm for this thread: RAQIB_FAULT_TRAP(trap) is 0 when armed, or the
  // signal (or kExitCalled) that jumped back. The calling frame must stay
  // live while armed:
  //   if (int sig = RAQIB_FAULT_TRAP(trap)) { ...a fault happened... }
  sigjmp_buf env;
  volatile int signal = 0;
  volatile uintptr_t address = 0;       // SIGSEGV/SIGBUS: the faulting address
  const char *volatile exit_call = "";  // kExitCalled: "exit", "abort", ...
  volatile int exit_status = 0;
  volatile sig_atomic_t armed = 0;  // env is a valid place to jump back to
  void arm();
  void disarm() { armed = 0; }

  // Around every plugin call: call_seq is odd while one runs. leave() takes
  // the fault path (jumps back) when the call made a forbidden syscall.
  void enter() {
    call_seq.store(call_seq.load(std::memory_order_relaxed) + 1, std::memory_order_release);
  }
  void leave();
  bool inCall() const { return call_seq.load(std::memory_order_relaxed) & 1; }
  std::atomic<uint64_t> call_seq{0};
  // The call the watchdog gave up on: hangSignal() jumps back only while
  // that very call still runs.
  std::atomic<uint64_t> hang_seq{~0ull};

  // Around host callbacks the plugin calls (log, emit, ...): the hang signal
  // does not jump out of them, which could leave a host lock (the logger's)
  // held; it is taken when the callback returns.
  class HostCall {
   public:
    HostCall();
    ~HostCall();

   private:
    FaultTrap *trap_;
  };

  // Written by the answerer thread answering this thread's seccomp
  // notifications; it takes no lock and allocates nothing (the plugin
  // thread may be waiting for it with a malloc arena's lock held).
  std::atomic<int> notify_fd{-1};   // the thread's listener, once confined
  bool listener_gone = false;       // the answerer's: the thread under it ended
  std::atomic<bool> loading{true};  // the plugin's file is being loaded
  std::atomic<bool> violation{false};
  std::array<std::atomic<long>, 4> syscalls{-1, -1, -1, -1};  // the first distinct forbidden ones
  // Memory the thread made writable (mmap, mprotect, mremap, brk), less
  // what it unmapped, against memory_limit (set before it is confined).
  // memory is the answerer's; memory_charged mirrors its size for reports.
  size_t memory_limit = SIZE_MAX;
  MemoryRanges memory;
  std::atomic<size_t> memory_charged{0};
  std::atomic<bool> memory_refused{false};  // since arm(): the violation was the limit
  // "openat, clone3": the forbidden syscalls recorded since arm().
  std::string forbiddenSyscalls() const;

  FaultTrap(const FaultTrap &) = delete;
  FaultTrap &operator=(const FaultTrap &) = delete;

 private:
  volatile sig_atomic_t in_host_ = 0;
  volatile sig_atomic_t hang_pending_ = 0;
  void *stack_ = nullptr;
  size_t stack_size_ = 0;
  friend void onFault(int, siginfo_t *, void *);
};

// sigsetjmp must be called in the frame that later jumps back; a macro keeps
// it there. The mask is not saved: the handlers run with SA_NODEFER and an
// empty sa_mask, so the jump leaves the thread's mask as it was, and plugin
// threads may not call rt_sigprocmask to set it.
#define RAQIB_FAULT_TRAP(trap) (sigsetjmp((trap).env, 0) ? (trap).signal : ((trap).arm(), 0))

Fault faultOfSignal(int signal);
// "openat" for a syscall number of this architecture.
std::string syscallName(long nr);

// Empty the calling thread's effective, permitted and inheritable sets.
Status dropThreadCapabilities();

// Load a seccomp filter on the calling plugin thread only: the syscalls
// every plugin needs (memory without PROT_EXEC, futex, clocks, getrandom,
// logging to fd 2, unblocking signals, thread exit) plus those of its
// resources (raqib_resource bits), and 8-byte writes to wake_fd (the
// answerer's eventfd). Everything else is sent to the listener whose fd is
// returned, for answerNotification.
Result<int> confinePluginThread(uint32_t resources, int wake_fd);

// Answer one pending notification of a plugin thread's listener. While
// trap.loading, what loading a shared object needs (read-only opens, reads,
// executable mappings) goes through. Memory made writable (while loading
// too) is charged to trap (memory_charged; unmapping gives it back): within
// memory_limit it goes through, past it fails with ENOMEM. Anything else
// fails with EPERM.
// Refusals are recorded in trap (violation, syscalls, memory_refused).
// Allocates nothing and takes no lock. False when the listener is gone.
bool answerNotification(int listener_fd, FaultTrap &trap);

// The daemon's own threads, each confined to what it needs.
enum class CoreThread {
  drain,     // the event loop: BPF map operations, timers, signals, logging
  watchdog,  // plugin supervision: clocks, the hang signal
  answerer,  // the plugin threads' seccomp notifications (never allocates)
};
Status confineCoreThread(CoreThread role);

}  // namespace raqib
