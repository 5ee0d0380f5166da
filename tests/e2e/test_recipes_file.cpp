// Every file recipe on the real kernel. What would change the machine
// happens in a private mount namespace, on a tmpfs over the directory the
// recipe watches; /proc settings are opened for writing and closed without
// a write. Each detection carries the recipe's name, MITRE tags and the
// offending process with its ancestry.
#include "recipe_fixture.hpp"

namespace raqib::test {
namespace {

using FileRecipes = RecipeTest;

// script in a private mount namespace with a tmpfs over dir.
std::string privately(const std::string &dir, const std::string &script) {
  return "unshare -m sh -c 'mount -t tmpfs raqib-test " + dir + " && " + script + "'";
}

// One file written under a tmpfs over dir in a private mount namespace.
struct WrittenFile {
  const char *test;
  const char *dir;   // mounted over
  const char *path;  // written (its directory created first)
  RecipeTags tags;
};

class FileWrites : public FileRecipes, public ::testing::WithParamInterface<WrittenFile> {};

TEST_P(FileWrites, AreDetected) {
  const WrittenFile &w = GetParam();
  std::string path = w.path;
  std::string parent = path.substr(0, path.rfind('/'));
  ASSERT_EQ(sh(privately(w.dir, "mkdir -p " + parent + " && echo raqib-test > " + path)), 0);
  json d = detection(w.tags.name, byPath(path));
  expectRecipe(d, w.tags);
  EXPECT_EQ(d["process"]["exe"], "/usr/bin/dash");
  const json &actions = d["file"]["actions"];
  EXPECT_NE(std::find(actions.begin(), actions.end(), "write"), actions.end()) << d;
}

INSTANTIATE_TEST_SUITE_P(
    Recipes, FileWrites,
    ::testing::Values(
        WrittenFile{"AuthorizedKeys",
                    "/home",
                    "/home/raqibtest/.ssh/authorized_keys",
                    {"ssh_auth_keys_modification", "file", "persistence", "T1098.004", "high"}},
        WrittenFile{"SudoersDropIn",
                    "/etc",
                    "/etc/sudoers.d/raqib-test",
                    {"sudoers_modification", "file", "privilege-escalation", "T1548.003", "high"}},
        WrittenFile{"PamConfig",
                    "/etc",
                    "/etc/pam.d/raqib-test",
                    {"pam_config_modification", "file", "credential-access", "T1556.003", "high"}},
        WrittenFile{"ProfileDropIn",
                    "/etc",
                    "/etc/profile.d/raqib-test.sh",
                    {"shell_config_modification", "file", "persistence", "T1546.004", "medium"}},
        WrittenFile{
            "AptSource",
            "/etc",
            "/etc/apt/sources.list.d/raqib-test.list",
            {"package_repo_config_modification", "file", "initial-access", "T1195.002", "medium"}},
        WrittenFile{"LdSoPreload",
                    "/etc",
                    "/etc/ld.so.preload",
                    {"global_shlib_modification", "file", "persistence", "T1574.006", "critical"}},
        WrittenFile{"CronDropIn",
                    "/etc",
                    "/etc/cron.d/raqib-test",
                    {"scheduled_task_modification", "file", "persistence", "T1053", "high"}},
        WrittenFile{"SystemdTimer",
                    "/etc",
                    "/etc/systemd/system/raqib-test.timer",
                    {"scheduled_task_modification", "file", "persistence", "T1053", "high"}},
        WrittenFile{"MinerBinary",
                    "/opt",
                    "/opt/raqib/xmrig",
                    {"crypto_miner_files", "file", "impact", "T1496", "high"}}),
    [](const auto &info) { return std::string(info.param.test); });

TEST_F(FileRecipes, FailedReadOfShadowIsAnAttempt) {
  ASSERT_NE(sh("setpriv --reuid=65534 --regid=65534 --clear-groups /usr/bin/cat /etc/shadow "
               "2>/dev/null"),
            0);
  json d = detection("credentials_files_access", [](const json &j) {
    return j["process"]["uid"] == 65534 && j["file"]["path"] == "/etc/shadow";
  });
  expectRecipe(d, {"credentials_files_access", "file", "credential-access", "T1552", "critical"});
  EXPECT_EQ(d["file"]["error"], -13);
  EXPECT_EQ(d["process"]["exe"], "/usr/bin/cat");
}

TEST_F(FileRecipes, FileCapabilitiesSet) {
  std::string file = standIn("tool");
  ASSERT_EQ(sh("/usr/bin/python3 -c \"import os, struct; os.setxattr('" + file +
               "', 'security.capability', struct.pack('<IIIII', 0x02000001, 1 << 10, 0, 0, 0))\""),
            0);
  json d = detection("capabilities_modification", byPath(file));
  expectRecipe(d, {"capabilities_modification", "file", "privilege-escalation", "T1548", "high"});
}

TEST_F(FileRecipes, AnotherProcessMemoryOpenedForWriting) {
  ASSERT_EQ(sh("/usr/bin/python3 -c \"import os, subprocess; "
               "p = subprocess.Popen(['/usr/bin/sleep', '30']); "
               "os.close(os.open('/proc/%d/mem' % p.pid, os.O_RDWR)); p.kill(); p.wait(); "
               "print(p.pid)\" > " +
               dir_ + "/pid"),
            0);
  std::string victim = readLines(dir_ + "/pid").at(0);
  json d = detection("code_modification_through_procfs", byPath("/proc/" + victim + "/mem"));
  expectRecipe(
      d, {"code_modification_through_procfs", "file", "defense-evasion", "T1055.009", "critical"});
}

TEST_F(FileRecipes, AnotherProcessEnvironmentRead) {
  ASSERT_EQ(sh("/usr/bin/sleep 30 & /usr/bin/cat /proc/$!/environ >/dev/null; kill $!; echo $! > " +
               dir_ + "/pid"),
            0);
  std::string path = "/proc/" + readLines(dir_ + "/pid").at(0) + "/environ";
  json d = detection("environ_read_from_procfs", [&](const json &j) {
    return j["file"]["path"] == path && j["process"]["exe"] == "/usr/bin/cat";
  });
  expectRecipe(d, {"environ_read_from_procfs", "file", "credential-access", "T1552", "medium"});
}

// Opened for writing and closed without writing: nothing changes. Where the
// setting is read-only (a container's /proc), the failed attempt is detected.
struct ProcSetting {
  const char *test;
  const char *path;
  RecipeTags tags;
};

class ProcSettings : public FileRecipes, public ::testing::WithParamInterface<ProcSetting> {};

TEST_P(ProcSettings, OpenedForWritingAreDetected) {
  const ProcSetting &p = GetParam();
  sh(std::string("/usr/bin/python3 -c \"import os; os.close(os.open('") + p.path +
     "', os.O_WRONLY))\" " + dir_ + " 2>/dev/null");
  json d = detection(p.tags.name, [&](const json &j) {
    return j["file"]["path"] == p.path && j["process"]["args"].size() == 4 &&
           j["process"]["args"][3] == dir_;
  });
  expectRecipe(d, p.tags);
}

INSTANTIATE_TEST_SUITE_P(Recipes, ProcSettings,
                         ::testing::Values(ProcSetting{"CorePattern",
                                                       "/proc/sys/kernel/core_pattern",
                                                       {"core_pattern_access", "file",
                                                        "privilege-escalation", "T1611", "high"}},
                                           ProcSetting{
                                               "SysrqTrigger",
                                               "/proc/sysrq-trigger",
                                               {"sysrq_access", "file", "impact", "T1529", "high"}},
                                           ProcSetting{"UnprivilegedBpf",
                                                       "/proc/sys/kernel/unprivileged_bpf_disabled",
                                                       {"unprivileged_bpf_config_access", "file",
                                                        "privilege-escalation", "T1068", "high"}}),
                         [](const auto &info) { return std::string(info.param.test); });

TEST_F(FileRecipes, TlsPrivateKeyRead) {
  ASSERT_EQ(sh(privately("/etc/ssl",
                         "mkdir /etc/ssl/private && echo k > "
                         "/etc/ssl/private/raqib-test.key && /usr/bin/cat "
                         "/etc/ssl/private/raqib-test.key >/dev/null")),
            0);
  json d = detection("ssl_certificate_access", [](const json &j) {
    return j["file"]["path"] == "/etc/ssl/private/raqib-test.key" &&
           j["process"]["exe"] == "/usr/bin/cat";
  });
  expectRecipe(d, {"ssl_certificate_access", "file", "credential-access", "T1552.004", "high"});
}

TEST_F(FileRecipes, LoginRecordsTruncatedAndDeleted) {
  ASSERT_EQ(sh(privately("/var/log",
                         "echo x > /var/log/btmp && : > /var/log/wtmp && "
                         "/usr/bin/rm /var/log/btmp")),
            0);
  json truncated = detection("auth_logs_tamper", byPath("/var/log/wtmp"));
  expectRecipe(truncated, {"auth_logs_tamper", "file", "defense-evasion", "T1070.002", "high"});
  json deleted = detection("auth_logs_tamper", [](const json &j) {
    return j["file"]["path"] == "/var/log/btmp" && j["process"]["exe"] == "/usr/bin/rm";
  });
  expectRecipe(deleted, {"auth_logs_tamper", "file", "defense-evasion", "T1070.002", "high"});
  EXPECT_EQ(deleted["file"]["actions"], json::array({"unlink"}));
}

TEST_F(FileRecipes, ProgramDeletesItself) {
  std::string rm = standIn("rm", "/usr/bin/rm");
  ASSERT_EQ(sh(rm + " " + rm), 0);
  json d = detection("binary_self_deletion", byPath(rm));
  expectRecipe(d, {"binary_self_deletion", "file", "defense-evasion", "T1070.004", "high"});
  EXPECT_EQ(d["process"]["exe"], rm);
}

}  // namespace
}  // namespace raqib::test
