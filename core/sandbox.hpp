// What confines a plugin to its own thread: a seccomp filter for that thread
// only, built from the plugin's declared resources, and fault trapping that
// turns a crash, a forbidden syscall or the watchdog's signal on a plugin
// thread into a jump back to that thread's worker loop instead of the end of
// the daemon. Best effort, by nature: docs/architecture.md says what is lost.
#pragma once

#include <atomic>
#include <csetjmp>
#include <csignal>
#include <cstdint>
#include <string>

#include "result.hpp"

namespace raqib {

// Why a plugin call did not return.
enum class Fault : uint8_t { none, exception, error, crash, seccomp, hang, queue_full };
const char *faultName(Fault fault);

// Install the process-wide handlers for SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGSYS and hangSignal(). Idempotent. On a thread without an armed
// FaultTrap they restore the default action, so a fault outside plugins
// still ends the process as it would have.
void installFaultHandlers();

// The signal the watchdog sends a plugin thread stuck in a call.
int hangSignal();

// One per plugin thread: the alternate signal stack, where to jump back,
// and which plugin call is running (read by the watchdog on another thread).
class FaultTrap {
 public:
  FaultTrap() = default;
  ~FaultTrap();

  // On the plugin thread: allocate and install the alternate signal stack.
  void attach();
  // On the plugin thread, before it ends: disarm and remove the stack.
  void detach();

  // Arm for this thread: RAQIB_FAULT_TRAP(trap) is 0 when armed, or the
  // signal that jumped back. The calling frame must stay live while armed:
  //   if (int sig = RAQIB_FAULT_TRAP(trap)) { ...a fault happened... }
  sigjmp_buf env;
  volatile int signal = 0;
  volatile long syscall = -1;           // SIGSYS: the forbidden syscall's number
  volatile uintptr_t address = 0;       // SIGSEGV/SIGBUS: the faulting address
  volatile sig_atomic_t violation = 0;  // a forbidden syscall failed with EPERM
  volatile sig_atomic_t armed = 0;      // env is a valid place to jump back to
  void arm();
  void disarm();

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

  FaultTrap(const FaultTrap &) = delete;
  FaultTrap &operator=(const FaultTrap &) = delete;

 private:
  void *stack_ = nullptr;
  size_t stack_size_ = 0;
};

// sigsetjmp must be called in the frame that later jumps back; a macro keeps
// it there. Saves the signal mask, so the jump unblocks the signal.
#define RAQIB_FAULT_TRAP(trap) (sigsetjmp((trap).env, 1) ? (trap).signal : ((trap).arm(), 0))

Fault faultOfSignal(int signal);
// "openat" for a syscall number of this architecture.
std::string syscallName(long nr);

// Empty the calling thread's effective, permitted and inheritable sets.
Status dropThreadCapabilities();

// Load a seccomp filter on the calling thread only (no TSYNC): the syscalls
// every plugin needs (memory, futex, clocks, getrandom, logging to fd 2,
// thread exit) plus those of its resources (raqib_resource bits). Anything
// else raises SIGSYS on the thread. Detectors get no resources.
Status confineThread(uint32_t resources);

}  // namespace raqib
