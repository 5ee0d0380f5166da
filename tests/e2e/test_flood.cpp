// Floods cannot blind a recipe: ~40,000 distinct files opened around a read
// of /etc/shadow, by one process or spread over several, in what would be one
// drain interval. The read made before the flood and the read made after it
// are both detected and name their own process: the watched lane keeps them
// and their path where the flood cannot reach (bpf/watched.bpf.h). An exec
// storm around watched execs likewise, an executable a recipe names and
// execs recipes watch by a fact of them (bpf/exec_watched.bpf.h), and a flood
// of DNS questions around a question for a watched domain
// (bpf/dns_watched.bpf.h), and a flood of peers around connects to a
// watched address (bpf/peers_watched.bpf.h). What the flood itself loses is
// counted, per map and per cause.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <spawn.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <functional>
#include <fstream>
#include <set>

#include <fmt/format.h>

#include "peer_process.hpp"
#include "records.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

constexpr int kFiles = 40000;

// A temporary directory of kFiles empty files, removed with the object.
class FloodDir {
 public:
  FloodDir() {
    char tmpl[] = "/tmp/raqib-flood-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    for (int i = 0; i < kFiles; i++) close(open(file(i).c_str(), O_CREAT | O_WRONLY, 0600));
  }
  ~FloodDir() { fs::remove_all(dir_); }
  std::string file(int i) const { return dir_ + "/" + std::to_string(i); }

 private:
  std::string dir_;
};

// A child that opens /etc/shadow and exits; its pid.
pid_t readShadow() {
  pid_t pid = fork();
  if (pid == 0) {
    int fd = open("/etc/shadow", O_RDONLY);
    _exit(fd >= 0 ? 0 : 1);
  }
  waitpid(pid, nullptr, 0);
  return pid;
}

// processes children that open files [0, kFiles) of dir between them, all
// at once; returns when they are done.
void flood(const FloodDir &dir, int processes) {
  std::vector<pid_t> pids;
  for (int p = 0; p < processes; p++) {
    pid_t pid = fork();
    if (pid == 0) {
      for (int i = p; i < kFiles; i += processes) close(open(dir.file(i).c_str(), O_RDONLY));
      _exit(0);
    }
    pids.push_back(pid);
  }
  for (pid_t pid : pids) waitpid(pid, nullptr, 0);
}

// Reads /etc/shadow, floods, reads it again; both reads must be detected,
// each naming its own process.
void readFloodRead(int processes) {
  FloodDir dir;
  // A long cadence: without the early drain, the flood and both reads share
  // one interval of the 16,384-entry map and 16,384-string LRU.
  TempFile config("raqib.toml",
                  "[exec]\ncadence = \"2s\"\n[file_access]\ncadence = \"2s\"\n"
                  "[plugins.file]\n[printers.stdout]\nformat = \"json\"\n");
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  pid_t before = readShadow();
  flood(dir, processes);
  pid_t after = readShadow();

  std::set<pid_t> detected;
  daemon.waitForStdout(
      [&](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        if (!j.is_object() || j["name"] != "credentials_files_access") return false;
        EXPECT_EQ(j["file"]["path"], "/etc/shadow") << l;
        detected.insert(j["process"]["pid"].get<pid_t>());
        return detected.count(before) && detected.count(after);
      },
      30s);
  EXPECT_TRUE(detected.count(before))
      << "the read before the flood (pid " << before << ") was not detected\n"
      << daemon.stderrText();
  EXPECT_TRUE(detected.count(after))
      << "the read after the flood (pid " << after << ") was not detected\n"
      << daemon.stderrText();

  EXPECT_EQ(daemon.stop(), 0);
  json s = statsOf(daemon);
  ASSERT_FALSE(s.is_null()) << daemon.stderrText();
  EXPECT_GE(s["drained"]["file_watched"].get<long>(), 2) << s.dump();
  // Whatever of the flood did not fit was counted, by cause.
  const json &file = s["maps"]["file_access"];
  long recorded = file["inserts"].get<long>() + file["updates"].get<long>();
  long lost = file["failed"].get<long>() + file["capped"].get<long>();
  EXPECT_GE(recorded + lost, kFiles) << s.dump();
  if (processes == 1) {
    EXPECT_GT(file["capped"].get<long>(), 0) << s.dump();
  }
}

TEST(Flood, OneProcessCannotHideAReadBeforeOrAfterIt) {
  readFloodRead(1);
}

TEST(Flood, SeveralProcessesCannotHideAReadBeforeOrAfterIt) {
  readFloodRead(4);
}

// ---- processes and names: one long interval ------------------------------

// A daemon whose every drain runs at the longest cadence (each mechanism's
// drain drains the exec map, and peers' and flows' the dns map, first), so a
// flood and the act inside it share one interval: what it detects comes
// with the final drain at stop. Detections go to a logfile, which never
// blocks: stdout is not read while a flood runs, and a printer blocked on
// a full pipe drops what its queue cannot hold.
// The first of detections for which match is true, or null.
json firstOf(const std::vector<json> &detections, const std::function<bool(const json &)> &match) {
  auto it = std::find_if(detections.begin(), detections.end(), match);
  return it == detections.end() ? json() : *it;
}

class OneIntervalDaemon {
 public:
  // exec_entries: the exec map's size (0: the default); plugin_config: more
  // of the plugin's section (its recipes).
  explicit OneIntervalDaemon(const char *plugin, uint32_t exec_entries = 0,
                             const std::string &plugin_config = "")
      : dir_(tempDir()),
        config_("raqib.toml",
                configText(plugin, exec_entries, plugin_config, dir_ + "/detections.json")),
        daemon_({"--config", config_.path()}) {}
  ~OneIntervalDaemon() { fs::remove_all(dir_); }
  bool ready() { return daemon_.waitReady(); }
  // Stops the daemon (its final drain) and returns its detections.
  std::vector<json> stop() {
    EXPECT_EQ(daemon_.stop(std::chrono::seconds(60)), 0);
    return detections();
  }
  // Whether a detection match is true for is printed within timeout, while
  // the daemon runs: only an early drain prints one before the cadence.
  bool waitForDetection(const std::function<bool(const json &)> &match,
                        std::chrono::milliseconds timeout) {
    return waitUntil([&] { return !firstOf(detections(), match).is_null(); }, timeout);
  }
  json stats() { return statsOf(daemon_); }
  std::string log() const { return daemon_.stderrText(); }

 private:
  std::vector<json> detections() const {
    std::vector<json> out;
    for (const std::string &l : readLines(dir_ + "/detections.json")) {
      json j = json::parse(l, nullptr, false);
      if (j.is_object() && j["kind"] == "detection") out.push_back(std::move(j));
    }
    return out;
  }
  static std::string tempDir() {
    char tmpl[] = "/tmp/raqib-interval-XXXXXX";
    if (!mkdtemp(tmpl)) throw std::runtime_error("mkdtemp failed");
    chmod(tmpl, 0777);  // the daemon writes there after dropping root
    return tmpl;
  }
  static std::string configText(const char *plugin, uint32_t exec_entries,
                                const std::string &plugin_config, const std::string &log) {
    std::string text;
    for (std::string_view section :
         {"exec", "file_access", "network_peers", "network_flows", "dns", "tamper"}) {
      text += fmt::format("[{}]\ncadence = \"60s\"\n", section);
      if (section == "exec" && exec_entries)
        text += fmt::format("map_entries = {}\n", exec_entries);
    }
    return text + fmt::format("[plugins.{}]\n{}[printers.logfile]\npath = \"{}\"\n", plugin,
                              plugin_config, log);
  }
  std::string dir_;
  TempFile config_;
  DaemonProcess daemon_;
};

// ---- processes -----------------------------------------------------------

extern "C" char **environ;

// What a storm is made of: short-lived processes that only fork and exit
// (each an exec-map entry and nothing else), or that exec /usr/bin/true
// (two exec-map entries, and the file records of the exec and the loader's
// opens, which fill the file map and start its early drain). Their
// environment is empty: meson's LD_LIBRARY_PATH is a fact a recipe watches,
// and a storm of watched execs is another test's.
enum class Storm { Forks, Execs };

// processes children that make count short-lived processes between them,
// each keeping up to 16 in flight; returns when all are done.
void storm(Storm kind, int count, int processes) {
  std::vector<pid_t> parents;
  for (int p = 0; p < processes; p++) {
    pid_t pid = fork();
    if (pid == 0) {
      char *argv[] = {const_cast<char *>("/usr/bin/true"), nullptr};
      char *no_env[] = {nullptr};
      int running = 0;
      for (int i = p; i < count; i += processes) {
        if (running == 16 && waitpid(-1, nullptr, 0) > 0) running--;
        pid_t child = -1;
        if (kind == Storm::Execs)
          posix_spawn(&child, argv[0], nullptr, nullptr, argv, no_env);
        else if ((child = fork()) == 0)
          _exit(0);
        if (child > 0) running++;
      }
      while (waitpid(-1, nullptr, 0) > 0) {
      }
      _exit(0);
    }
    parents.push_back(pid);
  }
  for (pid_t pid : parents) waitpid(pid, nullptr, 0);
}

// Runs /usr/bin/true with env, from a copy in a memfd when fileless;
// returns its pid once it has exited.
pid_t trueAndWait(std::vector<std::string> env, bool fileless) {
  std::vector<char *> envp;
  for (std::string &e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  char *argv[] = {const_cast<char *>("/usr/bin/true"), nullptr};
  pid_t pid = fork();
  if (pid == 0) {
    if (!fileless) {
      execve(argv[0], argv, envp.data());
    } else {
      int src = open(argv[0], O_RDONLY | O_CLOEXEC);
      int fd = memfd_create("raqib-fileless", MFD_CLOEXEC);
      struct stat st {};
      if (src >= 0 && fd >= 0 && fstat(src, &st) == 0 &&
          sendfile(fd, src, nullptr, st.st_size) == st.st_size)
        fexecve(fd, argv, envp.data());
    }
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << (fileless ? "fileless " : "") << argv[0];
  return pid;
}

// A storm; a stand-in nmap run with its own arguments, a fileless exec and
// an exec with LD_PRELOAD; and another storm, all in one drain interval of
// a 1,024-entry exec map: each fork storm alone fills it many times over,
// however slowly a loaded machine forks within the 60 s cadence. The
// exec lane keeps the three (bpf/exec_watched.bpf.h): the nmap by its
// basename, the others by the facts of their exec (code_on_the_fly and
// dynamic_linker_attacks name no executable); each is detected with its
// exe, and what the storms lost is counted.
constexpr uint32_t kStormExecEntries = 1024;
void stormExecStorm(Storm kind, int count, int processes) {
  char tmpl[] = "/tmp/raqib-storm-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  std::string dir = tmpl;
  chmod(dir.c_str(), 0755);
  std::string nmap = dir + "/nmap";
  fs::copy_file("/usr/bin/true", nmap);
  chmod(nmap.c_str(), 0755);
  OneIntervalDaemon daemon("exec", kStormExecEntries);
  ASSERT_TRUE(daemon.ready()) << daemon.log();

  storm(kind, count, processes);
  ChildResult watched = runChild({nmap, "-sS", dir});
  pid_t fileless = trueAndWait({}, true);
  pid_t preload = trueAndWait({"LD_PRELOAD="}, false);
  storm(kind, count, processes);

  std::vector<json> detections = daemon.stop();
  auto detected = [&](const char *recipe, pid_t pid) {
    json d = firstOf(detections, [&](const json &j) {
      return j["name"] == recipe && j["process"]["pid"] == pid;
    });
    EXPECT_FALSE(d.is_null()) << recipe << " did not detect pid " << pid << " amid the storm\n"
                              << daemon.log();
    return d.is_null() ? json::object() : d;
  };
  json d = detected("net_scan_tool_exec", watched.pid);
  fs::remove_all(dir);
  EXPECT_EQ(d["process"]["exe"], nmap) << d;
  EXPECT_EQ(d["process"]["args"], json::array({nmap, "-sS", dir})) << d;
  d = detected("code_on_the_fly", fileless);
  EXPECT_EQ(d["process"]["exe"].get<std::string>().rfind("/memfd:raqib-fileless", 0), 0u) << d;
  d = detected("dynamic_linker_attacks", preload);
  EXPECT_EQ(d["process"]["exe"], "/usr/bin/true") << d;

  json s = daemon.stats();
  ASSERT_FALSE(s.is_null()) << daemon.log();
  EXPECT_GE(s["drained"]["exec_watched"].get<long>(), 3) << s.dump();
  // Every process of the storms was recorded or counted as lost.
  const json &exec = s["maps"]["exec"];
  EXPECT_GE(exec["inserts"].get<long>() + exec["failed"].get<long>(), 2 * count) << s.dump();
  if (kind == Storm::Forks) {
    EXPECT_GT(exec["failed"].get<long>(), 0) << s.dump();
  }
}

TEST(Flood, AForkStormFromOneParentCannotHideWatchedExecs) {
  stormExecStorm(Storm::Forks, 8 * kStormExecEntries, 1);
}

TEST(Flood, AForkStormFromSeveralParentsCannotHideWatchedExecs) {
  stormExecStorm(Storm::Forks, 8 * kStormExecEntries, 4);
}

TEST(Flood, AnExecStormCannotHideWatchedExecs) {
  stormExecStorm(Storm::Execs, 10000, 4);
}

// ---- DNS names -----------------------------------------------------------

// In a private network namespace (no packet leaves it), one process asks a
// resolver socket on its loopback for names distinct names under domain,
// then for needle, then for names more: of names not watched, each flood
// alone fills the dns map (4,096) and the two together the strings LRU
// (16,384).
const char *kDnsFlood = R"(import socket, struct, sys
needle, names, tag, domain = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
def question(name, i):
    return (struct.pack(">HHHHHH", i & 0xffff, 0x100, 1, 0, 0, 0)
            + b"".join(bytes([len(l)]) + l.encode() for l in name.split("."))
            + b"\0" + struct.pack(">HH", 1, 1))
resolver = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
resolver.bind(("127.0.0.1", 53))
c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
for i in range(names):
    c.sendto(question("n%d.%s.%s" % (i, tag, domain), i), ("127.0.0.1", 53))
c.sendto(question(needle, 7), ("127.0.0.1", 53))
for i in range(names, 2 * names):
    c.sendto(question("n%d.%s.%s" % (i, tag, domain), i), ("127.0.0.1", 53))
)";

int dnsFlood(const TempFile &script, const std::string &needle, int names, const std::string &tag,
             const std::string &domain) {
  return runChild({"/usr/bin/unshare", "-n", "/bin/sh", "-c",
                   "ip link set lo up && exec /usr/bin/python3 " + script.path() + " " + needle +
                       " " + std::to_string(names) + " " + tag + " " + domain})
      .status;
}

TEST(Flood, AFloodOfDnsNamesCannotHideAWatchedName) {
  constexpr int kNames = 10000;
  TempFile script("flood.py", kDnsFlood);
  OneIntervalDaemon daemon("net");
  ASSERT_TRUE(daemon.ready()) << daemon.log();

  // A name under the catalogue's threat domain ".malware.raqib.test", in
  // mixed case (names match whatever their case).
  std::string tag = "t" + std::to_string(getpid());
  std::string needle = tag + ".C2.Malware.raqib.test";
  ASSERT_EQ(dnsFlood(script, needle, kNames, tag, "flood.test"), 0);

  json d = firstOf(daemon.stop(), [&](const json &j) {
    return j["name"] == "threat_domain_access" && j.contains("dns") && j["dns"]["name"] == needle;
  });
  ASSERT_FALSE(d.is_null()) << "the question for " << needle << " amid the flood was not detected\n"
                            << daemon.log();
  json s = daemon.stats();
  ASSERT_FALSE(s.is_null()) << daemon.log();
  EXPECT_GE(s["drained"]["dns_watched"].get<long>(), 1) << s.dump();
  // Every question of the flood was recorded or counted as lost.
  const json &dns = s["maps"]["dns"];
  EXPECT_GT(dns["failed"].get<long>(), 0) << s.dump();
  EXPECT_GE(dns["inserts"].get<long>() + dns["failed"].get<long>(), 2 * kNames) << s.dump();
}

// Questions for 601 names under a watched domain, past half the DNS lane
// (its mark, 512 of 1024) and short of its share for names not watched
// exactly (768): the kernel wakes the core, which drains the lane at once,
// not at the next tick (60 s here), so a longer flood finds it emptied.
TEST(Flood, AFloodOfWatchedNamesDrainsTheDnsLaneEarly) {
  constexpr int kNames = 300;
  TempFile script("flood.py", kDnsFlood);
  OneIntervalDaemon daemon("net");
  ASSERT_TRUE(daemon.ready()) << daemon.log();

  std::string tag = "w" + std::to_string(getpid());
  std::string needle = tag + ".c2.malware.raqib.test";
  ASSERT_EQ(dnsFlood(script, needle, kNames, tag, "malware.raqib.test"), 0);
  EXPECT_TRUE(daemon.waitForDetection(
      [&](const json &j) {
        return j["name"] == "threat_domain_access" && j.contains("dns") &&
               j["dns"]["name"].get<std::string>().find(tag) != std::string::npos;
      },
      20s))
      << "no early drain of the DNS lane\n"
      << daemon.log();
  daemon.stop();
  json s = daemon.stats();
  ASSERT_FALSE(s.is_null()) << daemon.log();
  EXPECT_GE(s["early_dns_drains"].get<long>(), 1) << s.dump();
  EXPECT_GE(s["drained"]["dns_watched"].get<long>(), 2 * kNames + 1) << s.dump();
  EXPECT_EQ(s["maps"]["dns_watched"]["capped"].get<long>(), 0) << s.dump();
}

// ---- peers ---------------------------------------------------------------

// In a private network namespace whose loopback holds the metadata address
// (no packet leaves it), each of `processes` children connects to
// argv[4]:argv[5], sends one UDP datagram to each of its part of `peers`
// distinct 127.x.y.z addresses (port 9), then connects to argv[4]:argv[6].
// The flood is more than the peers map holds (16,384) and more than a
// process's share of it (half): without the lane, the connect after it is
// refused. The children's pids go to argv[3], one a line.
const char *kPeerFlood = R"(import os, socket, sys
peers, processes, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
host, before, after = sys.argv[4], int(sys.argv[5]), int(sys.argv[6])
listeners = []
for port in (before, after):
    s = socket.socket()
    s.bind((host, port))
    s.listen(64)
    listeners.append(s)
def flood(p):
    socket.create_connection((host, before)).close()
    u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    for i in range(p, peers, processes):
        u.sendto(b"x", ("127.%d.%d.%d" % (1 + (i >> 16), (i >> 8) & 255, i & 255), 9))
    socket.create_connection((host, after)).close()
pids = []
for p in range(processes):
    pid = os.fork()
    if pid == 0:
        flood(p)
        os._exit(0)
    pids.append(pid)
failed = sum(os.waitpid(pid, 0)[1] != 0 for pid in pids)
open(out, "w").write("".join("%d\n" % pid for pid in pids))
sys.exit(failed)
)";

// A connect a net recipe watches, before the flood and after it: by its
// address (the built-in cloud_metadata_access) or by its port alone.
struct WatchedConnect {
  const char *recipe;
  std::string host;
  std::array<int, 2> ports;   // before the flood, after it
  std::string plugin_config;  // the recipe, unless built in
};

const WatchedConnect kMetadataConnect{"cloud_metadata_access", "169.254.169.254", {80, 81}, ""};

// Only its ports single these connects out (127.0.0.1 is the flood's
// network too).
const WatchedConnect kPortConnect{"test_watched_port",
                                  "127.0.0.1",
                                  {40400, 40401},
                                  R"([[plugins.net.recipe]]
name = "test_watched_port"
description = "A connect to the test's listener ports"
tactic = "command-and-control"
technique = "T1571"
importance = "high"
ports = ["40400-40401"]
)"};

// Connects before and after a flood of peers, by one process or by each of
// several: every connect is detected, naming its own process.
void connectFloodConnect(int processes, const WatchedConnect &watched) {
  constexpr int kPeers = 40000;
  TempFile script("flood.py", kPeerFlood);
  TempFile pids("pids", "");
  OneIntervalDaemon daemon("net", 0, watched.plugin_config);
  ASSERT_TRUE(daemon.ready()) << daemon.log();
  ASSERT_EQ(runChild({"/usr/bin/unshare", "-n", "/bin/sh", "-c",
                      fmt::format("ip link set lo up && ip addr add 169.254.169.254/32 dev lo && "
                                  "exec /usr/bin/python3 {} {} {} {} {} {} {}",
                                  script.path(), kPeers, processes, pids.path(), watched.host,
                                  watched.ports[0], watched.ports[1])})
                .status,
            0);
  std::vector<std::string> lines = readLines(pids.path());
  ASSERT_EQ(lines.size(), size_t(processes));

  std::vector<json> detections = daemon.stop();
  for (const std::string &line : lines)
    for (int port : watched.ports) {
      pid_t pid = std::stoi(line);
      json d = firstOf(detections, [&](const json &j) {
        return j["name"] == watched.recipe && j["process"]["pid"] == pid &&
               j["flow"]["remote"]["port"] == port;
      });
      ASSERT_FALSE(d.is_null()) << "the connect to port " << port << " of pid " << pid
                                << " was not detected\n"
                                << daemon.log();
      EXPECT_EQ(d["flow"]["remote"]["addr"], watched.host) << d.dump();
      EXPECT_EQ(d["process"]["args"][0], "/usr/bin/python3") << d.dump();
    }
  json s = daemon.stats();
  ASSERT_FALSE(s.is_null()) << daemon.log();
  EXPECT_GE(s["drained"]["peers_watched"].get<long>(), 2 * processes) << s.dump();
  // Every datagram of the flood was recorded or counted as lost, by cause.
  const json &peers = s["maps"]["network_peers"];
  long recorded = peers["inserts"].get<long>() + peers["updates"].get<long>();
  long lost = peers["failed"].get<long>() + peers["capped"].get<long>();
  EXPECT_GE(recorded + lost, kPeers) << s.dump();
  EXPECT_GT(lost, 0) << s.dump();
  // The flood's flows (a 5-tuple per datagram) too, in their map.
  const json &flows = s["maps"]["network_flows"];
  EXPECT_GE(flows["inserts"].get<long>() + flows["updates"].get<long>() +
                flows["failed"].get<long>() + flows["capped"].get<long>(),
            kPeers)
      << s.dump();
  if (processes == 1) {  // several: early drains may start new shares first
    EXPECT_GT(peers["capped"].get<long>(), 0) << s.dump();
    EXPECT_GT(flows["capped"].get<long>(), 0) << s.dump();
  }
}

TEST(Flood, OneProcessCannotHideAWatchedPeerBeforeOrAfterIt) {
  connectFloodConnect(1, kMetadataConnect);
}

TEST(Flood, SeveralProcessesCannotHideAWatchedPeerBeforeOrAfterIt) {
  connectFloodConnect(4, kMetadataConnect);
}

TEST(Flood, OneProcessCannotHideAConnectToAWatchedPortBeforeOrAfterIt) {
  connectFloodConnect(1, kPortConnect);
}

TEST(Flood, SeveralProcessesCannotHideAConnectToAWatchedPortBeforeOrAfterIt) {
  connectFloodConnect(4, kPortConnect);
}

}  // namespace
}  // namespace raqib::test
