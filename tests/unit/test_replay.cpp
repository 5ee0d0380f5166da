// `raqib replay` and `raqib --list-recipes`, run as the unprivileged user
// nobody: records captured with --events all go through the recipes as the
// daemon runs them, without root or BPF.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cstdio>
#include <fstream>
#include <string>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using nlohmann::json;

// The command's stdout (stderr into err_path), run as nobody; its exit status in *status.
std::string runAsNobody(const std::string &args, int *status,
                        const std::string &err_path = "/dev/null") {
  std::string cmd = "setpriv --reuid=65534 --regid=65534 --clear-groups " + raqibBinary() + " " +
                    args + " 2>" + err_path;
  FILE *p = popen(cmd.c_str(), "r");
  std::string out;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof buf, p)) > 0;) out.append(buf, n);
  int s = pclose(p);
  *status = WIFEXITED(s) ? WEXITSTATUS(s) : -1;
  return out;
}

// Records as the daemon prints them with --events all (docs/events.md).
const char *kRecords = R"({"kind":"detection","name":"ignored"}
{"time":"2026-11-26T00:44:30.1Z","kind":"info","type":"exec","process":{"pid":200,"ppid":100,"uid":0,"exe":"/tmp/x/nmap","comm":"nmap","args":["/tmp/x/nmap","-sS"],"cgroup_id":1,"start":null},"ancestry":[{"pid":100,"exe":"/usr/bin/bash","comm":"bash"},{"pid":1,"exe":"/sbin/init","comm":"systemd"}],"host":"h","exec":{"events":["fork","exec"],"exec_time":"2026-11-26T00:44:30.000000001Z"}}
{"time":"2026-11-26T00:44:30.1Z","kind":"info","type":"exec","process":{"pid":201,"ppid":100,"uid":0,"exe":"/usr/bin/dash","comm":"sh","args":["sh"],"cgroup_id":1,"start":null,"stdio_sockets":["stdin","stdout"]},"ancestry":[{"pid":100,"exe":"/usr/bin/bash","comm":"bash"}],"host":"h","exec":{"events":["exec"],"exec_time":"2026-11-26T00:44:30.000000002Z"}}
{"time":"2026-11-26T00:44:30.1Z","kind":"info","type":"file","process":{"pid":202,"ppid":100,"uid":1000,"exe":"/usr/bin/cat","comm":"cat","args":["cat","/etc/shadow"],"cgroup_id":1,"start":null},"ancestry":[],"host":"h","file":{"path":"/etc/shadow","actions":["open","read"],"error":-13},"count":1,"first":"2026-11-26T00:44:30.000000003Z","last":"2026-11-26T00:44:30.000000003Z"}
{"time":"2026-11-26T00:44:30.1Z","kind":"info","type":"file","process":{"pid":203,"ppid":100,"uid":0,"exe":"/usr/bin/cat","comm":"cat","args":["cat"],"cgroup_id":1,"start":null},"ancestry":[],"host":"h","file":{"path":"/etc/hostname","actions":["open","read"]},"count":1,"first":"2026-11-26T00:44:30.000000003Z","last":"2026-11-26T00:44:30.000000003Z"}
{"time":"2026-11-26T00:44:30.1Z","kind":"info","type":"dns","process":{"pid":204,"ppid":100,"uid":0,"exe":"/usr/bin/curl","comm":"curl","args":["curl"],"cgroup_id":1,"start":null},"ancestry":[],"host":"h","dns":{"name":"x.duckdns.org","type":"A","answers":[],"rcode":null,"queries":1,"responses":0},"count":1,"first":"2026-11-26T00:44:30.000000004Z","last":"2026-11-26T00:44:30.000000004Z"}
{"time":"2026-11-26T00:44:30.1Z","kind":"info","type":"flow","process":{"pid":205,"ppid":100,"uid":0,"exe":"/usr/bin/curl","comm":"curl","args":["curl"],"cgroup_id":1,"start":null},"ancestry":[],"host":"h","flow":{"direction":"connect","protocol":"tcp","family":4,"local":{"addr":"","port":0},"remote":{"addr":"169.254.169.254","port":80},"bytes_out":0,"bytes_in":0,"packets_out":0,"packets_in":0,"state":"","names":[]},"count":1,"first":"2026-11-26T00:44:30.000000005Z","last":"2026-11-26T00:44:30.000000005Z"}
not json
{"kind":"info","type":"file"}
)";

class Replay : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/raqib-replay-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    chmod(dir_.c_str(), 0755);
    std::ofstream(dir_ + "/records.jsonl") << kRecords;
  }
  void TearDown() override { std::system(("rm -rf " + dir_).c_str()); }
  std::string dir_;
};

TEST_F(Replay, RunsTheRecipesOverCapturedRecordsWithoutRoot) {
  int status = -1;
  std::string out = runAsNobody("replay " + dir_ + "/records.jsonl", &status, dir_ + "/err.txt");
  ASSERT_EQ(status, 0) << out;
  std::vector<json> detections;
  std::istringstream lines(out);
  for (std::string l; std::getline(lines, l);) detections.push_back(json::parse(l));
  auto named = [&](const std::string &name, int pid) {
    for (const json &d : detections)
      if (d["name"] == name && d["process"]["pid"] == pid) return d;
    return json();
  };
  json scan = named("net_scan_tool_exec", 200);
  ASSERT_TRUE(scan.is_object()) << out;
  EXPECT_EQ(scan["kind"], "detection");
  EXPECT_EQ(scan["plugin"], "exec");
  EXPECT_EQ(scan["tactic"], "discovery");
  EXPECT_EQ(scan["technique"], "T1046");
  EXPECT_EQ(scan["importance"], "high");
  EXPECT_EQ(scan["host"], "h");
  EXPECT_EQ(scan["ancestry"][0]["exe"], "/usr/bin/bash");
  EXPECT_EQ(scan["uuid"].get<std::string>().size(), 36u);
  EXPECT_TRUE(named("exec_from_unusual_dir", 200).is_object()) << out;
  EXPECT_TRUE(named("reverse_shell", 201).is_object()) << out;
  json shadow = named("credentials_files_access", 202);
  ASSERT_TRUE(shadow.is_object()) << out;
  EXPECT_EQ(shadow["file"]["error"], -13);
  EXPECT_TRUE(named("dyndns_domain_access", 204).is_object()) << out;
  EXPECT_TRUE(named("cloud_metadata_access", 205).is_object()) << out;
  EXPECT_EQ(detections.size(), 6u) << out;  // nothing about /etc/hostname
  std::ifstream err(dir_ + "/err.txt");
  std::string log((std::istreambuf_iterator<char>(err)), {});
  EXPECT_NE(log.find("records.jsonl:9: skipped, not a raqib record"), std::string::npos) << log;
  EXPECT_NE(log.find("replay: 6 records, 6 detections, 1 lines skipped"), std::string::npos) << log;
}

TEST_F(Replay, UsesTheRecipesOfTheConfiguration) {
  std::ofstream(dir_ + "/raqib.toml") << R"([plugins.exec]
[[plugins.exec.recipe]]
name = "net_scan_tool_exec"
description = "replaced: disabled"
tactic = "discovery"
technique = "T1046"
importance = "high"
enabled = false
exe = ["nmap"]
[[plugins.exec.recipe]]
name = "site_scan"
description = "nmap with -sS"
tactic = "discovery"
technique = "T1046"
importance = "low"
exe = ["nmap"]
args = ["-sS"]
[printers.stdout]
)";
  int status = -1;
  std::string out = runAsNobody(
      "replay " + dir_ + "/records.jsonl --config " + dir_ + "/raqib.toml --format text", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(" low site_scan [discovery T1046] pid=200 "), std::string::npos) << out;
  EXPECT_EQ(out.find("net_scan_tool_exec"), std::string::npos) << out;
  EXPECT_EQ(out.find("credentials_files_access"), std::string::npos) << out;  // file: not enabled
}

TEST_F(Replay, BadRecipeInTheConfigurationNamesItsPlace) {
  std::ofstream(dir_ + "/raqib.toml") << R"([plugins.net]
[[plugins.net.recipe]]
name = "x"
description = "d"
tactic = "t"
technique = "T1"
importance = "high"
addresses = ["10.0.0.0/40"]
)";
  int status = -1;
  runAsNobody("replay " + dir_ + "/records.jsonl --config " + dir_ + "/raqib.toml", &status,
              dir_ + "/err.txt");
  EXPECT_EQ(status, 2);
  std::ifstream err(dir_ + "/err.txt");
  std::string log((std::istreambuf_iterator<char>(err)), {});
  EXPECT_NE(log.find(dir_ + "/raqib.toml:8:14: recipe \"x\": \"10.0.0.0/40\": the prefix length "
                            "must be 0 to 32"),
            std::string::npos)
      << log;
  runAsNobody("--check-config " + dir_ + "/raqib.toml", &status);
  EXPECT_EQ(status, 2);
}

TEST_F(Replay, ListFilesExtendTheLists) {
  std::ofstream(dir_ + "/mine.txt") << "# addresses we watch\n  169.254.169.254  \n\n";
  std::ofstream(dir_ + "/raqib.toml") << "[plugins.net]\nlist_files = { mine = \"" + dir_ +
                                             "/mine.txt\" }\n" + R"([[plugins.net.recipe]]
name = "mine_access"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
lists = ["mine"]
)";
  int status = -1;
  std::string out = runAsNobody(
      "replay " + dir_ + "/records.jsonl --config " + dir_ + "/raqib.toml --format text", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(out.find(" low mine_access [t T1] pid=205 "), std::string::npos) << out;

  std::ofstream(dir_ + "/raqib.toml")
      << "[plugins.net]\nlist_files = { mine = \"" + dir_ + "/none.txt\" }\n";
  runAsNobody("--check-config " + dir_ + "/raqib.toml", &status, dir_ + "/err.txt");
  EXPECT_EQ(status, 2);
  std::ifstream err(dir_ + "/err.txt");
  std::string log((std::istreambuf_iterator<char>(err)), {});
  EXPECT_NE(log.find(dir_ + "/raqib.toml:2:23: list_files.mine: cannot read " + dir_ +
                     "/none.txt: No such file or directory"),
            std::string::npos)
      << log;
}

TEST_F(Replay, ListRecipesPrintsTheCatalogue) {
  int status = -1;
  std::string out = runAsNobody("--list-recipes", &status);
  ASSERT_EQ(status, 0) << out;
  EXPECT_NE(
      out.find("credentials_files_access\tfile\tcritical\tcredential-access\tT1552\tenabled\t"),
      std::string::npos)
      << out;
  EXPECT_NE(out.find("reverse_shell\texec\tcritical\texecution\tT1059.004\tenabled\t"),
            std::string::npos);
  EXPECT_NE(out.find("cloud_metadata_access\tnet\thigh\tcredential-access\tT1552.005\tenabled\t"),
            std::string::npos);
  size_t lines = std::count(out.begin(), out.end(), '\n');
  EXPECT_GE(lines, 1u + 45u);
}

}  // namespace
}  // namespace raqib::test
