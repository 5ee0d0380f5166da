#include "printer_delivery.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>

#include <chrono>
#include <cstdio>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "peer_process.hpp"

namespace raqib::test {

using namespace std::chrono_literals;
using nlohmann::json;

std::vector<pid_t> readShadow(int times) {
  std::vector<pid_t> pids;
  for (int i = 0; i < times; i++) {
    ChildResult r = runChild({"/usr/bin/cat", "/etc/shadow"});
    EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    pids.push_back(r.pid);
  }
  return pids;
}

std::vector<std::string> detectionsOnStdout(DaemonProcess &daemon, const std::vector<pid_t> &pids) {
  std::vector<std::string> uuids;
  std::set<pid_t> waiting(pids.begin(), pids.end());
  daemon.waitForStdout(
      [&](const std::string &line) {
        json j = json::parse(line, nullptr, false);
        if (!j.is_object() || j["kind"] != "detection" || !waiting.count(j["process"]["pid"]))
          return false;
        waiting.erase(j["process"]["pid"].get<pid_t>());
        uuids.push_back(j["uuid"]);
        return waiting.empty();
      },
      30s);
  EXPECT_TRUE(waiting.empty()) << waiting.size() << " detections missing on stdout\n"
                               << daemon.stderrText();
  return uuids;
}

std::vector<std::string> detectShadowReads(DaemonProcess &daemon, int times) {
  return detectionsOnStdout(daemon, readShadow(times));
}

namespace {

// Waits until the peer holds every one of uuids.
bool reached(const SpoolPeer &peer, const std::vector<std::string> &uuids) {
  return waitUntil([&] { return onlyThese(peer.detections(), uuids).size() >= uuids.size(); }, 20s);
}

// Waits until the daemon has set up the fresh peer (SpoolPeer::set_up),
// which it may have logged before it was ready.
bool setUp(DaemonProcess &daemon, const SpoolPeer &peer) {
  auto said = [&](const std::string &text) { return text.find(peer.set_up) != std::string::npos; };
  return peer.set_up.empty() || said(daemon.stderrText()) || daemon.waitForStderr(said, 20s);
}

void append(std::vector<std::string> &to, const std::vector<std::string> &more) {
  to.insert(to.end(), more.begin(), more.end());
}

}  // namespace

void expectOnceInOrderAcrossAnOutage(DaemonProcess &daemon, const SpoolPeer &peer) {
  auto shown = detectShadowReads(daemon, 3);
  ASSERT_TRUE(setUp(daemon, peer)) << daemon.stderrText();
  ASSERT_TRUE(reached(peer, shown)) << daemon.stderrText() << daemon.stdoutText();

  peer.stop();
  auto outage_start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; i++) {  // detections spread over the outage
    append(shown, detectShadowReads(daemon, 1));
    std::this_thread::sleep_for(1500ms);  // pacing the load, not synchronisation
  }
  auto health = daemon.waitForStdout(
      [&](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["kind"] == "health" && j["plugin"] == peer.plugin &&
               j["detail"].get<std::string>().find("records spooled") != std::string::npos;
      },
      15s);
  EXPECT_TRUE(health) << daemon.stdoutText();
  std::this_thread::sleep_until(outage_start + 10s);
  ASSERT_TRUE(peer.start());
  append(shown, detectShadowReads(daemon, 2));
  ASSERT_TRUE(reached(peer, shown)) << daemon.stderrText() << daemon.stdoutText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  EXPECT_EQ(onlyThese(peer.detections(), shown), shown);  // exactly once, in order
}

void expectSpoolSurvivesARestart(const std::string &config_path, const SpoolPeer &peer) {
  std::vector<std::string> shown;
  {
    DaemonProcess daemon({"--config", config_path});  // the peer is down
    ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
    shown = detectShadowReads(daemon, 4);
    ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
    // The 4 detections, and health records about the failed tries.
    const std::string &log = daemon.stderrText();
    std::string counts = " records " + peer.delivered + ", ";
    size_t at = log.find(counts);
    ASSERT_NE(at, std::string::npos) << log;
    unsigned long long delivered = 1, dropped = 1, spooled = 0;
    std::string format =
        "%llu records " + peer.delivered + ", %llu dropped from a full spool, %llu still spooled";
    sscanf(log.c_str() + log.rfind(' ', at - 1) + 1, format.c_str(), &delivered, &dropped,
           &spooled);
    EXPECT_EQ(delivered, 0u);
    EXPECT_EQ(dropped, 0u);
    EXPECT_GE(spooled, 4u) << log;
  }
  ASSERT_TRUE(peer.start());
  DaemonProcess daemon({"--config", config_path});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  ASSERT_TRUE(setUp(daemon, peer)) << daemon.stderrText();
  ASSERT_TRUE(reached(peer, shown))
      << daemon.stderrText() << daemon.stdoutText();  // without a new detection
  append(shown, detectShadowReads(daemon, 2));
  ASSERT_TRUE(reached(peer, shown)) << daemon.stderrText() << daemon.stdoutText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  EXPECT_EQ(onlyThese(peer.detections(), shown), shown);
}

}  // namespace raqib::test
