// The llm attenuator against a fake chat-completions server the test starts
// on a loopback port (tests/peers/fake_chat_completions.py): the model's
// verdict appears in the other printers' output (stdout and logfile), the
// model is told metadata only, redacted as configured; an endpoint that
// hangs delays the other printers no longer than [core] attenuator_hold and
// the detection goes on once, unannotated.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <cstdlib>
#include <filesystem>
#include <map>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "peer_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

class LlmAttenuatorTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = fs::path(scratch_.path()).parent_path(); }

  bool startServer(const std::string &mode) {
    port_ = freeLoopbackPort(SOCK_STREAM);
    server_ = std::make_unique<PeerProcess>(
        std::vector<std::string>{
            "/usr/bin/python3",
            std::string(RAQIB_SOURCE_ROOT) + "/tests/peers/fake_chat_completions.py",
            std::to_string(port_), mode, dir_ + "/requests.jsonl"},
        dir_ + "/server.log");
    return waitUntil([&] { return acceptsTcp(port_); }, 10s);
  }

  std::string config(const std::string &hold, int timeout_ms) const {
    return fmt::format(
        "[core]\nattenuator_hold = \"{}\"\n"
        "[exec]\ncadence = \"50ms\"\n[file_access]\ncadence = \"50ms\"\n[plugins.file]\n"
        "[printers.stdout]\nformat = \"json\"\n[printers.logfile]\npath = \"{}/events.json\"\n"
        "[printers.llm]\nurl = \"http://127.0.0.1:{}/v1/chat/completions\"\nmodel = "
        "\"test-model\"\n"
        "timeout_ms = {}\nredact_paths = [\"/etc/\"]\n",
        hold, dir_, port_, timeout_ms);
  }

  TempFile scratch_{"unused", ""};
  std::string dir_;
  uint16_t port_ = 0;
  std::unique_ptr<PeerProcess> server_;
};

json detectionOf(DaemonProcess &daemon, pid_t pid, std::chrono::milliseconds timeout) {
  auto line = daemon.waitForStdout(
      [&](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["kind"] == "detection" && j["process"]["pid"] == pid;
      },
      timeout);
  return line ? json::parse(*line) : json();
}

TEST_F(LlmAttenuatorTest, TheVerdictReachesTheOtherPrintersAndTheModelGetsRedactedMetadata) {
  ASSERT_TRUE(startServer("answer"));
  TempFile cfg("raqib.toml", config("3s", 2000));
  DaemonProcess daemon({"--config", cfg.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  pid_t reader = runChild({"/usr/bin/cat", "/etc/shadow"}).pid;
  json d = detectionOf(daemon, reader, 15s);
  ASSERT_TRUE(d.is_object()) << daemon.stderrText();
  ASSERT_TRUE(d.contains("llm")) << d.dump();
  EXPECT_EQ(d["llm"]["model"], "test-model");
  EXPECT_EQ(d["llm"]["interpretation"], "cat read the shadow file from a test harness");
  EXPECT_EQ(d["llm"]["false_positive"], true);
  EXPECT_EQ(d["llm"]["confidence"], 0.75);
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();

  // The logfile printer got the annotated record too.
  bool in_file = false;
  for (const auto &line : readLines(dir_ + "/events.json")) {
    json j = json::parse(line, nullptr, false);
    if (j.is_object() && j.value("uuid", "") == d["uuid"]) in_file = j["llm"] == d["llm"];
  }
  EXPECT_TRUE(in_file);
  // And the annotated record fits docs/event.schema.json.
  EXPECT_EQ(std::system(fmt::format("/usr/bin/python3 {0}/tools/validate_records.py "
                                    "{0}/docs/event.schema.json {1}/events.json",
                                    RAQIB_SOURCE_ROOT, dir_)
                            .c_str()),
            0);

  // What the model was told: the recipe and tags, the path redacted, no arguments.
  auto requests = readLines(dir_ + "/requests.jsonl");
  ASSERT_FALSE(requests.empty());
  json request = json::parse(requests.back());
  EXPECT_EQ(request["path"], "/v1/chat/completions");
  EXPECT_EQ(request["body"]["model"], "test-model");
  json facts = json::parse(request["body"]["messages"][1]["content"].get<std::string>());
  EXPECT_EQ(facts["recipe"], "credentials_files_access");
  EXPECT_EQ(facts["technique"], "T1552");
  EXPECT_EQ(facts["file"]["path"], "<redacted>");
  EXPECT_FALSE(facts["process"].contains("args"));
  EXPECT_EQ(requests.back().find("/etc/shadow"), std::string::npos) << requests.back();
}

TEST_F(LlmAttenuatorTest, AHangingEndpointDelaysTheOtherPrintersNoLongerThanTheHold) {
  ASSERT_TRUE(startServer("hang"));
  constexpr auto kHold = 1000ms;
  // The attenuator's own timeout is longer than the hold: the host's bound acts.
  TempFile cfg("raqib.toml", config("1s", 4000));
  DaemonProcess daemon({"--config", cfg.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  std::map<pid_t, Clock::duration> delays;
  for (int i = 0; i < 2; i++) {  // the second waits behind the first's hanging call
    auto start = Clock::now();
    pid_t reader = runChild({"/usr/bin/cat", "/etc/shadow"}).pid;
    json d = detectionOf(daemon, reader, 15s);
    ASSERT_TRUE(d.is_object()) << daemon.stderrText();
    EXPECT_FALSE(d.contains("llm")) << d.dump();
    delays[reader] = Clock::now() - start;
  }
  for (auto [pid, delay] : delays)  // the hold, a drain cadence, the watchdog's quarter second
    EXPECT_LT(delay, kHold + 1500ms)
        << "pid " << pid << ": "
        << std::chrono::duration_cast<std::chrono::milliseconds>(delay).count() << " ms";
  // The late answers (the call times out after 4 s) add nothing: once each.
  std::this_thread::sleep_for(5s);  // waiting for something that must not happen
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  for (auto [pid, delay] : delays) {
    size_t lines = 0;
    for (const auto &l : readLines(dir_ + "/events.json")) {
      json j = json::parse(l, nullptr, false);
      lines += j.is_object() && j["kind"] == "detection" && j["process"]["pid"] == pid;
    }
    EXPECT_EQ(lines, 1u) << "pid " << pid;
  }
  EXPECT_NE(daemon.stderrText().find("the detection went on without an annotation"),
            std::string::npos)
      << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
