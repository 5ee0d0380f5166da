// The core's side of network records: decoding what the kernel keeps
// (addresses, wire-format DNS names, TCP states), joining names to
// addresses, and the JSON and text a printer gets.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "drain.hpp"
#include "output_format.hpp"
#include "record_snapshot.hpp"

namespace raqib {
namespace {

using nlohmann::json;

TEST(NetworkFormat, AddressesAsText) {
  uint8_t v4[16] = {127, 0, 0, 77};
  EXPECT_EQ(addressText(v4, 4), "127.0.0.77");
  uint8_t v6[16] = {};
  v6[15] = 1;
  EXPECT_EQ(addressText(v6, 6), "::1");
}

TEST(NetworkFormat, DnsNamesFromWireFormat) {
  EXPECT_EQ(dnsNameText(std::string("\6needle\5raqib\4test\0", 19)), "needle.raqib.test");
  EXPECT_EQ(dnsNameText(std::string("\0", 1)), "");                      // the root
  EXPECT_EQ(dnsNameText(std::string("\6needle\5ra", 10)), "needle.ra");  // cut: what there is
  EXPECT_EQ(dnsNameText(std::string("\3abc\xc0\x0c", 6)), "abc");        // a pointer ends it
}

TEST(NetworkFormat, TcpStateNames) {
  EXPECT_STREQ(tcpStateName(0), "");
  EXPECT_STREQ(tcpStateName(1), "ESTABLISHED");
  EXPECT_STREQ(tcpStateName(7), "CLOSE");
  EXPECT_STREQ(tcpStateName(99), "UNKNOWN");
}

TEST(NetworkFormat, ResolvedNamesNewestFirstAndBounded) {
  ResolvedNames names(2);
  names.add("10.0.0.1", "a.test");
  names.add("10.0.0.1", "b.test");
  names.add("10.0.0.1", "a.test");  // seen again: moves to the front, once
  EXPECT_EQ(names.lookup("10.0.0.1"), (std::vector<std::string>{"a.test", "b.test"}));
  EXPECT_TRUE(names.lookup("10.0.0.2").empty());
  names.add("10.0.0.2", "c.test");
  names.add("10.0.0.1", "a.test");  // answered again: now the most recent
  // A third address: only the address answered least recently leaves, so a
  // flood of answers cannot wipe the cache.
  names.add("10.0.0.3", "d.test");
  EXPECT_TRUE(names.lookup("10.0.0.2").empty());
  EXPECT_EQ(names.lookup("10.0.0.1"), (std::vector<std::string>{"a.test", "b.test"}));
  EXPECT_EQ(names.lookup("10.0.0.3"), std::vector<std::string>{"d.test"});
  EXPECT_EQ(names.evicted(), 1u);
  for (int i = 0; i < 20; i++) names.add("10.0.0.3", "n" + std::to_string(i));
  EXPECT_EQ(names.lookup("10.0.0.3").size(), 8u);
  EXPECT_EQ(names.lookup("10.0.0.3").front(), "n19");
}

TEST(NetworkFormat, FlowRecordJsonAndText) {
  ProcessTable table;
  FlowActivity a;
  a.direction = RAQIB_FLOW_FLOW;
  a.protocol = 6;
  a.family = 4;
  a.local_addr = "127.0.0.1";
  a.local_port = 40000;
  a.remote_addr = "127.0.0.77";
  a.remote_port = 8077;
  a.bytes_out = 5;
  a.packets_out = 2;
  a.packets_in = 1;
  a.state = "ESTABLISHED";
  a.names = {"needle.raqib.test"};
  a.count = 3;
  auto record = RecordSnapshot::flow(table, 4242, a, 0);
  json j = json::parse(infoJson(record->view(), 0, "host"));
  EXPECT_EQ(j["type"], "flow");
  EXPECT_EQ(j["process"]["pid"], 4242);
  EXPECT_EQ(j["flow"]["direction"], "flow");
  EXPECT_EQ(j["flow"]["protocol"], "tcp");
  EXPECT_EQ(j["flow"]["family"], 4);
  EXPECT_EQ(j["flow"]["local"], json({{"addr", "127.0.0.1"}, {"port", 40000}}));
  EXPECT_EQ(j["flow"]["remote"], json({{"addr", "127.0.0.77"}, {"port", 8077}}));
  EXPECT_EQ(j["flow"]["bytes_out"], 5);
  EXPECT_EQ(j["flow"]["bytes_in"], 0);
  EXPECT_EQ(j["flow"]["state"], "ESTABLISHED");
  EXPECT_EQ(j["flow"]["names"], json::array({"needle.raqib.test"}));
  EXPECT_FALSE(j["flow"].contains("error"));
  EXPECT_EQ(j["count"], 3);
  std::string text = infoText(record->view(), 0);
  EXPECT_NE(text.find("flow tcp 127.0.0.1:40000 -> 127.0.0.77:8077"), std::string::npos) << text;
  EXPECT_NE(text.find("names=needle.raqib.test"), std::string::npos) << text;
}

TEST(NetworkFormat, DnsRecordJson) {
  ProcessTable table;
  DnsActivity a;
  a.name = "needle.raqib.test";
  a.qtype = 28;
  a.answers = {"::1"};
  a.rcode = 3;
  a.queries = 2;
  a.responses = 1;
  a.flags = RAQIB_DNS_ANSWERS_TRUNCATED;
  auto record = RecordSnapshot::dns(table, 7, a, 0);
  json j = json::parse(infoJson(record->view(), 0, "host"));
  EXPECT_EQ(j["type"], "dns");
  EXPECT_EQ(j["dns"]["name"], "needle.raqib.test");
  EXPECT_EQ(j["dns"]["type"], "AAAA");
  EXPECT_EQ(j["dns"]["answers"], json::array({"::1"}));
  EXPECT_EQ(j["dns"]["rcode"], "NXDOMAIN");
  EXPECT_EQ(j["dns"]["answers_truncated"], true);
  EXPECT_EQ(j["count"], 2);
  a.responses = 0;
  j = json::parse(infoJson(RecordSnapshot::dns(table, 7, a, 0)->view(), 0, "host"));
  EXPECT_TRUE(j["dns"]["rcode"].is_null());  // no response seen
}

}  // namespace
}  // namespace raqib
