// Tamper records without a kernel: how each move is named, how much it
// matters, and the fields the drain decodes from a map entry.
#include <gtest/gtest.h>
#include <linux/bpf.h>
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

}  // namespace
}  // namespace raqib
