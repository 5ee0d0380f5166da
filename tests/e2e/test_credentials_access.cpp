// The first detection end to end: a child reads /etc/shadow; raqib's real BPF
// hooks, drain, file plugin and stdout printer report it with the right
// process and its ancestry.
#include <gtest/gtest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "records.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

constexpr int kCadenceMs = 100;

const char *kConfig = R"([exec]
cadence = "100ms"
[file_access]
cadence = "100ms"
[plugins.file]
[printers.stdout]
format = "json"
)";

int64_t unixNs(const std::string &rfc3339);

TEST(CredentialsAccess, CatEtcShadowIsDetectedWithProcessAndAncestry) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
  ASSERT_TRUE(WIFEXITED(reader.status) && WEXITSTATUS(reader.status) == 0);

  auto found = waitForDetection(daemon, reader.pid, 10s, "credentials_files_access");
  ASSERT_TRUE(found) << "no detection for pid " << reader.pid << "\nstdout:\n"
                     << daemon.stdoutText() << "\nstderr:\n"
                     << daemon.stderrText();
  const json &d = *found;
  EXPECT_EQ(d["kind"], "detection");
  EXPECT_EQ(d["plugin"], "file");
  EXPECT_EQ(d["tactic"], "credential-access");
  EXPECT_EQ(d["technique"], "T1552");
  EXPECT_EQ(d["importance"], "critical");
  EXPECT_EQ(d["process"]["exe"], "/usr/bin/cat");
  EXPECT_EQ(d["process"]["comm"], "cat");
  EXPECT_EQ(d["process"]["uid"], getuid());
  EXPECT_EQ(d["process"]["ppid"], getpid());
  EXPECT_EQ(d["process"]["args"], json::array({"/usr/bin/cat", "/etc/shadow"}));
  EXPECT_EQ(d["file"]["path"], "/etc/shadow");
  EXPECT_EQ(d["file"]["actions"], json::array({"open", "read"}));
  EXPECT_EQ(d["count"], 1);
  ASSERT_FALSE(d["ancestry"].empty());
  EXPECT_EQ(d["ancestry"][0]["pid"], getpid());  // this test is the reader's parent
  char self_exe[4096] = "";
  ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
  ASSERT_GT(n, 0);
  EXPECT_EQ(d["ancestry"][0]["exe"], std::string(self_exe, n));
  EXPECT_EQ(d["ancestry"].back()["pid"], 1);  // up to init
  EXPECT_EQ(d["uuid"].get<std::string>().size(), 36u);
  EXPECT_FALSE(d["host"].get<std::string>().empty());
  // Reported within twice the cadence of the open, by the daemon's clock.
  int64_t latency_ns = unixNs(d["time"]) - unixNs(d["last"]);
  EXPECT_GE(latency_ns, 0);
  EXPECT_LE(latency_ns, 2 * kCadenceMs * 1000000ll) << "latency " << latency_ns / 1000000 << " ms";

  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
}

TEST(CredentialsAccess, OrdinaryFilesAreNotDetected) {
  TempFile config("raqib.toml", kConfig);
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  ChildResult reader = runChild({"/usr/bin/cat", "/etc/hostname"});
  ChildResult key = runChild({"/usr/bin/cat", "/etc/ssh/ssh_host_ed25519_key.pub"});
  ChildResult marker = runChild({"/usr/bin/cat", "/etc/gshadow"});
  ASSERT_TRUE(waitForDetection(daemon, marker.pid, 10s)) << daemon.stderrText();
  // Stopping drains everything: every read has been evaluated by then.
  EXPECT_EQ(daemon.stop(), 0) << daemon.stderrText();
  EXPECT_EQ(daemon.stdoutText().find("\"pid\":" + std::to_string(reader.pid) + ","),
            std::string::npos);
  EXPECT_EQ(daemon.stdoutText().find("\"pid\":" + std::to_string(key.pid) + ","),
            std::string::npos);
}

int64_t unixNs(const std::string &t) {
  // "YYYY-MM-DDTHH:MM:SS.nnnnnnnnnZ"
  tm parts{};
  strptime(t.c_str(), "%Y-%m-%dT%H:%M:%S", &parts);
  return int64_t(timegm(&parts)) * 1000000000ll + std::stoll(t.substr(20, 9));
}

}  // namespace
}  // namespace raqib::test
