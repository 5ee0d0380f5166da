// The nats printer against a real nats-server with JetStream, started by the
// test on a loopback port with a store in a temporary directory: every
// detection lands in the stream exactly once and in order, across a
// 10-second outage of the server and across a restart of the daemon with
// detections still spooled. The test reads the stream back with JetStream's
// direct-get API.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <algorithm>
#include <filesystem>
#include <iostream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "nats_protocol.hpp"
#include "peer_process.hpp"
#include "printer_delivery.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char *kStream = "RAQIBTEST";

std::string base64Decode(const std::string &in) {
  static const std::string kAlphabet =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  uint32_t bits = 0;
  int count = 0;
  for (char c : in) {
    size_t v = kAlphabet.find(c);
    if (v == std::string::npos) continue;  // '=' padding
    bits = (bits << 6) | uint32_t(v);
    if ((count += 6) >= 8) {
      count -= 8;
      out += char((bits >> count) & 0xff);
    }
  }
  return out;
}

// nats-server with JetStream; stop() and start() keep the port and the store.
class NatsServer {
 public:
  explicit NatsServer(const std::string &dir) : dir_(dir), port_(freeLoopbackPort(SOCK_STREAM)) {}

  // Its client port opens before JetStream has started (and has recovered
  // its streams): ready once it logs "Server is ready", which comes after.
  // The log is appended to across restarts.
  bool start() {
    size_t before = readyLines();
    process_ = std::make_unique<PeerProcess>(
        std::vector<std::string>{"/usr/sbin/nats-server", "-a", "127.0.0.1", "-p",
                                 std::to_string(port_), "-js", "-sd", dir_ + "/store"},
        log());
    return waitUntil([&] { return readyLines() > before && acceptsTcp(port_); }, 10s);
  }
  void stop() { process_.reset(); }
  uint16_t port() const { return port_; }
  std::string log() const { return dir_ + "/nats-server.log"; }

  // The detection uuids in the stream, in stream order.
  std::vector<std::string> detectionsInStream() const {
    std::vector<std::string> uuids;
    try {
      nats::Connection c("127.0.0.1", port_, "", 2000ms);
      for (uint64_t seq = 1;; seq++) {
        json reply = json::parse(c.request({{fmt::format("$JS.API.STREAM.MSG.GET.{}", kStream), "",
                                             fmt::format("{{\"seq\":{}}}", seq)}})[0],
                                 nullptr, false);
        if (!reply.is_object() || !reply.contains("message")) break;
        json record = json::parse(base64Decode(reply["message"]["data"]), nullptr, false);
        if (record.is_object() && record["kind"] == "detection") uuids.push_back(record["uuid"]);
      }
    } catch (const std::exception &) {
      // not reachable (yet): what was read so far
    }
    return uuids;
  }

 private:
  size_t readyLines() const {
    auto lines = readLines(log());
    return size_t(std::count_if(lines.begin(), lines.end(), [](const std::string &l) {
      return l.find("Server is ready") != std::string::npos;
    }));
  }

  std::string dir_;
  uint16_t port_;
  std::unique_ptr<PeerProcess> process_;
};

class NatsPrinterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(scratch_.path()).parent_path();
    server_ = std::make_unique<NatsServer>(dir_);
  }

  // What nats-server said, when a test failed (its directory goes with it).
  void TearDown() override {
    if (HasFailure())
      for (const auto &line : readLines(server_->log()))
        std::cerr << "nats-server: " << line << "\n";
  }

  std::string config() const {
    return fmt::format(
        "[exec]\ncadence = \"50ms\"\n[file_access]\ncadence = \"50ms\"\n[plugins.file]\n"
        "[printers.stdout]\nformat = \"json\"\n[printers.nats]\n"
        "url = \"nats://127.0.0.1:{}\"\nstream = \"{}\"\nspool_dir = \"{}/spool\"\n"
        "timeout_ms = 3000\nretry_initial_ms = 100\nretry_max_ms = 1000\n",
        server_->port(), kStream, dir_);
  }

  SpoolPeer peer() const {
    return {"nats",
            "acknowledged",
            [this] { return server_->start(); },
            [this] { server_->stop(); },
            [this] { return server_->detectionsInStream(); },
            fmt::format("created the JetStream stream {}", kStream)};
  }

  TempFile scratch_{"unused", ""};
  std::string dir_;
  std::unique_ptr<NatsServer> server_;
};

TEST_F(NatsPrinterTest, EveryDetectionOnceInOrderAcrossATenSecondOutage) {
  ASSERT_TRUE(server_->start());
  TempFile cfg("raqib.toml", config());
  DaemonProcess daemon({"--config", cfg.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  expectOnceInOrderAcrossAnOutage(daemon, peer());
}

TEST_F(NatsPrinterTest, SpooledDetectionsSurviveADaemonRestart) {
  TempFile cfg("raqib.toml", config());
  expectSpoolSurvivesARestart(cfg.path(), peer());
}

}  // namespace
}  // namespace raqib::test
