// The process table recovers from exits it never saw: a process whose exit
// record the full exec map refused is found gone through the kernel's task
// iterator (no /proc: the daemon runs unprivileged by then) and leaves the
// table, so fork storms cannot grow it without bound.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include "records.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;

TEST(ProcessTable, AnExitTheFullExecMapRefusedIsReconciled) {
  TempFile config("raqib.toml",
                  "[exec]\ncadence = \"1s\"\nmap_entries = 64\n[plugins.file]\n"
                  "[printers.stdout]\nformat = \"json\"\n");
  DaemonProcess daemon({"--config", config.path(), "--events", "all"});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  // P: known to the daemon (its exec drained), then it exits while a storm
  // of other processes keeps every epoch of the exec map full.
  int gate[2];
  ASSERT_EQ(pipe(gate), 0);
  pid_t p = fork();
  if (p == 0) {
    close(gate[1]);
    char c;
    (void)!read(gate[0], &c, 1);
    _exit(0);
  }
  close(gate[0]);
  std::string exec_of_p = "\"pid\":" + std::to_string(p) + ",";
  ASSERT_TRUE(daemon.waitForStdout(
      [&](const std::string &l) {
        return l.find("\"kind\":\"info\"") != std::string::npos &&
               l.find(exec_of_p) != std::string::npos;
      },
      10s))
      << daemon.stderrText();
  pid_t storm = fork();
  if (storm == 0) {
    close(gate[1]);  // P's exit is the test's to decide
    for (;;)
      if (pid_t c = fork(); c == 0)
        _exit(0);
      else if (c > 0)
        waitpid(c, nullptr, 0);
  }
  // The storm fills the current epoch before P goes.
  ASSERT_TRUE(daemon.waitForStderr(
      [](const std::string &l) { return l.find("map exec was full") != std::string::npos; }, 10s))
      << daemon.stderrText();
  close(gate[1]);
  waitpid(p, nullptr, 0);
  ASSERT_TRUE(daemon.waitForStderr(
      [](const std::string &l) { return l.find("map exec was full") != std::string::npos; }, 10s))
      << daemon.stderrText();
  kill(storm, SIGKILL);
  waitpid(storm, nullptr, 0);

  auto reconciled = daemon.waitForStderr(
      [](const std::string &l) {
        return l.find("process table:") != std::string::npos &&
               l.find("exit was not recorded are gone") != std::string::npos;
      },
      20s);
  EXPECT_TRUE(reconciled) << daemon.stderrText().substr(0, 20000);
  EXPECT_EQ(daemon.stop(), 0);
  json s = statsOf(daemon);
  ASSERT_FALSE(s.is_null()) << daemon.stderrText();
  EXPECT_GE(s["processes"]["reconciled"].get<long>(), 1) << s.dump();
}

}  // namespace
}  // namespace raqib::test
