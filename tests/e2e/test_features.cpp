// raqib --features: every hook type tried for real on this kernel, with what
// raqib uses it for or the fallback it takes. On these machines tp_btf,
// tracepoints and cgroup hooks load; fentry and lsm do not (EPERM).
#include <gtest/gtest.h>

#include <map>
#include <sstream>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;

// hook -> "yes"/"no", from the table's rows.
std::map<std::string, std::string> usable(const std::string &table) {
  std::map<std::string, std::string> out;
  std::istringstream in(table);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::istringstream row(line);
    std::string hook, yes_no;
    row >> hook >> yes_no;
    out[hook] = yes_no;
  }
  return out;
}

TEST(Features, TableSaysWhatThisKernelAllows) {
  DaemonProcess d({"--features"});
  ASSERT_EQ(d.wait(30s), 0) << d.stderrText();
  auto hooks = usable(d.stdoutText());
  EXPECT_EQ(hooks["tp_btf"], "yes") << d.stdoutText();
  EXPECT_EQ(hooks["tracepoint"], "yes");
  EXPECT_EQ(hooks["cgroup_skb"], "yes");
  EXPECT_EQ(hooks["cgroup_sock_addr"], "yes");
  EXPECT_EQ(hooks["bpf_task_from_vpid"], "yes");  // a kfunc of 6.13 and later
  // Refused here; each row names raqib's fallback and the kernel's error.
  EXPECT_EQ(hooks["fentry"], "no");
  EXPECT_EQ(hooks["lsm"], "no");
  EXPECT_NE(d.stdoutText().find("Operation not permitted"), std::string::npos) << d.stdoutText();
  // Then the entries to a file action raqib covers (tests/e2e/test_abi.cpp).
  for (const char *row :
       {"ia32 syscalls      yes", "open_by_handle_at  yes", "io_uring open      yes",
        "io_uring unlink    yes", "io_uring rename    yes", "io_uring link      yes",
        "io_uring setxattr  yes", "io_uring truncate  yes", "io_uring mkdir     -"})
    EXPECT_NE(d.stdoutText().find(row), std::string::npos) << row << "\n" << d.stdoutText();
}

// A kfunc refused (tests only: RAQIB_TEST_REFUSE_PROBE) is a "no" row
// naming the fallback.
TEST(Features, ARefusedKfuncNamesItsFallback) {
  ASSERT_EQ(setenv("RAQIB_TEST_REFUSE_PROBE", "bpf_task_from_vpid", 1), 0);
  DaemonProcess d({"--features"});
  unsetenv("RAQIB_TEST_REFUSE_PROBE");
  ASSERT_EQ(d.wait(30s), 0) << d.stderrText();
  EXPECT_EQ(usable(d.stdoutText())["bpf_task_from_vpid"], "no") << d.stdoutText();
  EXPECT_NE(d.stdoutText().find("compared with raqib's kernel pids"), std::string::npos)
      << d.stdoutText();
  EXPECT_NE(d.stdoutText().find("(refused by RAQIB_TEST_REFUSE_PROBE, for tests)"),
            std::string::npos)
      << d.stdoutText();
}

TEST(Features, TheDaemonLogsEachFallbackItTakes) {
  DaemonProcess d({"--format", "json"});
  ASSERT_TRUE(d.waitReady()) << d.stderrText();
  for (const char *hook : {"fentry", "lsm"})
    EXPECT_NE(d.stderrText().find(std::string(hook) + " programs are not usable here"),
              std::string::npos)
        << hook << "\n"
        << d.stderrText();
  EXPECT_EQ(d.stop(), 0);
}

}  // namespace
}  // namespace raqib::test
