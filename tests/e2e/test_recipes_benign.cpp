// An ordinary workload raises no detection of importance high or critical:
// compiling and running a C program, git init and commit, dpkg and apt-cache
// queries, python reading /etc/passwd, ssh-keygen in a temporary directory,
// ls -R /etc. Only detections about processes this test started count
// (other work on the machine goes on meanwhile).
#include "recipe_fixture.hpp"

namespace raqib::test {
namespace {

using BenignWorkload = RecipeTest;

TEST_F(BenignWorkload, RaisesNothingHighOrCritical) {
  const std::string d = dir_;
  ASSERT_EQ(sh("cd " + d +
               " && printf '#include <stdio.h>\\nint main(void) { puts(\"hi\"); "
               "return 0; }\\n' > hello.c && cc -O2 -o hello hello.c && ./hello"),
            0);
  ASSERT_EQ(sh("cd " + d +
               " && git init -q repo && cd repo && echo a > a && git add a && "
               "git -c user.name=t -c user.email=t@example.invalid commit -qm a && "
               "git log --oneline"),
            0);
  ASSERT_EQ(sh("dpkg -l >/dev/null && dpkg -S /bin/ls >/dev/null && apt-cache policy bash "
               ">/dev/null && apt-cache show coreutils >/dev/null"),
            0);
  ASSERT_EQ(sh("/usr/bin/python3 -c \"print(len(open('/etc/passwd').read().splitlines()))\""), 0);
  ASSERT_EQ(sh("ssh-keygen -q -t ed25519 -N '' -f " + d + "/id_test && cat " + d +
               "/id_test.pub >/dev/null"),
            0);
  ASSERT_EQ(sh("ls -R /etc >/dev/null 2>&1; :"), 0);
  // Marker detections after the workload, an exec and a file one: the
  // workload's records were drained and evaluated before them.
  std::string marker = standIn("nmap");
  ASSERT_EQ(sh(marker + " && : > " + dir_ + "/xmrig"), 0);
  ASSERT_TRUE(detection("net_scan_tool_exec", byExe(marker)).is_object()) << daemon_->stderrText();
  ASSERT_TRUE(detection("crypto_miner_files", byPath(dir_ + "/xmrig")).is_object())
      << daemon_->stderrText();

  std::istringstream lines(daemon_->stdoutText());
  std::vector<std::string> loud;
  for (std::string line; std::getline(lines, line);) {
    json j = json::parse(line, nullptr, false);
    if (!j.is_object() || j["kind"] != "detection") continue;
    bool ours = false;
    for (const json &a : j["ancestry"]) ours |= a["pid"] == getpid();
    if (!ours || j["process"]["exe"] == marker || j["name"] == "crypto_miner_files") continue;
    if (j["importance"] == "high" || j["importance"] == "critical") loud.push_back(line);
  }
  EXPECT_TRUE(loud.empty()) << loud.size() << " high/critical detections, the first:\n"
                            << loud.front();
}

}  // namespace
}  // namespace raqib::test
