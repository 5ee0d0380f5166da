// The syslog printer against a real rsyslogd the test starts in a temporary
// directory, listening on a unix socket of its own and on loopback UDP and
// TCP ports: each detection arrives once as an RFC 5424 message that rsyslog
// parses into PRI, APP-NAME, PROCID, MSGID and structured data with the
// recipe, the MITRE tags and the pid. A collector that goes away costs
// counted, reported records, and delivery resumes when it is back.
#include <gtest/gtest.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"
#include "peer_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// rsyslogd writing every message it parsed as one line of '|'-separated
// properties to out.log.
class Rsyslog {
 public:
  explicit Rsyslog(const std::string &dir)
      : dir_(dir),
        udp_port_(freeLoopbackPort(SOCK_DGRAM)),
        tcp_port_(freeLoopbackPort(SOCK_STREAM)) {
    std::ofstream(dir_ + "/rsyslog.conf") << fmt::format(
        R"(global(workDirectory="{0}" maxMessageSize="64k")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{0}/log.sock" CreatePath="on" useSpecialParser="off" parseHostname="on"
      useSysTimeStamp="off" ignoreTimestamp="off")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{1}")
module(load="imtcp")
input(type="imtcp" address="127.0.0.1" port="{2}")
template(name="fields" type="string"
         string="%pri%|%timereported:::date-rfc3339%|%hostname%|%app-name%|%procid%|%msgid%|%structured-data%|%inputname%|%msg%\n")
*.* action(type="omfile" file="{0}/out.log" template="fields")
)",
        dir_, udp_port_, tcp_port_);
    start();
  }

  void start() {
    process_ = std::make_unique<PeerProcess>(
        std::vector<std::string>{"/usr/sbin/rsyslogd", "-n", "-f", dir_ + "/rsyslog.conf", "-i",
                                 dir_ + "/rsyslog.pid"},
        dir_ + "/rsyslogd.log");
    ready_ = waitUntil([&] { return acceptsTcp(tcp_port_) && fs::exists(socketPath()); }, 10s);
  }
  void stop() { process_.reset(); }

  bool ready() const { return ready_; }
  std::string socketPath() const { return dir_ + "/log.sock"; }
  uint16_t udpPort() const { return udp_port_; }
  uint16_t tcpPort() const { return tcp_port_; }
  std::string log() const {
    std::ifstream in(dir_ + "/rsyslogd.log");
    return std::string(std::istreambuf_iterator<char>(in), {});
  }

  // The parsed messages whose MSGID is msgid, split into their fields.
  std::vector<std::vector<std::string>> messages(const std::string &msgid) const {
    std::vector<std::vector<std::string>> out;
    for (const auto &line : readLines(dir_ + "/out.log")) {
      std::vector<std::string> fields;
      size_t at = 0;
      for (int i = 0; i < 8; i++) {  // the message itself may hold '|'
        size_t bar = line.find('|', at);
        if (bar == std::string::npos) break;
        fields.push_back(line.substr(at, bar - at));
        at = bar + 1;
      }
      fields.push_back(line.substr(at));
      if (fields.size() == 9 && fields[5] == msgid) out.push_back(fields);
    }
    return out;
  }

 private:
  std::string dir_;
  uint16_t udp_port_;
  uint16_t tcp_port_;
  std::unique_ptr<PeerProcess> process_;
  bool ready_ = false;
};

enum Field { kPri, kTime, kHost, kApp, kProcid, kMsgid, kSd, kInput, kMsg };

std::string configWith(const std::string &syslog_section) {
  return fmt::format(
      "[exec]\ncadence = \"50ms\"\n[file_access]\ncadence = \"50ms\"\n[plugins.file]\n"
      "[printers.stdout]\nformat = \"json\"\n[printers.syslog]\n{}",
      syslog_section);
}

// The counter NAME of plugin's exit metric line in the daemon's log; -1 if absent.
long long exitCounter(const std::string &log, const std::string &plugin, const std::string &name) {
  size_t metric = log.find(fmt::format("metric raqib_plugin{{plugin=\"{}\"}}", plugin));
  if (metric == std::string::npos) return -1;
  size_t at = log.find(" " + name + "=", metric);
  if (at == std::string::npos || at > log.find('\n', metric)) return -1;
  return std::stoll(log.substr(at + name.size() + 2));
}

// The detections stdout shows for readers of /etc/shadow, by pid.
std::map<pid_t, json> readShadowAndWait(DaemonProcess &daemon, int times) {
  std::set<pid_t> waiting;
  for (int i = 0; i < times; i++) {
    ChildResult r = runChild({"/usr/bin/cat", "/etc/shadow"});
    EXPECT_TRUE(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    waiting.insert(r.pid);
  }
  std::map<pid_t, json> shown;
  daemon.waitForStdout(
      [&](const std::string &line) {
        json j = json::parse(line, nullptr, false);
        if (!j.is_object() || j["kind"] != "detection" || !waiting.count(j["process"]["pid"]))
          return false;
        pid_t pid = j["process"]["pid"];
        waiting.erase(pid);
        shown[pid] = j;
        return waiting.empty();
      },
      30s);
  EXPECT_TRUE(waiting.empty()) << daemon.stderrText();
  return shown;
}

class SyslogPrinterTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    dir_ = fs::path(scratch_.path()).parent_path();
    rsyslog_ = std::make_unique<Rsyslog>(dir_);
    ASSERT_TRUE(rsyslog_->ready()) << rsyslog_->log();
  }
  std::string sectionFor(const std::string &transport) const {
    if (transport == "unix")
      return fmt::format("transport = \"unix\"\nsocket = \"{}\"\n", rsyslog_->socketPath());
    return fmt::format("transport = \"{}\"\nport = {}\n", transport,
                       transport == "udp" ? rsyslog_->udpPort() : rsyslog_->tcpPort());
  }

  TempFile scratch_{"unused", ""};
  std::string dir_;
  std::unique_ptr<Rsyslog> rsyslog_;
};

TEST_P(SyslogPrinterTest, EachDetectionArrivesOnceAsRfc5424WithStructuredData) {
  const std::string transport = GetParam();
  TempFile config("raqib.toml", configWith(sectionFor(transport)));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  auto shown = readShadowAndWait(daemon, 3);
  auto ours = [&] {
    std::vector<std::vector<std::string>> out;
    for (auto &m : rsyslog_->messages("detection"))
      for (auto &[pid, d] : shown)
        if (m[kSd].find(fmt::format("pid=\"{}\"", pid)) != std::string::npos) out.push_back(m);
    return out;
  };
  ASSERT_TRUE(waitUntil([&] { return ours().size() >= shown.size(); }, 10s))
      << readLines(dir_ + "/out.log").size() << " lines\n"
      << rsyslog_->log() << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();

  auto messages = ours();
  ASSERT_EQ(messages.size(), shown.size());  // once each
  std::set<std::string> inputs;
  for (const auto &m : messages) {
    pid_t pid = std::stoi(m[kSd].substr(m[kSd].find(" pid=\"") + 6));
    const json &d = shown.at(pid);
    EXPECT_EQ(m[kPri], "34");  // auth (4) * 8 + crit (2): importance critical
    EXPECT_EQ(m[kApp], "raqib");
    EXPECT_EQ(m[kProcid], std::to_string(daemon.pid()));
    EXPECT_EQ(m[kHost], d["host"]);
    // The record's time, to the microseconds RFC 5424 allows.
    EXPECT_EQ(m[kTime].substr(0, 26), d["time"].get<std::string>().substr(0, 26)) << m[kTime];
    for (const std::string &param :
         {fmt::format("recipe=\"{}\"", d["name"].get<std::string>()),
          fmt::format("tactic=\"{}\"", d["tactic"].get<std::string>()),
          fmt::format("technique=\"{}\"", d["technique"].get<std::string>()),
          std::string("importance=\"critical\""),
          fmt::format("uuid=\"{}\"", d["uuid"].get<std::string>()),
          std::string("exe=\"/usr/bin/cat\"")})
      EXPECT_NE(m[kSd].find(param), std::string::npos) << param << " not in " << m[kSd];
    EXPECT_EQ(m[kSd].rfind("[raqib@32473 kind=\"detection\"", 0), 0u) << m[kSd];
    EXPECT_NE(m[kMsg].find("credentials_files_access"), std::string::npos) << m[kMsg];
    inputs.insert(m[kInput]);
  }
  const std::map<std::string, std::string> input_of = {
      {"unix", "imuxsock"}, {"udp", "imudp"}, {"tcp", "imtcp"}};
  EXPECT_EQ(inputs, std::set<std::string>{input_of.at(transport)});
}

INSTANTIATE_TEST_SUITE_P(Transports, SyslogPrinterTest, ::testing::Values("unix", "udp", "tcp"),
                         [](const auto &info) { return info.param; });

TEST_F(SyslogPrinterTest, ACollectorDownIsReportedAndDeliveryResumesWhenItIsBack) {
  TempFile config("raqib.toml", configWith(sectionFor("tcp")));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  rsyslog_->stop();
  readShadowAndWait(daemon, 1);  // its message cannot be delivered
  auto health = daemon.waitForStdout(
      [&](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["kind"] == "health" && j["plugin"] == "syslog" &&
               j["fault"] == "error" &&
               j["detail"].get<std::string>().find(
                   fmt::format("127.0.0.1:{} (tcp)", rsyslog_->tcpPort())) != std::string::npos;
      },
      10s);
  EXPECT_TRUE(health) << daemon.stdoutText() << daemon.stderrText();

  rsyslog_->start();
  ASSERT_TRUE(rsyslog_->ready()) << rsyslog_->log();
  auto delivered = readShadowAndWait(daemon, 1);
  pid_t pid = delivered.begin()->first;
  EXPECT_TRUE(waitUntil(
      [&] {
        for (auto &m : rsyslog_->messages("detection"))
          if (m[kSd].find(fmt::format("pid=\"{}\"", pid)) != std::string::npos) return true;
        return false;
      },
      10s))
      << rsyslog_->log() << daemon.stderrText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  // The record sent while the collector was down is counted as failed.
  EXPECT_GE(exitCounter(daemon.stderrText(), "syslog", "failed"), 1) << daemon.stderrText();
}

TEST(SyslogPrinter, ASlowCollectorCostsOnlyThisPrinterAndItsBackPressureIsCounted) {
  // A local socket nobody reads: after net.unix.max_dgram_qlen messages each
  // send waits for timeout_ms, so the printer falls behind its queue.
  TempFile scratch("unused", "");
  std::string path = fs::path(scratch.path()).parent_path() / "slow.sock";
  int sink = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  ASSERT_EQ(bind(sink, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0) << strerror(errno);
  chmod(path.c_str(), 0666);  // the daemon sends as the raqib user, as to /dev/log
  TempFile config("raqib.toml",
                  configWith(fmt::format("transport = \"unix\"\nsocket = \"{}\"\ntimeout_ms = 100\n"
                                         "queue_capacity = 16\n",
                                         path)));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
  constexpr int kDetections = 60;
  auto shown = readShadowAndWait(daemon, kDetections);  // the stdout printer keeps up
  EXPECT_EQ(shown.size(), size_t(kDetections));
  auto full = daemon.waitForStdout(
      [](const std::string &l) {
        json j = json::parse(l, nullptr, false);
        return j.is_object() && j["kind"] == "health" && j["plugin"] == "syslog" &&
               j["fault"] == "queue_full";
      },
      10s);
  EXPECT_TRUE(full) << daemon.stdoutText();
  ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  close(sink);

  const std::string &log = daemon.stderrText();
  EXPECT_GT(exitCounter(log, "syslog", "dropped"), 0) << log;
  EXPECT_GT(exitCounter(log, "syslog", "failed"), 0) << log;
  EXPECT_EQ(exitCounter(log, "stdout", "dropped"), 0) << log;
  EXPECT_EQ(exitCounter(log, "stdout", "failed"), 0) << log;
}

TEST(SyslogPrinter, BadConfigurationStopsTheDaemonNamingKeyAndFix) {
  TempFile config("raqib.toml",
                  configWith("transport = \"tcp\"\naddress = \"collector.example\"\n"));
  DaemonProcess daemon({"--config", config.path()});
  EXPECT_EQ(daemon.wait(30s), 1);
  EXPECT_NE(daemon.stderrText().find("[printers.syslog] address must be an IPv4 or IPv6 address "
                                     "(names are not resolved), got \"collector.example\""),
            std::string::npos)
      << daemon.stderrText();
}

}  // namespace
}  // namespace raqib::test
