// Tamper records without a kernel: how each move is named, how much it
// matters, and the fields the drain decodes from a map entry.
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/ptrace.h>

#include <cstring>

#include "tamper.hpp"

namespace raqib {
namespace {

raqib_tamper_key key(uint32_t tgid, uint32_t move, uint32_t detail, uint32_t type = 0) {
  raqib_tamper_key k{};
  k.tgid = tgid;
  k.move = move;
  k.detail = detail;
  k.object_type = type;
  return k;
}

TEST(TamperFormat, SignalsMatterByWhatTheyDoAndWhoSendsThem) {
  // The service manager stopping raqib is a record, not an alarm.
  EXPECT_STREQ(tamperImportance(key(1, RAQIB_TAMPER_SIGNAL, SIGTERM), ""), "low");
  EXPECT_STREQ(tamperImportance(key(4242, RAQIB_TAMPER_SIGNAL, SIGTERM), ""), "medium");
  EXPECT_STREQ(tamperImportance(key(4242, RAQIB_TAMPER_SIGNAL, SIGHUP), ""), "medium");
  EXPECT_STREQ(tamperImportance(key(4242, RAQIB_TAMPER_SIGNAL, SIGWINCH), ""), "low");
  EXPECT_STREQ(tamperImportance(key(1, RAQIB_TAMPER_SIGNAL, SIGKILL), ""), "critical");
  EXPECT_STREQ(tamperImportance(key(4242, RAQIB_TAMPER_SIGNAL, SIGSTOP), ""), "critical");
}

TEST(TamperFormat, LookingIsLessThanChanging) {
  EXPECT_STREQ(tamperImportance(key(7, RAQIB_TAMPER_BPF_GET_FD, BPF_MAP_GET_FD_BY_ID), "x"),
               "medium");
  EXPECT_STREQ(
      tamperImportance(key(7, RAQIB_TAMPER_BPF_MAP_READ, BPF_MAP_LOOKUP_ELEM), "exec_activity_a"),
      "high");
  EXPECT_STREQ(
      tamperImportance(key(7, RAQIB_TAMPER_BPF_MAP_READ, BPF_MAP_LOOKUP_ELEM), "raqib_bp.rodata"),
      "medium");
  EXPECT_STREQ(tamperImportance(key(7, RAQIB_TAMPER_BPF_MAP_WRITE, BPF_MAP_UPDATE_ELEM), ""),
               "critical");
  EXPECT_STREQ(tamperImportance(key(7, RAQIB_TAMPER_BPF_DETACH, BPF_LINK_DETACH), ""), "critical");
  EXPECT_STREQ(tamperImportance(key(7, RAQIB_TAMPER_PTRACE, PTRACE_SEIZE), ""), "critical");
}

TEST(TamperFormat, NamesOfCommandsRequestsAndSignals) {
  EXPECT_EQ(bpfCommandName(BPF_MAP_UPDATE_ELEM), "BPF_MAP_UPDATE_ELEM");
  EXPECT_EQ(bpfCommandName(999), "BPF_CMD_999");
  EXPECT_EQ(ptraceRequestName(PTRACE_SEIZE), "PTRACE_SEIZE");
  EXPECT_EQ(ptraceRequestName(12345), "PTRACE_12345");
  EXPECT_EQ(signalName(SIGTERM), "SIGTERM");
  EXPECT_EQ(signalName(99), "SIG99");
  EXPECT_STREQ(tamperMoveName(RAQIB_TAMPER_PROC_MEM), "proc_mem");
  EXPECT_STREQ(tamperMoveName(77), "unknown");
}

TEST(TamperFormat, FieldsOfAMapWriteAndAProgramLoad) {
  std::unordered_map<uint64_t, std::string> names{{uint64_t(RAQIB_OBJ_MAP) << 32 | 12, "dns_a"}};
  raqib_tamper_value v{};
  v.count = 3;
  v.first_ns = 1000;
  v.last_ns = 2000;
  v.object_id = 12;
  auto j = tamperFields(key(7, RAQIB_TAMPER_BPF_MAP_WRITE, BPF_MAP_DELETE_ELEM, RAQIB_OBJ_MAP), v,
                        names, 0);
  EXPECT_EQ(j["kind"], "tamper");
  EXPECT_EQ(j["move"], "bpf_map_write");
  EXPECT_EQ(j["importance"], "critical");
  EXPECT_EQ(j["bpf"],
            (nlohmann::ordered_json{{"command", "BPF_MAP_DELETE_ELEM"},
                                    {"object", {{"type", "map"}, {"id", 12}, {"name", "dns_a"}}}}));
  EXPECT_EQ(j["count"], 3);

  raqib_tamper_value load{};
  load.count = 1;
  std::memcpy(load.name, "rootkit", 8);
  load.attach_type = 0;  // not given: not shown
  j = tamperFields(key(7, RAQIB_TAMPER_BPF_PROG_LOAD, BPF_PROG_TYPE_KPROBE), load, names, 0);
  EXPECT_EQ(j["program"], (nlohmann::ordered_json{{"name", "rootkit"}, {"type", "kprobe"}}));
  EXPECT_EQ(j["importance"], "high");
}

TEST(TamperFormat, FieldsOfAnFdTakenFromTheDaemon) {
  std::unordered_map<uint64_t, std::string> names{{uint64_t(RAQIB_OBJ_MAP) << 32 | 12, "dns_a"}};
  raqib_tamper_value v{};
  v.count = 1;
  v.object_id = 4242;  // the daemon's thread
  v.taken_id = 12;
  auto j = tamperFields(key(7, RAQIB_TAMPER_PIDFD_GETFD, 9, RAQIB_OBJ_MAP), v, names, 0);
  EXPECT_EQ(j["move"], "pidfd_getfd");
  EXPECT_EQ(j["importance"], "critical");
  EXPECT_EQ(
      j["target"],
      (nlohmann::ordered_json{
          {"tid", 4242}, {"fd", 9}, {"object", {{"type", "map"}, {"id", 12}, {"name", "dns_a"}}}}));
  v.taken_id = 0;  // not a BPF object, or the call failed
  j = tamperFields(key(7, RAQIB_TAMPER_PIDFD_GETFD, 3), v, names, 0);
  EXPECT_EQ(j["target"], (nlohmann::ordered_json{{"tid", 4242}, {"fd", 3}}));
}

// A TCP flow, a connect and a DNS question as the programs write them.
struct Network {
  raqib_flow_key flow_key{};
  raqib_flow_value flow{};
  raqib_peer_key peer_key{};
  raqib_peer_value peer{};
  raqib_dns_key dns_key{};
  raqib_dns_value dns{};
  Network() {
    flow_key.family = 4;
    flow_key.protocol = IPPROTO_TCP;
    flow_key.raddr[0] = 127;
    flow.bytes_out = 10;
    flow.packets_out = 1;
    flow.first_ns = flow.last_ns = 100;
    flow.state = 1;  // ESTABLISHED
    peer_key.family = 6;
    peer_key.direction = RAQIB_NET_CONNECT;
    peer_key.rport = 443;
    peer.count = 1;
    peer.first_ns = peer.last_ns = 100;
    peer.error = -111;
    dns.queries = 1;
    dns.first_ns = dns.last_ns = 100;
  }
};

TEST(TamperFormat, NetworkEntriesTheProgramsCouldWrite) {
  Network n;
  EXPECT_EQ(impossibleFlow(n.flow_key, n.flow, 200), "");
  EXPECT_EQ(impossiblePeer(n.peer_key, n.peer, 200), "");
  EXPECT_EQ(impossibleDns(n.dns_key, n.dns, 200), "");
  n.flow.packets_out = n.flow.bytes_out = 0;  // a state change only
  EXPECT_EQ(impossibleFlow(n.flow_key, n.flow, 200), "");
  // A first time after the last: two CPUs racing on a new entry.
  n.flow.first_ns = 150;
  EXPECT_EQ(impossibleFlow(n.flow_key, n.flow, 200), "");
}

TEST(TamperFormat, NetworkEntriesTheProgramsCouldNotWrite) {
  auto flow = [](auto change) {
    Network n;
    change(n);
    return impossibleFlow(n.flow_key, n.flow, 200);
  };
  EXPECT_EQ(flow([](Network &n) { n.flow_key.family = 2; }), "a flow of family 2");
  EXPECT_EQ(flow([](Network &n) { n.flow_key.protocol = 1; }), "a flow of protocol 1");
  EXPECT_EQ(flow([](Network &n) { n.flow_key.raddr[15] = 1; }),
            "a flow key with bytes the programs leave zero set");
  EXPECT_EQ(flow([](Network &n) { n.flow.packets_out = 0; }),
            "a flow of 10 bytes out in 0 packets, 0 bytes in in 0 packets");
  EXPECT_EQ(flow([](Network &n) { n.flow.state = 14; }), "a flow of protocol 6 in state 14");
  EXPECT_EQ(flow([](Network &n) { n.flow_key.protocol = IPPROTO_UDP; }),
            "a flow of protocol 17 in state 1");
  EXPECT_EQ(flow([](Network &n) { n.flow.last_ns = 300; }),
            "a flow with a time after the drain read it");
  EXPECT_EQ(flow([](Network &n) { n.flow.first_ns = 0; }), "a flow with a time of 0");

  auto peer = [](auto change) {
    Network n;
    change(n);
    return impossiblePeer(n.peer_key, n.peer, 200);
  };
  EXPECT_EQ(peer([](Network &n) { n.peer_key.direction = 3; }), "a peer of direction 3");
  EXPECT_EQ(peer([](Network &n) { n.peer_key.lport = 5; }),
            "a peer of direction 1 with ports 5 and 443, error -111");
  EXPECT_EQ(peer([](Network &n) { n.peer_key.direction = RAQIB_NET_ACCEPT; }),
            "a peer of direction 2 with ports 0 and 443, error -111");
  EXPECT_EQ(peer([](Network &n) { n.peer.count = 0; }), "a peer counting 0 with error -111");

  auto dns = [](auto change) {
    Network n;
    change(n);
    return impossibleDns(n.dns_key, n.dns, 200);
  };
  EXPECT_EQ(dns([](Network &n) { n.dns.queries = 0; }), "a DNS entry of no query or response");
  EXPECT_EQ(dns([](Network &n) { n.dns.answers_len = 1; }),
            "a DNS entry of 1 answers in 0 responses");
  EXPECT_EQ(dns([](Network &n) { n.dns.flags = 4; }), "a DNS entry with unknown flags 0x4");
  EXPECT_EQ(dns([](Network &n) { n.dns.rcode = 3; }), "a DNS rcode of 3 in 0 responses");
  EXPECT_EQ(dns([](Network &n) {
              n.dns.responses = 1;
              n.dns.answers_len = 1;
              n.dns.answer_family[0] = 5;
            }),
            "a DNS answer of family 5");
}

}  // namespace
}  // namespace raqib
