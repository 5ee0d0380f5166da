// What the file, exec and net recipes watch, in the forms the kernel's watched
// sets hold (core/watched_set.cpp, core/exec_lane.cpp): exact paths,
// directory prefixes and basenames, with the actions the recipes naming
// them watch.
#include <gtest/gtest.h>

#include <sys/sysmacros.h>

#include <algorithm>

#include "recipe.hpp"
#include "dns_lane.hpp"
#include "exec_lane.hpp"
#include "peer_lane.hpp"
#include "watched_set.hpp"

namespace raqib {
namespace {

using recipes::parseDocument;
using recipes::Plugin;
using recipes::RecipeSet;

const WatchedPath *find(const std::vector<WatchedPath> &set, const std::string &text) {
  auto it = std::find_if(set.begin(), set.end(), [&](const auto &p) { return p.text == text; });
  return it == set.end() ? nullptr : &*it;
}

TEST(WatchedSet, RecipesCompileIntoExactPrefixAndBasenameSets) {
  RecipeSet set = RecipeSet::parse(Plugin::File, {parseDocument(R"(
[[recipe]]
name = "a"
description = "d"
tactic = "credential-access"
technique = "T1552"
importance = "high"
actions = ["open"]
paths = ["/etc/shadow", "/etc/cron.d/", "~/.aws/credentials", "/root/.ssh/id_*",
         "/home/*/.ssh/id_*", "re:^/x$", "id_rsa"]
[[recipe]]
name = "b"
description = "d"
tactic = "credential-access"
technique = "T1552"
importance = "high"
actions = ["write"]
paths = ["/etc/shadow"]
[[recipe]]
name = "off"
description = "d"
tactic = "credential-access"
technique = "T1552"
importance = "high"
enabled = false
actions = ["open"]
paths = ["/disabled"]
)",
                                                                "t.toml")});
  WatchedPaths w = watchedPathsOf(set.recipes());
  ASSERT_TRUE(find(w.exact, "/etc/shadow"));
  EXPECT_EQ(find(w.exact, "/etc/shadow")->actions, RAQIB_FILE_OPEN | RAQIB_FILE_WRITE);
  EXPECT_TRUE(find(w.exact, "/root/.aws/credentials"));
  EXPECT_FALSE(find(w.exact, "/disabled"));
  EXPECT_TRUE(find(w.prefixes, "/etc/cron.d/"));
  EXPECT_TRUE(find(w.prefixes, "/root/.ssh/"));   // only the last name has a wildcard
  EXPECT_TRUE(find(w.basenames, "credentials"));  // /home/*/.aws/credentials
  EXPECT_TRUE(find(w.basenames, "id_rsa"));
  EXPECT_EQ(w.user_space_only, (std::vector<std::string>{"/home/*/.ssh/id_*", "re:^/x$"}));
}

TEST(WatchedSet, ExecRecipesCompileTheirExecutablesMarkedForTheExecLane) {
  RecipeSet set = RecipeSet::parse(Plugin::Exec, {parseDocument(R"(
[[recipe]]
name = "tools"
description = "d"
tactic = "discovery"
technique = "T1046"
importance = "high"
exe = ["nmap", "/tmp/", "/opt/tool/bin/scan", "xmrig-*", "/srv/*/run", "re:^/x$"]
[[recipe]]
name = "args only"
description = "d"
tactic = "impact"
technique = "T1496"
importance = "high"
args = ["*stratum+tcp://*"]
[[recipe]]
name = "off"
description = "d"
tactic = "discovery"
technique = "T1046"
importance = "high"
enabled = false
exe = ["disabled"]
env = ["LD_AUDIT"]
[[recipe]]
name = "fileless"
description = "d"
tactic = "defense-evasion"
technique = "T1620"
importance = "high"
exe_flags = ["memfd", "hidden"]
env = ["LD_PRELOAD"]
[[recipe]]
name = "named shell"
description = "d"
tactic = "execution"
technique = "T1059"
importance = "high"
exe = ["sh"]
stdio_sockets = ["stdin"]
)",
                                                                "t.toml")});
  WatchedExecs execs = watchedExecsOf(set.recipes());
  // Facts only for recipes whose executables are not all in the sets: the
  // named shell's socket is not one, nor the disabled recipe's marker.
  EXPECT_EQ(execs.facts, RAQIB_PROC_EXE_DELETED | RAQIB_EXEC_FACT_HIDDEN |
                             RAQIB_PROC_ENV_LD_PRELOAD | RAQIB_PROC_ENV_TRUNCATED);
  // tools's wildcard and regex patterns are in no set, and it names no fact.
  EXPECT_EQ(execs.uncovered, (std::vector<std::string>{"tools", "args only"}));
  const WatchedPaths &w = execs.paths;
  ASSERT_TRUE(find(w.basenames, "nmap"));
  EXPECT_EQ(find(w.basenames, "nmap")->actions, RAQIB_WATCH_EXEC_RECIPE);
  EXPECT_TRUE(find(w.prefixes, "/tmp/"));
  EXPECT_TRUE(find(w.exact, "/opt/tool/bin/scan"));
  EXPECT_TRUE(find(w.basenames, "run"));  // /srv/*/run
  EXPECT_FALSE(find(w.basenames, "disabled"));
  // A recipe on arguments alone watches every exec: nothing to compile.
  EXPECT_TRUE(find(w.basenames, "sh"));
  EXPECT_EQ(w.exact.size() + w.prefixes.size() + w.basenames.size(), 5u);
  EXPECT_EQ(w.user_space_only, (std::vector<std::string>{"re:^/x$", "xmrig-*"}));
}

TEST(WatchedSet, NetRecipesCompileTheirDomainsInWireFormat) {
  RecipeSet set = RecipeSet::parse(Plugin::Net, {parseDocument(R"(
[[recipe]]
name = "threats"
description = "d"
tactic = "command-and-control"
technique = "T1071"
importance = "high"
domains = ["C2.Example.invalid", ".Bad.example", "*.worse.example"]
)",
                                                               "t.toml")});
  WatchedPaths w = watchedDomainsOf(set.recipes());
  ASSERT_TRUE(find(w.exact, "c2.example.invalid"));
  EXPECT_EQ(find(w.exact, "c2.example.invalid")->actions, RAQIB_WATCH_DNS_RECIPE);
  EXPECT_TRUE(find(w.prefixes, "bad.example"));  // it and every name under it
  EXPECT_TRUE(find(w.prefixes, "worse.example"));
  EXPECT_EQ(dnsWireName("c2.Example.com"), std::string("\x02"
                                                       "c2\x07"
                                                       "example\x03"
                                                       "com",
                                                       15) +
                                               '\0');
  EXPECT_FALSE(dnsWireName("a..b"));
  EXPECT_FALSE(dnsWireName(std::string(64, 'a') + ".com"));  // a label of 64
  EXPECT_FALSE(
      dnsWireName(std::string(62, 'a') + "." + std::string(61, 'b') + ".com"));  // 130 bytes
}

// Each network once, masked to its prefix; a narrower one gets the
// directions of the wider ones around it (the kernel's longest match then
// says it all); the ports of recipes no address singles out, each range
// once; recipes neither singles out are listed.
TEST(WatchedSet, NetRecipesCompileTheirAddressesForThePeersLane) {
  RecipeSet set = RecipeSet::parse(Plugin::Net, {parseDocument(R"(
[[recipe]]
name = "connects"
description = "d"
tactic = "command-and-control"
technique = "T1071"
importance = "high"
addresses = ["198.51.100.7/24", "2001:db8:bad::/48", "192.0.2.66"]
[[recipe]]
name = "accepts"
description = "d"
tactic = "command-and-control"
technique = "T1071"
importance = "high"
addresses = ["198.51.100.9", "198.51.100.0/24"]
direction = "accept"
[[recipe]]
name = "ports_only"
description = "d"
tactic = "command-and-control"
technique = "T1071"
importance = "high"
ports = [4444]
[[recipe]]
name = "names_and_ports"
description = "d"
tactic = "command-and-control"
technique = "T1071"
importance = "high"
domains = ["c2.example"]
addresses = ["192.0.2.66"]
ports = [4444, "8000-8100"]
direction = ["connect", "accept"]
[[recipe]]
name = "names_only"
description = "d"
tactic = "command-and-control"
technique = "T1071"
importance = "high"
domains = ["c2.example"]
direction = "connect"
[[recipe]]
name = "flows"
description = "d"
tactic = "command-and-control"
technique = "T1071"
importance = "high"
addresses = ["203.0.113.1"]
direction = "flow"
)",
                                                               "t.toml")});
  WatchedPeers w = watchedPeersOf(set.recipes());
  auto at = [&](uint32_t family, std::vector<uint8_t> bytes, uint32_t prefix) {
    std::array<uint8_t, 16> addr{};
    std::copy(bytes.begin(), bytes.end(), addr.begin());
    auto it = std::find_if(w.prefixes.begin(), w.prefixes.end(), [&](const WatchedPeer &p) {
      return p.family == family && p.addr == addr && p.prefix == prefix;
    });
    return it == w.prefixes.end() ? 0u : it->directions;
  };
  constexpr uint32_t kConnect = 1u << RAQIB_NET_CONNECT, kAccept = 1u << RAQIB_NET_ACCEPT;
  EXPECT_EQ(w.prefixes.size(), 4u);
  EXPECT_EQ(at(4, {198, 51, 100, 0}, 24), kConnect | kAccept);  // two recipes, masked
  EXPECT_EQ(at(4, {198, 51, 100, 9}, 32), kConnect | kAccept);  // inside the /24
  EXPECT_EQ(at(4, {192, 0, 2, 66}, 32), kConnect | kAccept);
  EXPECT_EQ(at(6, {0x20, 0x01, 0x0d, 0xb8, 0x0b, 0xad}, 48), kConnect);
  EXPECT_EQ(w.ports, (std::vector<WatchedPorts>{{4444, 4444, kConnect | kAccept},
                                                {8000, 8100, kConnect | kAccept}}));
  EXPECT_EQ(w.uncovered, std::vector<std::string>{"names_only"});
}

TEST(WatchedSet, KernelDevIsMajorShiftedTwentyOrMinor) {
  EXPECT_EQ(kernelDev(makedev(8, 1)), (8ull << 20) | 1);
  EXPECT_EQ(kernelDev(makedev(259, 65537)), (259ull << 20) | 65537);
}

}  // namespace
}  // namespace raqib
