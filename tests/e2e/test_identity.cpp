// A record names the process image that acted, not the one the pid has at
// the drain: an exec after the act, an exec chain inside one interval, and a
// pid reused inside one interval each keep their own exe and argv; a
// connection and a flow too.
#include <gtest/gtest.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <set>
#include <sstream>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "records.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

// A long interval: the act and what follows it land in the same one.
const char *kConfig = R"([exec]
cadence = "2s"
[file_access]
cadence = "2s"
[plugins.file]
[printers.stdout]
format = "json"
)";

// Every detection of recipe about pid, until stop.
std::vector<json> detectionsAbout(DaemonProcess &daemon, pid_t pid,
                                  const std::string &recipe = "credentials_files_access") {
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
  std::vector<json> out;
  std::istringstream lines(daemon.stdoutText());
  std::string line;
  while (std::getline(lines, line)) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j["name"] == recipe && j["process"]["pid"] == pid) out.push_back(j);
  }
  return out;
}

TEST(Identity, ExecAfterTheActKeepsTheActingImage) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  // The shell opens /etc/shadow itself (a redirection), then becomes true.
  const std::string script = "read x </etc/shadow; exec /usr/bin/true";
  ChildResult child = runChild({"/bin/sh", "-c", script});
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0);
  auto found = detectionsAbout(daemon, child.pid);
  ASSERT_EQ(found.size(), 1u) << daemon.stdoutText();
  EXPECT_NE(found[0]["process"]["exe"], "/usr/bin/true") << found[0].dump();
  EXPECT_EQ(found[0]["process"]["args"], json::array({"/bin/sh", "-c", script}));
}

TEST(Identity, AnExecChainKeepsEachImage) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  // env -> sh, which reads /etc/shadow -> cat, which reads it too.
  const std::string script = "read x </etc/shadow; exec /usr/bin/cat /etc/shadow";
  ChildResult child = runChild({"/usr/bin/env", "/bin/sh", "-c", script});
  ASSERT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0);
  auto found = detectionsAbout(daemon, child.pid);
  ASSERT_EQ(found.size(), 2u) << daemon.stdoutText();
  std::set<json> args;
  for (const auto &d : found) args.insert(d["process"]["args"]);
  EXPECT_EQ(args, (std::set<json>{json::array({"/bin/sh", "-c", script}),
                                  json::array({"/usr/bin/cat", "/etc/shadow"})}))
      << daemon.stdoutText();
  for (const auto &d : found) {
    if (d["process"]["args"][0] == "/usr/bin/cat") {
      EXPECT_EQ(d["process"]["exe"], "/usr/bin/cat");
    }
  }
}

// A child with exactly pid (clone3's set_tid: root in the initial pid
// namespace) that execs argv; -1 when the pid is taken.
pid_t spawnWithPid(pid_t pid, const char *exe) {
  pid_t tid = pid;
  clone_args args{};
  args.exit_signal = SIGCHLD;
  args.set_tid = reinterpret_cast<uintptr_t>(&tid);
  args.set_tid_size = 1;
  long ret = syscall(SYS_clone3, &args, sizeof args);
  if (ret == 0) {
    execl(exe, exe, nullptr);
    _exit(127);
  }
  return static_cast<pid_t>(ret);
}

TEST(Identity, APidReusedKeepsEachProcess) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  // cat reads /etc/shadow and exits; its pid goes at once to true. Another
  // process of this busy machine may take the pid first: try again.
  ChildResult reader{};
  pid_t reuser = -1;
  for (int attempt = 0; attempt < 10 && reuser < 0; attempt++) {
    reader = runChild({"/usr/bin/cat", "/etc/shadow"});
    reuser = spawnWithPid(reader.pid, "/usr/bin/true");
  }
  ASSERT_EQ(reuser, reader.pid) << "could not reuse a pid: " << std::strerror(errno);
  int status = 0;
  waitpid(reuser, &status, 0);
  auto found = detectionsAbout(daemon, reader.pid);
  ASSERT_GE(found.size(), 1u) << daemon.stdoutText();
  EXPECT_EQ(found.back()["process"]["exe"], "/usr/bin/cat") << found.back().dump();
  EXPECT_EQ(found.back()["process"]["args"], json::array({"/usr/bin/cat", "/etc/shadow"}));
}

// python running code in a private network namespace whose loopback holds
// the metadata address (no packet leaves it).
ChildResult pythonWithMetadataAddress(const std::string &code) {
  return runChild({"/usr/bin/unshare", "-n", "/bin/sh", "-c",
                   "ip link set lo up && ip addr add 169.254.169.254/32 dev lo && exec "
                   "/usr/bin/python3 -c \"" +
                       code + "\""});
}

// The detections of recipe about a python that runs code (on the metadata
// address) and then becomes true, under a daemon of config: each must name
// python, the image that acted, not true.
std::vector<json> detectionsOfAnImageThatExecs(const std::string &config_text,
                                               const std::string &code, const std::string &recipe) {
  TempFile config("raqib.toml", config_text);
  DaemonProcess daemon({"--config", config.path()});
  EXPECT_TRUE(daemon.waitReady()) << daemon.stderrText();
  const std::string acts =
      "import os, socket; s = socket.socket(); s.bind(('169.254.169.254', 80)); s.listen(1); " +
      code + "; os.execv('/usr/bin/true', ['/usr/bin/true'])";
  ChildResult child = pythonWithMetadataAddress(acts);
  EXPECT_TRUE(WIFEXITED(child.status) && WEXITSTATUS(child.status) == 0);
  auto found = detectionsAbout(daemon, child.pid, recipe);
  EXPECT_GE(found.size(), 1u) << daemon.stdoutText();
  for (const json &d : found) {
    EXPECT_NE(d["process"]["exe"], "/usr/bin/true") << d.dump();
    EXPECT_EQ(d["process"]["args"], json::array({"/usr/bin/python3", "-c", acts})) << d.dump();
  }
  return found;
}

// A connection names the image that made it.
TEST(Identity, ExecAfterAConnectKeepsTheConnectingImage) {
  auto found = detectionsOfAnImageThatExecs(
      "[exec]\ncadence = \"2s\"\n[network_peers]\ncadence = \"2s\"\n"
      "[plugins.net]\n[printers.stdout]\nformat = \"json\"\n",
      "socket.create_connection(('169.254.169.254', 80)).close()", "cloud_metadata_access");
  EXPECT_EQ(found.size(), 1u);
}

// A flow names the image that owns its socket (true's exec closes the
// socket: its FIN is sent while true runs).
TEST(Identity, ExecAfterSendingKeepsTheFlowsImage) {
  detectionsOfAnImageThatExecs(R"([exec]
cadence = "2s"
[network_flows]
cadence = "2s"
[plugins.net]
[[plugins.net.recipe]]
name = "test_metadata_flow"
description = "Traffic to the metadata address"
tactic = "credential-access"
technique = "T1552.005"
importance = "high"
addresses = ["169.254.169.254"]
direction = "flow"
[printers.stdout]
format = "json"
)",
                               "c = socket.create_connection(('169.254.169.254', 80)); "
                               "c.sendall(b'x')",
                               "test_metadata_flow");
}

}  // namespace
}  // namespace raqib::test
