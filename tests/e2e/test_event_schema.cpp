// Every record kind the daemon produces (a detection, info records of each
// type, a health record) validates against docs/event.schema.json, as the
// stdout printer and the logfile printer wrote them. The validator is the
// Debian-packaged python3-jsonschema (tools/validate_records.py).
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <set>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

// One DNS question for name, sent to 127.0.0.1:53 from a child in a network
// namespace of its own (nothing there answers it). Returns the child's pid.
pid_t askDnsInOwnNetns(const std::string &name) {
  pid_t pid = fork();
  if (pid != 0) return pid;
  if (unshare(CLONE_NEWNET) != 0) _exit(10);
  int ctl = socket(AF_INET, SOCK_DGRAM, 0);
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  if (ioctl(ctl, SIOCGIFFLAGS, &ifr) != 0) _exit(11);
  ifr.ifr_flags |= IFF_UP;
  if (ioctl(ctl, SIOCSIFFLAGS, &ifr) != 0) _exit(12);
  std::string query("\x52\x41\x01\x00\0\1\0\0\0\0\0\0", 12);  // id, RD, one question
  for (size_t at = 0; at <= name.size();) {
    size_t dot = std::min(name.find('.', at), name.size());
    query += char(dot - at) + name.substr(at, dot - at);
    at = dot + 1;
  }
  query += std::string("\0\0\1\0\1", 5);  // root, A, IN
  sockaddr_in dns{};
  dns.sin_family = AF_INET;
  dns.sin_port = htons(53);
  inet_pton(AF_INET, "127.0.0.1", &dns.sin_addr);
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  bool sent = sendto(s, query.data(), query.size(), 0, reinterpret_cast<sockaddr *>(&dns),
                     sizeof dns) == ssize_t(query.size());
  _exit(sent ? 0 : 13);
}

// A TCP connection over loopback to a listener of this process, with data.
void connectOverLoopback() {
  int listener = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  inet_pton(AF_INET, "127.0.0.1", &addr.sin_addr);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 1), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len), 0);
  int client = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  ASSERT_EQ(send(client, "hello", 5, 0), 5);
  int accepted = accept(listener, nullptr, nullptr);
  char buf[5];
  ASSERT_EQ(recv(accepted, buf, sizeof buf, MSG_WAITALL), 5);
  for (int fd : {accepted, client, listener}) close(fd);
}

// The validator's verdict on the records in path: its exit status and output.
// Every record also goes through the reference validator (the schema as
// written), which must agree with the fast one.
std::pair<int, std::string> validate(const std::string &path) {
  std::string out_path = path + ".validation";
  std::string command = fmt::format(
      "/usr/bin/python3 {}/tools/validate_records.py --reference-per-file 1000000 "
      "{}/docs/event.schema.json {} > {} 2>&1",
      RAQIB_SOURCE_ROOT, RAQIB_SOURCE_ROOT, path, out_path);
  int status = std::system(command.c_str());
  std::ifstream in(out_path);
  std::string out((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  return {WIFEXITED(status) ? WEXITSTATUS(status) : -1, out};
}

TEST(EventSchema, EveryKindOfRecordTheDaemonProducesIsValid) {
  TempFile base("unused", "");
  std::string dir = fs::path(base.path()).parent_path();
  std::string logfile = dir + "/events.json";
  TempFile config("raqib.toml", fmt::format(R"([core]
plugin_dirs = ["{}"]
[exec]
cadence = "50ms"
[file_access]
cadence = "50ms"
[network_peers]
cadence = "50ms"
[network_flows]
cadence = "50ms"
[dns]
cadence = "50ms"
[plugins.file]
[plugins.fault-throw]
[printers.stdout]
format = "json"
[printers.logfile]
path = "{}"
)",
                                            RAQIB_TEST_PLUGIN_DIR, logfile));
  DaemonProcess daemon({"--config", config.path(), "--events", "all"});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});                 // a detection
  close(open((dir + "/raqib-fault-trigger").c_str(), O_RDONLY | O_CREAT, 0600));  // health
  connectOverLoopback();                                                          // flows
  pid_t asker = askDnsInOwnNetns("schema.raqib.test");
  int status = 0;
  ASSERT_EQ(waitpid(asker, &status, 0), asker);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << "dns child: " << status;

  std::set<std::string> missing = {"detection", "health",    "info.file",
                                   "info.exec", "info.flow", "info.dns"};
  daemon.waitForStdout(
      [&](const std::string &line) {
        json j = json::parse(line, nullptr, false);
        if (!j.is_object()) return false;
        std::string kind = j.value("kind", "");
        if (kind == "info") {
          kind += "." + j.value("type", "");
          uint32_t pid = j["process"].value("pid", 0u);
          if (kind == "info.dns" && pid != uint32_t(asker)) return false;
        }
        if (kind == "detection" && j["process"]["pid"] != reader.pid) return false;
        missing.erase(kind);
        return missing.empty();
      },
      30s);
  EXPECT_TRUE(missing.empty()) << "never saw: " << fmt::format("{}", fmt::join(missing, ", "))
                               << "\n"
                               << daemon.stderrText();
  // --events all on a busy machine: the last drains take a while to print.
  ASSERT_EQ(daemon.stop(60s), 0) << daemon.stderrText();

  std::string printed = dir + "/stdout.json";
  std::ofstream(printed) << daemon.stdoutText();
  for (const auto &path : {printed, logfile}) {
    auto [code, out] = validate(path);
    EXPECT_EQ(code, 0) << out;
    for (const char *kind :
         {"detection=", "health=", "info.file=", "info.exec=", "info.flow=", "info.dns="})
      EXPECT_NE(out.find(kind), std::string::npos) << path << ": no valid " << kind << "\n" << out;
  }
}

// The validator refuses what the schema refuses, field by field, and both
// its validators (the draft-7 rewrite every record goes through, and the
// schema as written) agree on each record.
TEST(EventSchema, TheValidatorRefusesEveryKindOfMisfit) {
  const json valid = json::parse(R"({"time":"2026-11-26T07:35:57.982281475Z","kind":"info",
    "type":"file","process":{"pid":2,"ppid":1,"uid":0,"exe":"/usr/bin/cat","comm":"cat",
    "args":["/usr/bin/cat"],"cgroup_id":1,"start":"2026-11-26T07:35:56.156550101Z"},
    "ancestry":[{"pid":1,"exe":"/sbin/init","comm":"init"}],"host":"vm",
    "file":{"path":"/etc/shadow","actions":["open"]},"count":1,
    "first":"2026-11-26T07:35:57.935822364Z","last":"2026-11-26T07:35:57.935822364Z"})");
  std::vector<std::function<void(json &)>> misfits = {
      [](json &r) { r["extra"] = 1; },                 // a field the schema lacks
      [](json &r) { r["process"]["extra"] = 1; },      // ... inside a part
      [](json &r) { r["ancestry"][0]["extra"] = 1; },  // ... inside an array's item
      [](json &r) { r.erase("count"); },               // file needs count
      [](json &r) { r["type"] = "exec"; },             // type exec needs exec
      [](json &r) {
        r["exec"] = {{"events", {"exec"}}};
      },                                                   // file and exec both
      [](json &r) { r["time"] = "2026-11-26 07:35:57"; },  // a time's pattern
      [](json &r) { r["tainted"] = false; },               // only ever true
      [](json &r) {
        r["file"]["actions"] = {"open", "open"};
      },                                          // unique actions
      [](json &r) { r["process"]["pid"] = -1; },  // a u32
      [](json &r) { r["kind"] = "detection"; },   // a detection's fields
  };
  TempFile base("unused", "");
  std::string path = fs::path(base.path()).parent_path() / "misfits.json";
  {
    std::ofstream out(path);
    out << valid.dump() << "\n";
    for (const auto &misfit : misfits) {
      json r = valid;
      misfit(r);
      out << r.dump() << "\n";
    }
  }
  auto [code, out] = validate(path);
  EXPECT_EQ(code, 1) << out;
  EXPECT_EQ(out.find(":1:"), std::string::npos) << "the valid record refused\n" << out;
  for (size_t line = 2; line <= misfits.size() + 1; line++)
    EXPECT_NE(out.find(fmt::format(":{}:", line)), std::string::npos)
        << "misfit on line " << line << " not refused\n"
        << out;
  EXPECT_EQ(out.find("draft-7 rewrite"), std::string::npos) << out;
}

}  // namespace
}  // namespace raqib::test
