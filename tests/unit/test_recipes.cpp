// The recipe language (plugins/common/recipe.*): errors with positions,
// matching of every condition kind, filters, rate limits, watched sets, and
// the built-in catalogues of the three recipe plugins.
#include <cstddef>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "recipe.hpp"

namespace raqib {
extern const char kFileRecipes[];
extern const char kExecRecipes[];
extern const char kNetRecipes[];
}  // namespace raqib

namespace raqib::recipes {
namespace {

// A record and the process it is about, owned together.
struct Fake {
  std::string exe = "/usr/bin/cat";
  std::string comm = "cat";
  std::vector<std::string> args{"cat"};
  std::vector<std::string> ancestry_exes{"/usr/bin/bash", "/sbin/init"};
  uint32_t pid = 4242, uid = 1000, exe_flags = 0;
  std::vector<const char *> argv;
  std::vector<raqib_process> procs;
  raqib_file_record file{};
  raqib_exec_record exec{};
  raqib_flow_record flow{};
  raqib_dns_record dns{};
  std::vector<const char *> names;
  raqib_record record{};

  const raqib_record &build(uint32_t kind) {
    argv.clear();
    for (auto &a : args) argv.push_back(a.c_str());
    procs.assign(1 + ancestry_exes.size(), raqib_process{});
    procs[0].pid = pid;
    procs[0].uid = uid;
    procs[0].exe = exe.c_str();
    procs[0].comm = comm.c_str();
    procs[0].args = argv.data();
    procs[0].argc = uint32_t(argv.size());
    procs[0].exe_flags = exe_flags;
    for (size_t i = 0; i < ancestry_exes.size(); i++) {
      procs[i + 1].pid = uint32_t(100 - i);
      procs[i + 1].exe = ancestry_exes[i].c_str();
      procs[i + 1].comm = "";
      procs[i + 1].argc = 0;
    }
    record = raqib_record{};
    record.kind = kind;
    record.process = &procs[0];
    record.ancestry = procs.size() > 1 ? &procs[1] : nullptr;
    record.ancestry_len = uint32_t(procs.size() - 1);
    if (kind == RAQIB_RECORD_FILE) record.file = &file;
    if (kind == RAQIB_RECORD_EXEC) record.exec = &exec;
    if (kind == RAQIB_RECORD_FLOW) {
      flow.names = names.data();
      flow.names_len = uint32_t(names.size());
      record.flow = &flow;
    }
    if (kind == RAQIB_RECORD_DNS) record.dns = &dns;
    return record;
  }
  const raqib_record &fileRecord(const char *path, uint32_t actions, int32_t error = 0,
                                 int64_t t = 1) {
    file.path = path;
    file.actions = actions;
    file.error = error;
    file.other_path = nullptr;
    file.last_unix_ns = t;
    return build(RAQIB_RECORD_FILE);
  }
  const raqib_record &execRecord() {
    exec.events = RAQIB_EXEC_EXECED;
    exec.exec_unix_ns = 1;
    return build(RAQIB_RECORD_EXEC);
  }
  const raqib_record &connectRecord(const char *addr, uint32_t port, uint32_t family = 4) {
    flow.direction = RAQIB_FLOW_CONNECT;
    flow.protocol = 6;
    flow.family = family;
    flow.remote_addr = addr;
    flow.local_addr = "";
    flow.remote_port = port;
    return build(RAQIB_RECORD_FLOW);
  }
  const raqib_record &dnsRecord(const char *name) {
    dns.name = name;
    dns.qtype = 1;
    return build(RAQIB_RECORD_DNS);
  }
};

RecipeSet parse(Plugin plugin, const std::string &text) {
  return RecipeSet::parse(plugin, {parseDocument(text, "t.toml")});
}

std::string parseError(Plugin plugin, const std::string &text) {
  try {
    parse(plugin, text);
  } catch (const RecipeError &e) {
    return e.what();
  }
  return "(parsed)";
}

std::vector<std::string> matches(RecipeSet &set, const raqib_record &record,
                                 std::vector<std::string> *reports = nullptr) {
  std::vector<std::string> names;
  set.match(
      record, [&](const Recipe &r) { names.push_back(r.meta.name); },
      [&](const std::string &line) {
        if (reports) reports->push_back(line);
      });
  return names;
}

const std::string kHead = R"([[recipe]]
name = "r"
description = "d"
tactic = "credential-access"
technique = "T1552"
importance = "high"
)";

// ---- errors -------------------------------------------------------------

TEST(RecipeErrors, UnknownKeyNamesPositionAndAllowedKeys) {
  std::string e =
      parseError(Plugin::File, kHead + "actions = [\"open\"]\npaths = [\"/x\"]\npath = 1\n");
  EXPECT_NE(e.find("t.toml:9:1: recipe \"r\": unknown key \"path\"; allowed: name, description"),
            std::string::npos)
      << e;
  EXPECT_NE(e.find("failed_attempts"), std::string::npos) << e;
}

TEST(RecipeErrors, BadActionNamesTheValueAndTheChoices) {
  std::string e =
      parseError(Plugin::File, kHead + "actions = [\"open\", \"opne\"]\npaths = [\"/x\"]\n");
  EXPECT_NE(
      e.find("t.toml:7:20: recipe \"r\": actions has no \"opne\"; allowed: open, read, write"),
      std::string::npos)
      << e;
}

TEST(RecipeErrors, BadImportanceRegexCidrPortWindowAndList) {
  auto head = [](const std::string &importance) {
    return "[[recipe]]\nname = \"r\"\ndescription = \"d\"\ntactic = \"t\"\ntechnique = \"T1\"\n"
           "importance = \"" +
           importance + "\"\n";
  };
  EXPECT_NE(parseError(Plugin::File, head("severe") + "actions=[\"open\"]\npaths=[\"/x\"]\n")
                .find("t.toml:6:14: recipe \"r\": importance has no \"severe\"; allowed: low, "
                      "medium, high, critical"),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::File, kHead + "actions=[\"open\"]\npaths=[\"re:(a\"]\n")
                .find("t.toml:8:8: recipe \"r\": paths: bad regular expression \"re:(a\""),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::Net, kHead + "addresses=[\"10.0.0.0/33\"]\n")
                .find("t.toml:7:12: recipe \"r\": \"10.0.0.0/33\": the prefix length must be 0 "
                      "to 32"),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::Net, kHead + "addresses=[\"1.2.3.4\"]\nports=[70000]\n")
                .find("t.toml:8:8: recipe \"r\": ports must be numbers 1 to 65535"),
            std::string::npos);
  EXPECT_NE(
      parseError(Plugin::Exec,
                 kHead + "exe=[\"nmap\"]\n[recipe.times]\nper=\"exe\"\nmax=1\nwindow=\"1y\"\n")
          .find("t.toml:11:8: recipe \"r\": window must be a duration"),
      std::string::npos);
  EXPECT_NE(parseError(Plugin::Net, kHead + "lists=[\"nope\"]\n")
                .find("t.toml:7:8: recipe \"r\": no list \"nope\"; defined in [lists]: none"),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::Exec, kHead + "[recipe.include]\nuser = 0\nexe=[\"x\"]\n")
                .find("t.toml:8:1: recipe \"r\": unknown key \"user\" in [recipe.include]; "
                      "allowed: exe, comm, args, uid, parent_exe, ancestor_exe, cgroup"),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::Exec, kHead + "plugin = \"file\"\nexe=[\"x\"]\n")
                .find("t.toml:7:10: recipe \"r\": plugin must be \"exec\""),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::File, kHead + "actions=[\"open\"]\npaths=[\"etc/shadow\"]\n")
                .find("a path pattern is absolute"),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::File, "[[recipe]]\nname = \"r\"\n").find("description is required"),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::File, "recipe = 1\n").find("t.toml:1:1: only [[recipe]] tables"),
            std::string::npos);
  EXPECT_NE(parseError(Plugin::File, "[[recipe]\n").find("t.toml:1:"), std::string::npos);
}

// ---- file ---------------------------------------------------------------

TEST(RecipeFile, ExactPrefixGlobBasenameRegexAndHome) {
  RecipeSet set = parse(Plugin::File, kHead + R"(actions = ["open"]
paths = ["/etc/shadow", "/etc/sudoers.d/", "/etc/cron.*/job?", "xmrig", "re:/opt/.*\\.key", "~/.ssh/id_*", "~/.cache/"]
)");
  Fake f;
  for (const char *yes : {"/etc/shadow", "/etc/sudoers.d/x", "/etc/cron.d/job1", "/tmp/a/xmrig",
                          "/opt/a/b.key", "/root/.ssh/id_rsa", "/home/alice/.ssh/id_ed25519",
                          "/root/.cache/x", "/home/bob/.cache/a/b"})
    EXPECT_EQ(matches(set, f.fileRecord(yes, RAQIB_ACTION_OPEN)), std::vector<std::string>{"r"})
        << yes;
  for (const char *no :
       {"/etc/shadowx", "/etc/sudoers.d", "/etc/cron.d/x/job1", "/tmp/xmrig2", "/opt/a.keys",
        "/home/a/b/.ssh/id_rsa", "/etc/passwd", "/home/bob/.cachex/a", "/home/bob/.cache"})
    EXPECT_TRUE(matches(set, f.fileRecord(no, RAQIB_ACTION_OPEN)).empty()) << no;
}

// The kernel matched the file by (device, inode): the name used is another
// one (a hard link, a bind mount); the watched file's name matches.
TEST(RecipeFile, WatchedPathOfAnotherNameMatches) {
  RecipeSet set = parse(Plugin::File, kHead + R"(actions = ["open"]
paths = ["/etc/shadow"]
)");
  Fake f;
  f.file.struct_size = sizeof f.file;
  f.fileRecord("/tmp/view/shadow", RAQIB_ACTION_OPEN);
  EXPECT_TRUE(matches(set, f.record).empty());
  f.file.watched_path = "/etc/shadow";
  EXPECT_EQ(matches(set, f.record).size(), 1u);
  // A record from a daemon older than the field: struct_size stops before it.
  f.file.struct_size = offsetof(raqib_file_record, watched_path);
  EXPECT_TRUE(matches(set, f.record).empty());
}

TEST(RecipeFile, ExcludedPaths) {
  RecipeSet set = parse(Plugin::File, kHead + R"(actions = ["open"]
paths = ["~/.ssh/id_*"]
exclude_paths = ["~/.ssh/id_*.pub"]
)");
  Fake f;
  EXPECT_EQ(matches(set, f.fileRecord("/home/a/.ssh/id_rsa", RAQIB_ACTION_OPEN)).size(), 1u);
  EXPECT_TRUE(matches(set, f.fileRecord("/home/a/.ssh/id_rsa.pub", RAQIB_ACTION_OPEN)).empty());
}

TEST(RecipeFile, ActionsAnyOrAllAndFailedAttempts) {
  RecipeSet any = parse(Plugin::File, kHead + "actions=[\"write\",\"truncate\"]\npaths=[\"/x\"]\n");
  RecipeSet all = parse(Plugin::File, kHead +
                                          "actions=[\"write\",\"truncate\"]\nmatch=\"all\"\n"
                                          "paths=[\"/x\"]\nfailed_attempts = true\n");
  Fake f;
  EXPECT_EQ(matches(any, f.fileRecord("/x", RAQIB_ACTION_WRITE)).size(), 1u);
  EXPECT_TRUE(matches(all, f.fileRecord("/x", RAQIB_ACTION_WRITE)).empty());
  EXPECT_EQ(matches(all, f.fileRecord("/x", RAQIB_ACTION_WRITE | RAQIB_ACTION_TRUNCATE)).size(),
            1u);
  // A failed call counts only when failed_attempts says so.
  EXPECT_TRUE(matches(any, f.fileRecord("/x", RAQIB_ACTION_WRITE, -13)).empty());
  EXPECT_EQ(
      matches(all, f.fileRecord("/x", RAQIB_ACTION_WRITE | RAQIB_ACTION_TRUNCATE, -13)).size(), 1u);
}

TEST(RecipeFile, RenameOntoWatchedPathOtherProcessAndOwnExe) {
  RecipeSet set = parse(Plugin::File, kHead + R"(actions=["rename", "write"]
paths=["/etc/sudoers"]
[[recipe]]
name = "mem"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
actions = ["write"]
other_process = true
paths = ["/proc/*/mem"]
[[recipe]]
name = "self"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
actions = ["unlink"]
own_exe = true
paths = ["/"]
)");
  Fake f;
  f.fileRecord("/etc/sudoers.tmp", RAQIB_ACTION_RENAME);
  f.file.other_path = "/etc/sudoers";
  EXPECT_EQ(matches(set, f.record), std::vector<std::string>{"r"});
  EXPECT_EQ(matches(set, f.fileRecord("/proc/1/mem", RAQIB_ACTION_WRITE)),
            std::vector<std::string>{"mem"});
  EXPECT_TRUE(matches(set, f.fileRecord("/proc/4242/mem", RAQIB_ACTION_WRITE)).empty());
  EXPECT_EQ(matches(set, f.fileRecord("/usr/bin/cat", RAQIB_ACTION_UNLINK)),
            std::vector<std::string>{"self"});
  EXPECT_TRUE(matches(set, f.fileRecord("/usr/bin/other", RAQIB_ACTION_UNLINK)).empty());
}

// ---- filters and rate limits ------------------------------------------

TEST(RecipeFilters, IncludeNeedsEveryKeyExcludeAnyKey) {
  RecipeSet set = parse(Plugin::Exec, kHead + R"(exe = ["sh", "bash"]
[recipe.include]
parent_exe = ["python3*"]
uid = [1000]
[recipe.exclude]
ancestor_exe = ["/usr/sbin/cron"]
args = ["--safe"]
)");
  Fake f;
  f.exe = "/usr/bin/bash";
  f.ancestry_exes = {"/usr/bin/python3.11", "/usr/bin/bash", "/sbin/init"};
  EXPECT_EQ(matches(set, f.execRecord()).size(), 1u);
  f.uid = 0;
  EXPECT_TRUE(matches(set, f.execRecord()).empty());  // include uid fails
  f.uid = 1000;
  f.ancestry_exes = {"/usr/bin/perl"};
  EXPECT_TRUE(matches(set, f.execRecord()).empty());  // include parent fails
  f.ancestry_exes = {"/usr/bin/python3", "/usr/sbin/cron"};
  EXPECT_TRUE(matches(set, f.execRecord()).empty());  // excluded by an ancestor
  f.ancestry_exes = {"/usr/bin/python3"};
  f.args = {"bash", "--safe"};
  EXPECT_TRUE(matches(set, f.execRecord()).empty());  // excluded by an argument
}

TEST(RecipeTimes, SuppressedDetectionsAreCountedAndReported) {
  RecipeSet set = parse(Plugin::File, kHead + R"(actions=["open"]
paths=["/x"]
[recipe.times]
per = "exe"
max = 2
window = "10s"
)");
  Fake f;
  std::vector<std::string> reports;
  int emitted = 0;
  for (int i = 0; i < 5; i++)
    emitted +=
        int(matches(set, f.fileRecord("/x", RAQIB_ACTION_OPEN, 0, 1000 + i), &reports).size());
  EXPECT_EQ(emitted, 2);
  EXPECT_TRUE(reports.empty());
  // Another exe has its own budget.
  f.exe = "/usr/bin/other";
  EXPECT_EQ(matches(set, f.fileRecord("/x", RAQIB_ACTION_OPEN, 0, 2000), &reports).size(), 1u);
  // After the window, what was suppressed is reported (by the periodic sweep).
  f.exe = "/usr/bin/cat";
  int64_t later = 1000 + 11000000000ll;
  EXPECT_EQ(matches(set, f.fileRecord("/x", RAQIB_ACTION_OPEN, 0, later), &reports).size(), 1u);
  ASSERT_EQ(reports.size(), 1u);
  EXPECT_NE(reports[0].find("recipe r: 3 detection(s) suppressed by times (at most 2 per exe in "
                            "10000ms), exe /usr/bin/cat"),
            std::string::npos)
      << reports[0];
  // Nothing is left to flush; a new suppression is flushed at stop.
  for (int i = 0; i < 3; i++) matches(set, f.fileRecord("/x", RAQIB_ACTION_OPEN, 0, later + i));
  set.flushSuppressed([&](const std::string &l) { reports.push_back(l); });
  ASSERT_EQ(reports.size(), 2u);
  EXPECT_NE(reports[1].find("2 detection(s) suppressed"), std::string::npos) << reports[1];
}

TEST(RecipeSet, DisabledRecipesAndReplacementByName) {
  RecipeSet set = RecipeSet::parse(
      Plugin::File,
      {parseDocument(kHead + "actions=[\"open\"]\npaths=[\"/x\"]\n", "a.toml"),
       parseDocument(kHead + "actions=[\"open\"]\npaths=[\"/y\"]\nenabled=false\n", "b.toml")});
  ASSERT_EQ(set.recipes().size(), 1u);
  EXPECT_FALSE(set.recipes()[0].enabled);
  EXPECT_EQ(set.recipes()[0].source, "b.toml:1:1");
  Fake f;
  EXPECT_TRUE(matches(set, f.fileRecord("/y", RAQIB_ACTION_OPEN)).empty());
}

// ---- exec ---------------------------------------------------------------

TEST(RecipeExec, ExeArgsAndFlags) {
  RecipeSet set = parse(Plugin::Exec, kHead + R"(exe = ["nmap"]
[[recipe]]
name = "grep"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
exe = ["grep"]
args = ["re:(?i).*passw.*"]
[[recipe]]
name = "flags"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
exe_flags = ["memfd", "deleted"]
[[recipe]]
name = "preload"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
env = ["LD_PRELOAD"]
[[recipe]]
name = "revshell"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
exe = ["sh"]
stdio_sockets = ["stdin", "stdout"]
)");
  Fake f;
  f.exe = "/tmp/x/nmap";
  EXPECT_EQ(matches(set, f.execRecord()), std::vector<std::string>{"r"});
  f.exe = "/usr/bin/grep";
  f.args = {"grep", "-ri", "PASSWORD", "/etc"};
  EXPECT_EQ(matches(set, f.execRecord()), std::vector<std::string>{"grep"});
  f.args = {"passwd-grep"};  // argv[0] is not an argument
  EXPECT_TRUE(matches(set, f.execRecord()).empty());
  f.exe = "/memfd:x (deleted)";
  f.exe_flags = RAQIB_EXE_MEMFD;
  EXPECT_EQ(matches(set, f.execRecord()), std::vector<std::string>{"flags"});
  f.exe = "/usr/bin/sh";
  f.exe_flags = 0;
  f.args = {"sh"};
  f.build(RAQIB_RECORD_EXEC);
  f.procs[0].flags = RAQIB_PROCESS_ENV_LD_LIBRARY_PATH | RAQIB_PROCESS_STDERR_SOCKET;
  EXPECT_TRUE(matches(set, f.record).empty());
  f.procs[0].flags = RAQIB_PROCESS_ENV_LD_PRELOAD | RAQIB_PROCESS_STDOUT_SOCKET;
  EXPECT_EQ(matches(set, f.record), (std::vector<std::string>{"preload", "revshell"}));
  // Only execs: a fork or an exit record of the same process is not one.
  f.exec.events = RAQIB_EXEC_EXITED;
  EXPECT_TRUE(matches(set, f.build(RAQIB_RECORD_EXEC)).empty());
}

// ---- net ----------------------------------------------------------------

TEST(RecipeNet, CidrsPortsDomainsListsAndEntropy) {
  RecipeSet set = parse(Plugin::Net, R"([lists]
bad = ["evil.test", ".c2.test", "192.0.2.0/24", "2001:db8::/32"]
)" + kHead + R"(addresses = ["169.254.169.254", "fd00:ec2::254"]
ports = [80, "8000-8100"]
[[recipe]]
name = "list"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
lists = ["bad"]
direction = ["connect", "dns"]
[[recipe]]
name = "dga"
description = "d"
tactic = "t"
technique = "T1"
importance = "low"
entropy_min = 3.9
entropy_min_length = 16
)");
  Fake f;
  EXPECT_EQ(matches(set, f.connectRecord("169.254.169.254", 80)), std::vector<std::string>{"r"});
  EXPECT_EQ(matches(set, f.connectRecord("fd00:ec2::254", 8050, 6)), std::vector<std::string>{"r"});
  EXPECT_TRUE(matches(set, f.connectRecord("169.254.169.254", 443)).empty());
  EXPECT_TRUE(matches(set, f.connectRecord("169.254.169.253", 80)).empty());
  EXPECT_EQ(matches(set, f.connectRecord("192.0.2.77", 443)), std::vector<std::string>{"list"});
  EXPECT_EQ(matches(set, f.connectRecord("2001:db8:1::1", 443, 6)),
            std::vector<std::string>{"list"});
  EXPECT_EQ(matches(set, f.dnsRecord("EVIL.test")), std::vector<std::string>{"list"});
  EXPECT_EQ(matches(set, f.dnsRecord("a.b.c2.test")), std::vector<std::string>{"list"});
  EXPECT_EQ(matches(set, f.dnsRecord("c2.test")), std::vector<std::string>{"list"});
  EXPECT_TRUE(matches(set, f.dnsRecord("xc2.test")).empty());
  EXPECT_TRUE(matches(set, f.dnsRecord("deb.debian.org")).empty());
  EXPECT_TRUE(matches(set, f.dnsRecord("googleusercontent.com")).empty());
  EXPECT_EQ(matches(set, f.dnsRecord("q7x9zk2vw4m8rj5tp1yb.com")), std::vector<std::string>{"dga"});
  // A connect to an address a listed name resolved to.
  f.names = {"x.c2.test"};
  EXPECT_EQ(matches(set, f.connectRecord("127.0.0.9", 443)), std::vector<std::string>{"list"});
}

// ---- the built-in catalogues --------------------------------------------

TEST(RecipeCatalogue, EveryBuiltInRecipeParsesWithMitreTagsAndWatchedSets) {
  size_t total = 0;
  for (auto [plugin, text] :
       {std::pair{Plugin::File, kFileRecipes}, std::pair{Plugin::Exec, kExecRecipes},
        std::pair{Plugin::Net, kNetRecipes}}) {
    RecipeSet set = RecipeSet::parse(plugin, {parseDocument(text, pluginName(plugin))});
    for (const Recipe &r : set.recipes()) {
      EXPECT_TRUE(r.enabled) << r.meta.name;
      EXPECT_EQ(r.meta.technique[0], 'T') << r.meta.name;
      EXPECT_FALSE(r.meta.tactic.empty()) << r.meta.name;
    }
    total += set.recipes().size();
    Watched w = set.watched();
    if (plugin == Plugin::File) {
      EXPECT_NE(std::find(w.exact.begin(), w.exact.end(), "/etc/shadow"), w.exact.end());
      EXPECT_NE(std::find(w.prefixes.begin(), w.prefixes.end(), "/etc/sudoers.d/"),
                w.prefixes.end());
    }
    if (plugin == Plugin::Exec) {
      EXPECT_NE(std::find(w.basenames.begin(), w.basenames.end(), "nmap"), w.basenames.end());
    }
    if (plugin == Plugin::Net) {
      EXPECT_NE(std::find(w.networks.begin(), w.networks.end(), "169.254.169.254"),
                w.networks.end());
      EXPECT_NE(std::find(w.prefixes.begin(), w.prefixes.end(), ".duckdns.org"), w.prefixes.end());
    }
  }
  EXPECT_GE(total, 44u);
}

}  // namespace
}  // namespace raqib::recipes
