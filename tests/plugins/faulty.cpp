// A deliberately faulty detector, built once per fault (meson defines
// FAULT_<KIND> and FAULT_NAME). It misbehaves on a file record whose path
// contains "raqib-fault-trigger", so a test decides when; "slow" is slow on
// every record, so its queue fills.
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <stdexcept>

#include <raqib/plugin.hpp>

namespace {

class Faulty {
 public:
  explicit Faulty(raqib::Host host) : host_(host) {}

  void onRecord(const raqib_record &record) {
#ifdef FAULT_SLOW
    // Busy, not asleep: 20 ms per record, well under the call timeout.
    auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(20);
    while (std::chrono::steady_clock::now() < until) {
    }
#endif
    if (!record.file || !std::strstr(record.file->path, "raqib-fault-trigger")) return;
    host_.log(RAQIB_LOG_INFO, "triggered");
    fault();
  }

 private:
  // The fault itself is the point: in a sanitizer build (test.sh's
  // build-asan) UBSan must not stop the null store before it crashes.
  __attribute__((no_sanitize("undefined"))) void fault() {
#if defined(FAULT_THROW)
    throw std::runtime_error("deliberate exception");
#elif defined(FAULT_ERROR)
    throw raqib::PluginError("deliberate error");
#elif defined(FAULT_SEGV)
    volatile int *null = nullptr;
    *null = 42;
#elif defined(FAULT_OPEN)
    int fd = open("/etc/passwd", O_RDONLY);
    if (fd >= 0) close(fd);
#elif defined(FAULT_EXECVE)
    char *argv[] = {const_cast<char *>("/bin/true"), nullptr};
    execve("/bin/true", argv, environ);
#elif defined(FAULT_FORK)
    if (fork() == 0) _exit(0);
#elif defined(FAULT_CONNECT)
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(9);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(0, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
#elif defined(FAULT_PTRACE)
    ptrace(PTRACE_PEEKDATA, 1, nullptr, nullptr);
#elif defined(FAULT_BPF)
    bpf_attr attr{};
    attr.map_type = BPF_MAP_TYPE_ARRAY;
    attr.key_size = 4;
    attr.value_size = 4;
    attr.max_entries = 1;
    syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
#elif defined(FAULT_HANG)
    for (;;) asm volatile("");
#elif defined(FAULT_HANG_MASKED)
    // Hostile: block every signal first, so the watchdog cannot interrupt it.
    sigset_t all;
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, nullptr);
    for (;;) asm volatile("");
#endif
  }

  raqib::Host host_;
};

}  // namespace

RAQIB_DETECTOR(Faulty, FAULT_NAME, "1.0.0", "deliberately faulty (tests only)", RAQIB_RECORD_FILE);
