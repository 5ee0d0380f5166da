// Every exec recipe on the real kernel: the behaviour is performed for real
// (tools that are not installed are stand-ins named as the recipe keys on),
// and the detection carries the recipe's name, MITRE tags and the offending
// process with its ancestry.
#include "recipe_fixture.hpp"

namespace raqib::test {
namespace {

using ExecRecipes = RecipeTest;

// A stand-in named tool runs; the recipe of the tags detects it by its name.
#define TOOL_TEST(Test, tool, ...)                                  \
  TEST_F(ExecRecipes, Test) {                                       \
    std::string exe = standIn(tool);                                \
    ASSERT_EQ(sh(exe), 0);                                          \
    json d = detection((RecipeTags{__VA_ARGS__}).name, byExe(exe)); \
    expectRecipe(d, RecipeTags{__VA_ARGS__});                       \
    EXPECT_EQ(d["process"]["args"][0], exe);                        \
  }

TOOL_TEST(NetcatIsASuspiciousNetworkTool, "nc", "net_suspicious_tool_exec", "exec",
          "command-and-control", "T1095", "medium")
TOOL_TEST(NmapIsAScanner, "nmap", "net_scan_tool_exec", "exec", "discovery", "T1046", "high")
TOOL_TEST(TcpdumpIsASniffer, "tcpdump", "net_sniff_tool_exec", "exec", "credential-access", "T1040",
          "high")
TOOL_TEST(BettercapIsAMitmTool, "bettercap", "net_mitm_tool_exec", "exec", "credential-access",
          "T1557", "high")
TOOL_TEST(ScpIsAFileCopyTool, "scp", "net_filecopy_tool_exec", "exec", "exfiltration", "T1048",
          "low")
TOOL_TEST(XmrigIsAMiner, "xmrig", "crypto_miner_execution", "exec", "impact", "T1496", "critical")
TOOL_TEST(PasswdChangesAccounts, "passwd", "passwd_usage", "exec", "persistence", "T1098", "medium")
TOOL_TEST(Hping3IsADenialOfServiceTool, "hping3", "denial_of_service_tools", "exec", "impact",
          "T1498", "high")
TOOL_TEST(AProgramInTmpIsUnusual, "tool", "exec_from_unusual_dir", "exec", "execution", "T1204.002",
          "medium")
TOOL_TEST(AProgramInAHiddenDirectory, ".cache/tool", "hidden_elf_exec", "exec", "defense-evasion",
          "T1564.001", "high")

TEST_F(ExecRecipes, StratumPoolUrlInArguments) {
  ASSERT_EQ(sh("/usr/bin/true -o stratum+tcp://pool.raqib.test:3333 --donate-level=1 " + dir_), 0);
  json d = detection("crypto_miner_stratum_args", [&](const json &j) {
    return j["process"]["exe"] == "/usr/bin/true" && j["process"]["args"].back() == dir_;
  });
  expectRecipe(d, {"crypto_miner_stratum_args", "exec", "impact", "T1496", "critical"});
  EXPECT_EQ(d["process"]["exe"], "/usr/bin/true");
}

TEST_F(ExecRecipes, ProgramRunFromAMemfd) {
  std::string marker = dir_ + "/memfd-ran";
  ASSERT_EQ(sh("/usr/bin/python3 -c \"import os; fd = os.memfd_create('raqib-payload'); "
               "os.write(fd, open('/usr/bin/touch', 'rb').read()); "
               "os.execv('/proc/self/fd/%d' % fd, ['payload', '" +
               marker + "'])\""),
            0);
  json d = detection("code_on_the_fly", [&](const json &j) {
    return j["process"]["args"].size() == 2 && j["process"]["args"][1] == marker;
  });
  expectRecipe(d, {"code_on_the_fly", "exec", "defense-evasion", "T1620", "high"});
  const json &flags = d["process"]["exe_flags"];
  EXPECT_NE(std::find(flags.begin(), flags.end(), "memfd"), flags.end()) << d;
}

TEST_F(ExecRecipes, ProgramRunThroughTheDynamicLoader) {
  ASSERT_EQ(sh("/lib64/ld-linux-x86-64.so.2 /usr/bin/true " + dir_), 0);
  json d = detection("binary_executed_by_loader", [&](const json &j) {
    return j["process"]["args"].size() == 3 && j["process"]["args"][2] == dir_;
  });
  expectRecipe(d, {"binary_executed_by_loader", "exec", "defense-evasion", "T1218", "high"});
  EXPECT_EQ(d["process"]["exe_flags"], json::array({"loader"}));
}

TEST_F(ExecRecipes, PythonStartsAShell) {
  ASSERT_EQ(sh("/usr/bin/python3 -c \"import subprocess; "
               "subprocess.run(['/bin/sh', '-c', ': " +
               dir_ + "'])\""),
            0);
  json d = detection("interpreter_shell_spawn", [&](const json &j) {
    return j["process"]["args"].size() == 3 && j["process"]["args"][2] == ": " + dir_;
  });
  expectRecipe(d, {"interpreter_shell_spawn", "exec", "execution", "T1059.004", "medium"});
  EXPECT_NE(d["ancestry"][0]["exe"].get<std::string>().find("python3"), std::string::npos);
}

TEST_F(ExecRecipes, WebServerStartsAProgramAndAShell) {
  // A stand-in "nginx" (a copy of dash) runs a program, and a shell that runs one.
  std::string nginx = standIn("nginx", "/usr/bin/dash");
  ASSERT_EQ(sh(nginx + " -c '/usr/bin/true " + dir_ + "; /bin/sh -c \"/usr/bin/true; :\" " + dir_ +
               "; :'"),
            0);
  json program = detection("webserver_exec", [&](const json &j) {
    return j["process"]["exe"] == "/usr/bin/true" && j["process"]["args"].size() == 2 &&
           j["process"]["args"][1] == dir_;
  });
  expectRecipe(program, {"webserver_exec", "exec", "persistence", "T1505.003", "medium"});
  EXPECT_EQ(program["ancestry"][0]["exe"], nginx);
  json shell = detection("webserver_shell_exec", [&](const json &j) {
    return j["process"]["args"].size() == 4 && j["process"]["args"][3] == dir_;
  });
  expectRecipe(shell, {"webserver_shell_exec", "exec", "persistence", "T1505.003", "high"});
  EXPECT_EQ(shell["ancestry"][0]["exe"], nginx);
}

TEST_F(ExecRecipes, Base64EncodesData) {
  ASSERT_EQ(sh("echo secret | /usr/bin/base64 - " + dir_ + " >/dev/null 2>&1; :"), 0);
  json d = detection("data_encoder_exec", [&](const json &j) {
    return j["process"]["args"].size() == 3 && j["process"]["args"][2] == dir_;
  });
  expectRecipe(d, {"data_encoder_exec", "exec", "defense-evasion", "T1027", "low"});
}

TEST_F(ExecRecipes, GrepForPasswords) {
  ASSERT_EQ(sh("/usr/bin/grep -ri password " + dir_ + "; :"), 0);
  json d = detection("credentials_text_lookup", [&](const json &j) {
    return j["process"]["args"].size() == 4 && j["process"]["args"][3] == dir_;
  });
  expectRecipe(d, {"credentials_text_lookup", "exec", "credential-access", "T1552.001", "medium"});
  EXPECT_EQ(d["process"]["exe"], "/usr/bin/grep");
}

TEST_F(ExecRecipes, ChattrChangesAttributes) {
  ASSERT_EQ(sh("touch " + dir_ + "/f && /usr/bin/chattr -d " + dir_ + "/f 2>/dev/null; :"), 0);
  json d = detection("file_attribute_change", [&](const json &j) {
    return j["process"]["args"].size() == 3 && j["process"]["args"][2] == dir_ + "/f";
  });
  expectRecipe(d, {"file_attribute_change", "exec", "defense-evasion", "T1222.002", "medium"});
  EXPECT_EQ(d["process"]["exe"], "/usr/bin/chattr");
}

TEST_F(ExecRecipes, LdPreloadSetAtExec) {
  ASSERT_EQ(sh("LD_PRELOAD= /usr/bin/true " + dir_), 0);
  json d = detection("dynamic_linker_attacks", [&](const json &j) {
    return j["process"]["args"].size() == 2 && j["process"]["args"][1] == dir_;
  });
  expectRecipe(d, {"dynamic_linker_attacks", "exec", "defense-evasion", "T1574.006", "high"});
  const json &env = d["process"]["env"];  // meson test sets LD_LIBRARY_PATH too
  EXPECT_NE(std::find(env.begin(), env.end(), "LD_PRELOAD"), env.end()) << d;
}

TEST_F(ExecRecipes, LdLibraryPathSetAtExec) {
  ASSERT_EQ(sh("LD_LIBRARY_PATH=/nonexistent /usr/bin/true " + dir_), 0);
  json d = detection("dynamic_linker_library_path", [&](const json &j) {
    return j["process"]["args"].size() == 2 && j["process"]["args"][1] == dir_;
  });
  expectRecipe(d, {"dynamic_linker_library_path", "exec", "defense-evasion", "T1574.006", "low"});
  const json &env = d["process"]["env"];
  EXPECT_NE(std::find(env.begin(), env.end(), "LD_LIBRARY_PATH"), env.end()) << d;
}

TEST_F(ExecRecipes, ShellOnATcpSocketIsAReverseShell) {
  // A TCP connection over loopback; a shell gets one end as stdin and stdout.
  ASSERT_EQ(sh("/usr/bin/python3 -c \"import socket, subprocess; "
               "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen(1); "
               "c = socket.create_connection(s.getsockname()); a, _ = s.accept(); "
               "subprocess.run(['/bin/sh', '-c', ': " +
               dir_ + "'], stdin=c.fileno(), stdout=c.fileno())\""),
            0);
  json d = detection("reverse_shell", [&](const json &j) {
    return j["process"]["args"].size() == 3 && j["process"]["args"][2] == ": " + dir_;
  });
  expectRecipe(d, {"reverse_shell", "exec", "execution", "T1059.004", "critical"});
  EXPECT_EQ(d["process"]["stdio_sockets"], json::array({"stdin", "stdout"}));
}

TEST_F(ExecRecipes, ShellOnAPipeIsNotAReverseShell) {
  ASSERT_EQ(sh("echo | /bin/sh -c ': " + dir_ + "' | cat"), 0);
  // The marker after it: a detection of the same drain or later.
  std::string exe = standIn("nmap");
  ASSERT_EQ(sh(exe), 0);
  ASSERT_TRUE(detection("net_scan_tool_exec", byExe(exe)).is_object());
  json d = detection(
      "reverse_shell",
      [&](const json &j) {
        return j["process"]["args"].size() == 3 && j["process"]["args"][2] == ": " + dir_;
      },
      std::chrono::milliseconds(0));
  EXPECT_TRUE(d.is_null()) << d;
}

}  // namespace
}  // namespace raqib::test
