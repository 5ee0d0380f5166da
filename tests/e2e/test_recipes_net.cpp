// Every net recipe on the real kernel, in private network namespaces: the
// metadata and threat addresses are put on the namespace's loopback, and DNS
// questions go to a resolver socket on its 127.0.0.1:53, so no packet leaves
// the machine. Each detection carries the recipe's name, MITRE tags and the
// offending process with its ancestry.
#include <random>

#include "recipe_fixture.hpp"

namespace raqib::test {
namespace {

using NetRecipes = RecipeTest;

// python3 running code in a fresh network namespace whose loopback is up and
// also holds address (when not empty).
std::string inNetns(const std::string &address, const std::string &code) {
  std::string add = address.empty() ? "" : "ip addr add " + address + " dev lo && ";
  return "unshare -n sh -c 'ip link set lo up && " + add + "exec /usr/bin/python3 -c \"" + code +
         "\"'";
}

// A TCP listener on addr:80 and a connection to it.
std::string connectTo(const std::string &addr) {
  return inNetns(addr + "/32", "import socket; s = socket.socket(); s.bind((\\\"" + addr +
                                   "\\\", 80)); s.listen(1); "
                                   "c = socket.create_connection((\\\"" +
                                   addr + "\\\", 80)); c.close()");
}

// A DNS question for name, sent to a resolver socket on 127.0.0.1:53.
std::string askFor(const std::string &name) {
  return inNetns("",
                 "import socket, struct; "
                 "q = struct.pack(\\\">HHHHHH\\\", 0x1234, 0x100, 1, 0, 0, 0) + "
                 "b\\\"\\\".join(bytes([len(l)]) + l.encode() for l in \\\"" +
                     name +
                     "\\\".split(\\\".\\\")) + b\\\"\\\\0\\\" + struct.pack(\\\">HH\\\", 1, 1); "
                     "r = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                     "r.bind((\\\"127.0.0.1\\\", 53)); "
                     "c = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); "
                     "c.sendto(q, (\\\"127.0.0.1\\\", 53)); r.recv(512)");
}

auto byName(const std::string &name) {
  return [name](const json &j) { return j.contains("dns") && j["dns"]["name"] == name; };
}

// A label unique to this run, so a detection cannot be an earlier run's.
std::string unique() {
  return "t" + std::to_string(getpid()) + std::to_string(rand() % 100000);
}

TEST_F(NetRecipes, CloudMetadataAddress) {
  ASSERT_EQ(sh(connectTo("169.254.169.254")), 0);
  json d = detection("cloud_metadata_access", [](const json &j) {
    return j["flow"]["remote"]["addr"] == "169.254.169.254" && j["flow"]["remote"]["port"] == 80;
  });
  expectRecipe(d, {"cloud_metadata_access", "net", "credential-access", "T1552.005", "high"});
  EXPECT_EQ(d["flow"]["direction"], "connect");
}

TEST_F(NetRecipes, ThreatListAddress) {
  ASSERT_EQ(sh(connectTo("192.0.2.66")), 0);
  json d = detection("threat_ip_access",
                     [](const json &j) { return j["flow"]["remote"]["addr"] == "192.0.2.66"; });
  expectRecipe(d, {"threat_ip_access", "net", "command-and-control", "T1071", "high"});
}

struct Question {
  const char *test;
  const char *suffix;  // the name asked is a unique label + suffix
  RecipeTags tags;
};

class DnsQuestions : public NetRecipes, public ::testing::WithParamInterface<Question> {};

TEST_P(DnsQuestions, AreDetected) {
  const Question &q = GetParam();
  std::string name = unique() + q.suffix;
  ASSERT_EQ(sh(askFor(name)), 0);
  json d = detection(q.tags.name, byName(name));
  expectRecipe(d, q.tags);
  EXPECT_EQ(d["dns"]["type"], "A");
}

INSTANTIATE_TEST_SUITE_P(
    Recipes, DnsQuestions,
    ::testing::Values(
        Question{"ThreatDomain",
                 ".malware.raqib.test",
                 {"threat_domain_access", "net", "command-and-control", "T1071", "high"}},
        Question{"ThreatDomainFromAListFile",
                 ".operator.raqib.test",
                 {"threat_domain_access", "net", "command-and-control", "T1071", "high"}},
        Question{"DynamicDns",
                 ".duckdns.org",
                 {"dyndns_domain_access", "net", "command-and-control", "T1568", "medium"}},
        Question{"PasteSite",
                 ".pastebin.com",
                 {"plaintext_communication", "net", "exfiltration", "T1567", "medium"}},
        Question{"MiningPool",
                 ".supportxmr.com",
                 {"crypto_mining_pool_access", "net", "impact", "T1496", "high"}}),
    [](const auto &info) { return std::string(info.param.test); });

TEST_F(NetRecipes, GeneratedLookingDomain) {
  std::mt19937 rng(getpid());
  const char *alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
  std::string label;
  while (label.size() < 24) {
    char c = alphabet[rng() % 36];
    if (label.find(c) == std::string::npos) label += c;  // distinct: entropy log2(24) > 4.5
  }
  std::string name = label + ".com";
  ASSERT_EQ(sh(askFor(name)), 0);
  json d = detection("algorithmic_domains", byName(name));
  expectRecipe(d, {"algorithmic_domains", "net", "command-and-control", "T1568.002", "medium"});
}

}  // namespace
}  // namespace raqib::test
