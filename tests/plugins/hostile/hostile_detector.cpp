// A hostile third-party detector, built by tests/e2e/test_hostile_plugin.cpp
// against the installed SDK alone. On a file record whose path contains
// "raqib-hostile-<attempt>" it makes that attempt on the daemon; each must be
// refused or contained and reported, and the daemon must go on detecting.
#include <fcntl.h>
#include <linux/bpf.h>
#include <linux/io_uring.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <string>
#include <thread>

#include <raqib/plugin.hpp>

namespace {

// What the thread that ran the constructors was allowed: read in the
// constructor (no plugin code may run before its thread is confined).
std::string constructorContext() {
  std::ifstream status("/proc/thread-self/status");
  std::string line, seen;
  while (std::getline(status, line))
    if (line.rfind("Uid:", 0) == 0 || line.rfind("CapEff:", 0) == 0 ||
        line.rfind("Seccomp:", 0) == 0)
      seen += line + "; ";
  return seen;
}
const std::string kConstructorContext = constructorContext();

int recurse(int depth) {
  volatile char frame[4096];
  frame[0] = char(depth);
  return recurse(depth + 1) + frame[0];
}

void attempt(const std::string &what, raqib::Host &host) {
  static const std::map<std::string, void (*)(raqib::Host &)> kAttempts = {
      {"thread", [](raqib::Host &) { std::thread([] {}).join(); }},
      {"sigblock-segv",
       [](raqib::Host &) {
         sigset_t all;
         sigfillset(&all);
         pthread_sigmask(SIG_BLOCK, &all, nullptr);
         *static_cast<volatile int *>(nullptr) = 1;
       }},
      {"exit", [](raqib::Host &) { exit(3); }},
      {"abort", [](raqib::Host &) { abort(); }},
      {"stack", [](raqib::Host &) { recurse(0); }},
      {"exec-memory",
       [](raqib::Host &) {
         void *p = mmap(nullptr, 4096, PROT_READ | PROT_WRITE | PROT_EXEC,
                        MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
         if (p != MAP_FAILED) static_cast<unsigned char *>(p)[0] = 0xc3;  // ret
       }},
      {"kill", [](raqib::Host &) { kill(getpid(), SIGKILL); }},
      {"open", [](raqib::Host &) { open("/etc/hostname", O_RDONLY); }},
      {"execve",
       [](raqib::Host &) {
         char *argv[] = {const_cast<char *>("/bin/true"), nullptr};
         execve("/bin/true", argv, environ);
       }},
      {"fork",
       [](raqib::Host &) {
         if (fork() == 0) _exit(0);
       }},
      {"connect",
       [](raqib::Host &) {
         int fd = socket(AF_UNIX, SOCK_STREAM, 0);
         sockaddr_in addr{};
         addr.sin_family = AF_INET;
         addr.sin_port = htons(9);
         addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
         connect(fd, reinterpret_cast<sockaddr *>(&addr), sizeof addr);
       }},
      {"bpf",
       [](raqib::Host &) {
         bpf_attr attr{};
         attr.map_type = BPF_MAP_TYPE_ARRAY;
         attr.key_size = attr.value_size = attr.max_entries = 4;
         syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
       }},
      {"ptrace", [](raqib::Host &) { ptrace(PTRACE_ATTACH, getpid(), nullptr, nullptr); }},
      {"io-uring",
       [](raqib::Host &) {
         io_uring_params params{};
         syscall(SYS_io_uring_setup, 8, &params);
       }},
      {"write-fd",
       [](raqib::Host &) {
         for (int fd : {0, 1, 3, 4, 5}) (void)!write(fd, "hostile\n", 8);
       }},
      {"log-flood",
       [](raqib::Host &host) {
         for (int i = 0; i < 100000; i++) host.log(RAQIB_LOG_WARN, "flood");
       }},
      {"allocate",
       [](raqib::Host &) {
         // Kept, touched, never freed: until an allocation fails.
         for (;;) {
           auto *block = static_cast<char *>(malloc(1 << 20));
           if (!block) return;
           memset(block, 1, 1 << 20);
         }
       }},
  };
  if (auto it = kAttempts.find(what); it != kAttempts.end()) it->second(host);
}

class Hostile {
 public:
  explicit Hostile(raqib::Host host) : host_(host) {
    host_.log(RAQIB_LOG_INFO, ("constructors ran with " + kConstructorContext).c_str());
  }

  // Once per trigger file, however many records name it (the test's
  // write, the read, the unlink): one fault per attempt. The set outlives
  // restarts (the library is never unloaded).
  void onRecord(const raqib_record &record) {
    static constexpr char kMarker[] = "raqib-hostile-";
    static std::set<std::string> tried;
    const char *at = record.file ? std::strstr(record.file->path, kMarker) : nullptr;
    if (at && tried.insert(record.file->path).second) attempt(at + sizeof kMarker - 1, host_);
  }

 private:
  raqib::Host host_;
};

}  // namespace

RAQIB_DETECTOR(Hostile, "hostile", "1.0.0", "tries everything a plugin must not do (tests only)",
               RAQIB_RECORD_FILE);
