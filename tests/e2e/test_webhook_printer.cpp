// The webhook printer against a real TLS HTTP server the test starts on a
// loopback port (tests/peers/https_recorder.py) with certificates from a CA
// the test makes with openssl: every detection arrives exactly once and in
// order, across a 10-second outage of the server and across a restart of the
// daemon with detections still spooled; a wrong token is refused by the
// server and reported by raqib (the token never shows); a certificate from
// another CA is refused; a full spool drops the oldest, counted;
// format = "falcosidekick" posts Falco's event shape.
#include <gtest/gtest.h>
#include <sys/socket.h>

#include <filesystem>
#include <fstream>
#include <cstdlib>
#include <optional>
#include <ranges>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "peer_process.hpp"
#include "printer_delivery.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

constexpr const char *kToken = "s3cret-token-for-the-test";

bool run(const std::string &command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// A CA, a server certificate it signed for 127.0.0.1, and a second CA that
// signed nothing the server has.
struct TestPki {
  explicit TestPki(const std::string &dir) : dir(dir) {
    std::ofstream(dir + "/server.ext")
        << "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n"
           "keyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n";
    const std::string key = "-newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes";
    ok = run(fmt::format("openssl req -x509 {0} -keyout {1}/ca.key -out {1}/ca.pem -days 2 "
                         "-subj /CN=raqib-test-ca",
                         key, dir)) &&
         run(fmt::format("openssl req -x509 {0} -keyout {1}/other-ca.key -out {1}/other-ca.pem "
                         "-days 2 -subj /CN=raqib-other-ca",
                         key, dir)) &&
         run(fmt::format("openssl req {0} -keyout {1}/server.key -out {1}/server.csr "
                         "-subj /CN=127.0.0.1",
                         key, dir)) &&
         run(fmt::format("openssl x509 -req -in {0}/server.csr -CA {0}/ca.pem -CAkey {0}/ca.key "
                         "-CAcreateserial -out {0}/server.pem -days 2 -extfile {0}/server.ext",
                         dir));
  }
  std::string dir;
  bool ok = false;
};

// The recording server; stop() and start() keep the port.
class Recorder {
 public:
  Recorder(const TestPki &pki, const std::string &dir)
      : pki_(pki), log_(dir + "/received.jsonl"), port_(freeLoopbackPort(SOCK_STREAM)) {}

  bool start() {
    process_ = std::make_unique<PeerProcess>(
        std::vector<std::string>{"/usr/bin/python3",
                                 std::string(RAQIB_SOURCE_ROOT) + "/tests/peers/https_recorder.py",
                                 std::to_string(port_), pki_.dir + "/server.pem",
                                 pki_.dir + "/server.key", kToken, log_},
        log_ + ".stderr");
    return waitUntil([&] { return acceptsTcp(port_); }, 10s);
  }
  void stop() { process_.reset(); }

  uint16_t port() const { return port_; }
  // Every request the server logged, in order.
  std::vector<json> requests() const {
    std::vector<json> out;
    for (const auto &line : readLines(log_)) out.push_back(json::parse(line, nullptr, false));
    return out;
  }
  // The uuids of the records it accepted, in the order it got them.
  std::vector<std::string> acceptedUuids() const {
    std::vector<std::string> uuids;
    for (const auto &r : requests()) {
      if (!r.contains("body")) continue;
      const json &body = r["body"];
      for (const auto &record : body.is_array() ? body : json::array({body}))
        if (record.value("kind", "detection") == "detection") uuids.push_back(record["uuid"]);
    }
    return uuids;
  }

 private:
  const TestPki &pki_;
  std::string log_;
  uint16_t port_;
  std::unique_ptr<PeerProcess> process_;
};

class WebhookPrinterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::path(scratch_.path()).parent_path();
    pki_ = std::make_unique<TestPki>(dir_);
    ASSERT_TRUE(pki_->ok) << "openssl could not make the test certificates";
    recorder_ = std::make_unique<Recorder>(*pki_, dir_);
  }

  std::string config(const std::string &extra = "") const {
    return fmt::format(
        "[exec]\ncadence = \"50ms\"\n[file_access]\ncadence = \"50ms\"\n[plugins.file]\n"
        "[printers.stdout]\nformat = \"json\"\n[printers.webhook]\n"
        "url = \"https://127.0.0.1:{}/raqib\"\nca_file = \"{}/ca.pem\"\nspool_dir = \"{}/spool\"\n"
        "timeout_ms = 1000\nretry_initial_ms = 100\nretry_max_ms = 1000\n{}{}",
        recorder_->port(), dir_, dir_,
        extra.find("token") == std::string::npos ? fmt::format("token = \"{}\"\n", kToken) : "",
        extra);
  }

  SpoolPeer peer() const {
    return {"webhook", "delivered", [this] { return recorder_->start(); },
            [this] { recorder_->stop(); }, [this] { return recorder_->acceptedUuids(); }};
  }

  // Waits until the server accepted every one of uuids.
  bool received(const std::vector<std::string> &uuids) const {
    return waitUntil(
        [&] { return onlyThese(recorder_->acceptedUuids(), uuids).size() >= uuids.size(); }, 20s);
  }

  static std::optional<std::string> healthFrom(DaemonProcess &daemon, const std::string &text) {
    return daemon.waitForStdout(
        [&](const std::string &l) {
          json j = json::parse(l, nullptr, false);
          return j.is_object() && j["kind"] == "health" && j["plugin"] == "webhook" &&
                 j["detail"].get<std::string>().find(text) != std::string::npos;
        },
        15s);
  }

  TempFile scratch_{"unused", ""};
  std::string dir_;
  std::unique_ptr<TestPki> pki_;
  std::unique_ptr<Recorder> recorder_;
};

TEST_F(WebhookPrinterTest, EveryDetectionOnceInOrderAcrossATenSecondOutage) {
  ASSERT_TRUE(recorder_->start());
  TempFile cfg("raqib.toml", config());
  DaemonProcess daemon({"--config", cfg.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  expectOnceInOrderAcrossAnOutage(daemon, peer());
  EXPECT_EQ(daemon.stderrText().find(kToken), std::string::npos);
  EXPECT_EQ(daemon.stdoutText().find(kToken), std::string::npos);
  for (const auto &r : recorder_->requests()) EXPECT_EQ(r["path"], "/raqib");
}

TEST_F(WebhookPrinterTest, SpooledDetectionsSurviveADaemonRestart) {
  TempFile cfg("raqib.toml", config());
  expectSpoolSurvivesARestart(cfg.path(), peer());
}

TEST_F(WebhookPrinterTest, AWrongTokenIsRefusedByTheServerAndReported) {
  ASSERT_TRUE(recorder_->start());
  const std::string wrong = "wrong-token-never-logged";
  TempFile cfg("raqib.toml", config(fmt::format("token = \"{}\"\n", wrong)));
  DaemonProcess daemon({"--config", cfg.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  detectShadowReads(daemon, 1);
  EXPECT_TRUE(healthFrom(daemon, "answered 401 Unauthorized (check the token)"))
      << daemon.stdoutText() << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  auto requests = recorder_->requests();
  ASSERT_FALSE(requests.empty());
  for (const auto &r : requests) EXPECT_TRUE(r.value("rejected", false)) << r;
  EXPECT_EQ(daemon.stderrText().find(wrong), std::string::npos);
  EXPECT_EQ(daemon.stdoutText().find(wrong), std::string::npos);
}

TEST_F(WebhookPrinterTest, TheTokenCanComeFromTheEnvironment) {
  ASSERT_TRUE(recorder_->start());
  setenv("RAQIB_TEST_WEBHOOK_TOKEN", kToken, 1);  // the daemon inherits it
  TempFile cfg("raqib.toml", config("token_env = \"RAQIB_TEST_WEBHOOK_TOKEN\"\n"));
  DaemonProcess daemon({"--config", cfg.path()});
  unsetenv("RAQIB_TEST_WEBHOOK_TOKEN");
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  auto shown = detectShadowReads(daemon, 1);
  ASSERT_TRUE(received(shown)) << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  EXPECT_EQ(onlyThese(recorder_->acceptedUuids(), shown), shown);
}

TEST_F(WebhookPrinterTest, ACertificateFromAnotherCaIsRefused) {
  ASSERT_TRUE(recorder_->start());
  std::string cfg_text = config();
  cfg_text.replace(cfg_text.find("/ca.pem"), 7, "/other-ca.pem");
  TempFile cfg("raqib.toml", cfg_text);
  DaemonProcess daemon({"--config", cfg.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  detectShadowReads(daemon, 1);
  EXPECT_TRUE(healthFrom(daemon, "certificate verify failed"))
      << daemon.stdoutText() << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  EXPECT_TRUE(recorder_->requests().empty());  // no request got through
}

TEST_F(WebhookPrinterTest, AFullSpoolDropsTheOldestAndCountsThem) {
  TempFile cfg("raqib.toml", config("spool_max_bytes = 4096\n"));
  DaemonProcess daemon({"--config", cfg.path()});  // the server is down
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  constexpr int kDetections = 15;  // about 15 KB of records for a 4 KB spool
  auto shown = detectShadowReads(daemon, kDetections);
  ASSERT_TRUE(recorder_->start());
  ASSERT_TRUE(waitUntil(
      [&] {
        auto got = onlyThese(recorder_->acceptedUuids(), shown);
        return !got.empty() && got.back() == shown.back();
      },
      20s))
      << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  auto got = onlyThese(recorder_->acceptedUuids(), shown);
  ASSERT_LT(got.size(), shown.size());
  EXPECT_EQ(got, std::vector<std::string>(shown.end() - got.size(), shown.end()));  // the newest
  // Every record the printer was handed (detections, health records about
  // its failures and tamper records, as stdout got them too) was delivered, dropped or is
  // still spooled; the drops were counted.
  size_t published = 0;
  for (const auto &line : daemon.stdoutText() | std::views::split('\n')) {
    json j = json::parse(std::string_view(line.begin(), line.end()), nullptr, false);
    published += j.is_object() &&
                 (j["kind"] == "detection" || j["kind"] == "health" || j["kind"] == "tamper");
  }
  const std::string &log = daemon.stderrText();
  size_t at = log.find(" records delivered, ");
  ASSERT_NE(at, std::string::npos) << log;
  unsigned long long delivered = 0, dropped = 0, spooled = 0;
  ASSERT_EQ(sscanf(log.c_str() + log.rfind(' ', at - 1) + 1,
                   "%llu records delivered, %llu dropped from a full spool, %llu still spooled",
                   &delivered, &dropped, &spooled),
            3)
      << log;
  EXPECT_GE(dropped, shown.size() - got.size());
  EXPECT_EQ(delivered + dropped + spooled, published) << log;
}

TEST_F(WebhookPrinterTest, FalcosidekickFormatPostsFalcoEvents) {
  ASSERT_TRUE(recorder_->start());
  TempFile cfg("raqib.toml", config("format = \"falcosidekick\"\n"));
  DaemonProcess daemon({"--config", cfg.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  auto shown = detectShadowReads(daemon, 2);
  ASSERT_TRUE(received(shown)) << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  EXPECT_EQ(onlyThese(recorder_->acceptedUuids(), shown), shown);
  std::set<std::string> ours(shown.begin(), shown.end());
  for (const auto &r : recorder_->requests()) {
    const json &e = r["body"];
    ASSERT_TRUE(e.is_object()) << r;                 // one event per request
    if (!ours.count(e.value("uuid", ""))) continue;  // another test's reader
    EXPECT_EQ(e["rule"], "credentials_files_access");
    EXPECT_EQ(e["priority"], "Critical");
    EXPECT_EQ(e["source"], "raqib");
    EXPECT_EQ(e["tags"], json::array({"credential-access", "T1552"}));
    EXPECT_NE(e["output"].get<std::string>().find("credentials_files_access"), std::string::npos);
    EXPECT_EQ(e["output_fields"]["fd.name"], "/etc/shadow");
    EXPECT_EQ(e["output_fields"]["proc.exepath"], "/usr/bin/cat");
    EXPECT_EQ(e["output_fields"]["proc.cmdline"], "/usr/bin/cat /etc/shadow");
    EXPECT_FALSE(e["hostname"].get<std::string>().empty());
    EXPECT_EQ(e["time"].get<std::string>().size(), 30u);
  }
}

}  // namespace
}  // namespace raqib::test
