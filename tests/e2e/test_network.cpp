// Network behaviour end to end: raqib's cgroup, tracepoint and DNS-parsing
// programs, the network drains and the JSON info records (--events all).
// All traffic stays on loopback, or inside a network namespace the test
// creates; the DNS resolver is the test's own, answering a made-up name.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <map>
#include <string_view>
#include <set>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;

const char *kConfig = R"([network_peers]
cadence = "100ms"
[network_flows]
cadence = "100ms"
[dns]
cadence = "100ms"
[printers.stdout]
format = "json"
)";

// A file descriptor closed with the object.
class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) close(fd_);
  }
  Fd(const Fd &) = delete;
  Fd &operator=(const Fd &) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// A daemon reporting every record as JSON, ready.
class NetworkTest : public ::testing::Test {
 protected:
  void SetUp() override {
    config_ = std::make_unique<TempFile>("raqib.toml", kConfig);
    daemon_ = std::make_unique<DaemonProcess>(std::vector<std::string>{
        "--config", config_->path(), "--events", "all", "--format", "json"});
    ASSERT_TRUE(daemon_->waitReady()) << daemon_->stderrText();
  }
  void TearDown() override {
    if (daemon_) {
      EXPECT_EQ(daemon_->stop(60s), 0) << daemon_->stderrText();
    }
  }

  // Every info record of type so far. Lines are parsed once each: other
  // processes' traffic makes the output long.
  std::vector<json> records(const std::string &type) {
    const std::string &text = daemon_->stdoutText();
    for (size_t nl; (nl = text.find('\n', parsed_)) != std::string::npos; parsed_ = nl + 1) {
      std::string_view line(text.data() + parsed_, nl - parsed_);
      if (line.find("\"kind\":\"info\"") == line.npos) continue;
      json j = json::parse(line, nullptr, false);
      if (j.is_object()) records_[j["type"].get<std::string>()].push_back(std::move(j));
    }
    return records_[type];
  }

  // Read the daemon's output until done(records of type) holds, or timeout.
  bool waitFor(const std::string &type, const std::function<bool(const std::vector<json> &)> &done,
               std::chrono::milliseconds timeout = 30s) {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (done(records(type))) return true;
      if (std::chrono::steady_clock::now() >= deadline) return false;
      daemon_->waitForStdout([](const std::string &) { return false; }, 50ms);  // read more
    }
  }

  // Ours only: the records of this process and its children, and the log.
  std::string output() {
    std::string out;
    for (const auto &[type, list] : records_)
      for (const json &r : list)
        if (r["process"]["pid"] == getpid() || r["process"]["ppid"] == getpid())
          out += r.dump() + "\n";
    return out + "stderr:\n" + daemon_->stderrText();
  }

  std::unique_ptr<TempFile> config_;
  std::unique_ptr<DaemonProcess> daemon_;
  size_t parsed_ = 0;
  std::map<std::string, std::vector<json>> records_;
};

// The flow records of one 5-tuple (by ports) summed over drain intervals.
struct FlowSums {
  uint64_t bytes_out = 0, bytes_in = 0, packets_out = 0, packets_in = 0;
  std::set<std::string> states;
  std::set<std::string> names;
  std::set<int64_t> pids;
  std::string protocol;
  int family = 0;
};

FlowSums sumFlows(const std::vector<json> &records, int local_port, int remote_port) {
  FlowSums s;
  for (const json &r : records) {
    const json &f = r["flow"];
    if (f["direction"] != "flow" || f["local"]["port"] != local_port ||
        f["remote"]["port"] != remote_port)
      continue;
    s.bytes_out += f["bytes_out"].get<uint64_t>();
    s.bytes_in += f["bytes_in"].get<uint64_t>();
    s.packets_out += f["packets_out"].get<uint64_t>();
    s.packets_in += f["packets_in"].get<uint64_t>();
    if (!f["state"].get<std::string>().empty()) s.states.insert(f["state"].get<std::string>());
    for (const auto &n : f["names"]) s.names.insert(n.get<std::string>());
    // The owner of the data; a handshake drained before accept() returned
    // has no owner yet (pid 0), and carries no data.
    if (f["bytes_out"] != 0 || f["bytes_in"] != 0)
      s.pids.insert(r["process"]["pid"].get<int64_t>());
    s.protocol = f["protocol"];
    s.family = f["family"];
  }
  return s;
}

// The first peer record (connect or accept) for which match holds, or null.
json findPeer(const std::vector<json> &records, const std::function<bool(const json &)> &match) {
  for (const json &r : records)
    if (r["flow"]["direction"] != "flow" && match(r)) return r;
  return nullptr;
}

int localPort(int fd) {
  sockaddr_storage a{};
  socklen_t len = sizeof a;
  getsockname(fd, reinterpret_cast<sockaddr *>(&a), &len);
  return a.ss_family == AF_INET6 ? ntohs(reinterpret_cast<sockaddr_in6 &>(a).sin6_port)
                                 : ntohs(reinterpret_cast<sockaddr_in &>(a).sin_port);
}

sockaddr_in v4(const char *addr, int port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  inet_pton(AF_INET, addr, &a.sin_addr);
  return a;
}

bool sendAll(int fd, size_t bytes) {
  std::string data(bytes, 'r');
  return send(fd, data.data(), data.size(), 0) == ssize_t(bytes);
}

bool recvAll(int fd, size_t bytes) {
  std::vector<char> buf(bytes);
  size_t got = 0;
  while (got < bytes) {
    ssize_t n = recv(fd, buf.data() + got, bytes - got, 0);
    if (n <= 0) return false;
    got += n;
  }
  return true;
}

// A TCP exchange over loopback: connect to a listener, send out_bytes,
// answer in_bytes. The sockets stay open until close().
struct TcpExchange {
  std::unique_ptr<Fd> listener, client, server;
  int client_port = 0;
  int server_port = 0;
  void close() {
    client.reset();
    server.reset();
    listener.reset();
  }
};
TcpExchange tcpExchange(int family, size_t out_bytes, size_t in_bytes) {
  TcpExchange x;
  x.listener = std::make_unique<Fd>(socket(family, SOCK_STREAM, 0));
  x.client = std::make_unique<Fd>(socket(family, SOCK_STREAM, 0));
  int listener = x.listener->get(), client = x.client->get();
  sockaddr_storage addr{};
  socklen_t len = 0;
  if (family == AF_INET6) {
    auto &a = reinterpret_cast<sockaddr_in6 &>(addr);
    a.sin6_family = AF_INET6;
    a.sin6_addr = in6addr_loopback;
    len = sizeof a;
  } else {
    reinterpret_cast<sockaddr_in &>(addr) = v4("127.0.0.1", 0);
    len = sizeof(sockaddr_in);
  }
  EXPECT_EQ(bind(listener, reinterpret_cast<sockaddr *>(&addr), len), 0) << strerror(errno);
  EXPECT_EQ(listen(listener, 1), 0);
  getsockname(listener, reinterpret_cast<sockaddr *>(&addr), &len);
  EXPECT_EQ(connect(client, reinterpret_cast<sockaddr *>(&addr), len), 0) << strerror(errno);
  x.server = std::make_unique<Fd>(accept4(listener, nullptr, nullptr, SOCK_CLOEXEC));
  int server = x.server->get();
  EXPECT_GE(server, 0) << strerror(errno);
  EXPECT_TRUE(sendAll(client, out_bytes));
  EXPECT_TRUE(recvAll(server, out_bytes));
  EXPECT_TRUE(sendAll(server, in_bytes));
  EXPECT_TRUE(recvAll(client, in_bytes));
  x.client_port = localPort(client);
  x.server_port = localPort(listener);
  return x;
}

bool isConnectTo(const json &p, int port) {
  return p["flow"]["direction"] == "connect" && p["flow"]["remote"]["port"] == port;
}
bool isAcceptOn(const json &p, int port) {
  return p["flow"]["direction"] == "accept" && p["flow"]["local"]["port"] == port;
}

TEST_F(NetworkTest, TcpConnectAcceptAndFlowOnLoopback) {
  const int64_t pid = getpid();
  TcpExchange x = tcpExchange(AF_INET, 1000, 321);
  // Both sides' bytes counted, the connect and the accept reported.
  bool complete = waitFor("flow", [&](const std::vector<json> &r) {
    FlowSums c = sumFlows(r, x.client_port, x.server_port);
    FlowSums s = sumFlows(r, x.server_port, x.client_port);
    return c.bytes_out >= 1000 && c.bytes_in >= 321 && s.bytes_in >= 1000 && s.bytes_out >= 321 &&
           findPeer(r, [&](const json &p) { return isConnectTo(p, x.server_port); }) != nullptr &&
           findPeer(r, [&](const json &p) { return isAcceptOn(p, x.server_port); }) != nullptr;
  });
  ASSERT_TRUE(complete) << output();
  auto flows = records("flow");

  FlowSums client = sumFlows(flows, x.client_port, x.server_port);
  EXPECT_EQ(client.bytes_out, 1000u);  // TCP payload, exactly
  EXPECT_EQ(client.bytes_in, 321u);
  EXPECT_GE(client.packets_out, 1u);
  EXPECT_GE(client.packets_in, 1u);
  EXPECT_EQ(client.pids, std::set<int64_t>{pid});
  EXPECT_EQ(client.protocol, "tcp");
  EXPECT_EQ(client.family, 4);
  EXPECT_TRUE(client.states.count("ESTABLISHED")) << output();

  FlowSums server = sumFlows(flows, x.server_port, x.client_port);
  EXPECT_EQ(server.bytes_in, 1000u);
  EXPECT_EQ(server.bytes_out, 321u);
  EXPECT_EQ(server.pids, std::set<int64_t>{pid});  // the acceptor, learnt at accept's exit

  json connect = findPeer(flows, [&](const json &p) { return isConnectTo(p, x.server_port); });
  EXPECT_EQ(connect["process"]["pid"], pid);
  EXPECT_EQ(connect["flow"]["protocol"], "tcp");
  EXPECT_EQ(connect["flow"]["family"], 4);
  EXPECT_EQ(connect["flow"]["remote"]["addr"], "127.0.0.1");
  EXPECT_EQ(connect["count"], 1);

  json accepted = findPeer(flows, [&](const json &p) { return isAcceptOn(p, x.server_port); });
  EXPECT_EQ(accepted["process"]["pid"], pid);
  EXPECT_EQ(accepted["flow"]["remote"]["addr"], "127.0.0.1");
  EXPECT_EQ(accepted["flow"]["remote"]["port"], x.client_port);
  EXPECT_EQ(accepted["count"], 1);

  // Closing is a state change of the flow (sock/inet_sock_set_state).
  x.close();
  EXPECT_TRUE(waitFor("flow", [&](const std::vector<json> &r) {
    std::set<std::string> s = sumFlows(r, x.client_port, x.server_port).states;
    return s.count("FIN_WAIT1") || s.count("FIN_WAIT2") || s.count("TIME_WAIT") || s.count("CLOSE");
  })) << output();
}

TEST_F(NetworkTest, RefusedConnectCarriesItsError) {
  // A bound port nobody listens on: the kernel refuses the connect.
  Fd bound(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in addr = v4("127.0.0.1", 0);
  ASSERT_EQ(bind(bound.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  int port = localPort(bound.get());
  addr = v4("127.0.0.1", port);
  Fd client(socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_NE(connect(client.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  ASSERT_EQ(errno, ECONNREFUSED);
  ASSERT_TRUE(waitFor("flow", [&](const std::vector<json> &r) {
    return findPeer(r, [&](const json &p) { return isConnectTo(p, port); }) != nullptr;
  })) << output();
  json connect = findPeer(records("flow"), [&](const json &p) { return isConnectTo(p, port); });
  EXPECT_EQ(connect["process"]["pid"], getpid());
  EXPECT_EQ(connect["flow"]["error"], -ECONNREFUSED);
}

// UDP sends to port, summed over the peer records of this process.
int64_t udpSends(const std::vector<json> &records, int port) {
  int64_t sends = 0;
  for (const json &r : records)
    if (r["flow"]["direction"] == "connect" && r["flow"]["protocol"] == "udp" &&
        r["flow"]["remote"]["port"] == port && r["process"]["pid"] == getpid())
      sends += r["count"].get<int64_t>();
  return sends;
}

TEST_F(NetworkTest, UdpFlowCountsPayloadBytesExactly) {
  const int64_t pid = getpid();
  Fd receiver(socket(AF_INET, SOCK_DGRAM, 0));
  Fd sender(socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in addr = v4("127.0.0.1", 0);
  ASSERT_EQ(bind(receiver.get(), reinterpret_cast<sockaddr *>(&addr), sizeof addr), 0);
  int rport = localPort(receiver.get());
  addr = v4("127.0.0.1", rport);
  std::string payload(777, 'u');
  for (int i = 0; i < 3; i++)
    ASSERT_EQ(sendto(sender.get(), payload.data(), payload.size(), 0,
                     reinterpret_cast<sockaddr *>(&addr), sizeof addr),
              ssize_t(payload.size()));
  char buf[1024];
  for (int i = 0; i < 3; i++) ASSERT_EQ(recv(receiver.get(), buf, sizeof buf, 0), 777);
  int sport = localPort(sender.get());

  bool complete = waitFor("flow", [&](const std::vector<json> &r) {
    return sumFlows(r, sport, rport).bytes_out >= 3 * 777 &&
           sumFlows(r, rport, sport).bytes_in >= 3 * 777 && udpSends(r, rport) >= 3;
  });
  ASSERT_TRUE(complete) << output();
  auto flows = records("flow");
  FlowSums out = sumFlows(flows, sport, rport);
  EXPECT_EQ(out.bytes_out, 3u * 777);  // UDP payload bytes, exactly
  EXPECT_EQ(out.packets_out, 3u);
  EXPECT_EQ(out.protocol, "udp");
  EXPECT_TRUE(out.states.empty());
  EXPECT_EQ(out.pids, std::set<int64_t>{pid});
  FlowSums in = sumFlows(flows, rport, sport);
  EXPECT_EQ(in.bytes_in, 3u * 777);
  EXPECT_EQ(in.packets_in, 3u);
  EXPECT_EQ(in.pids, std::set<int64_t>{pid});  // the receiver's owner: who created it

  // An unconnected send is a peer too, counted per send (over intervals).
  EXPECT_EQ(udpSends(flows, rport), 3);
  json peer = findPeer(flows, [&](const json &p) { return p["flow"]["remote"]["port"] == rport; });
  EXPECT_EQ(peer["flow"]["direction"], "connect");
  EXPECT_EQ(peer["flow"]["protocol"], "udp");
  EXPECT_EQ(peer["process"]["pid"], pid);
}

TEST_F(NetworkTest, Ipv6Loopback) {
  const int64_t pid = getpid();
  TcpExchange x = tcpExchange(AF_INET6, 4096, 64);
  bool complete = waitFor("flow", [&](const std::vector<json> &r) {
    FlowSums c = sumFlows(r, x.client_port, x.server_port);
    return c.bytes_out >= 4096 && c.bytes_in >= 64 &&
           findPeer(r, [&](const json &p) {
             return p["flow"]["direction"] == "accept" &&
                    p["flow"]["local"]["port"] == x.server_port;
           }) != nullptr;
  });
  ASSERT_TRUE(complete) << output();
  auto flows = records("flow");
  FlowSums client = sumFlows(flows, x.client_port, x.server_port);
  EXPECT_EQ(client.family, 6);
  EXPECT_EQ(client.bytes_out, 4096u);
  EXPECT_EQ(client.bytes_in, 64u);
  EXPECT_EQ(client.pids, std::set<int64_t>{pid});
  EXPECT_TRUE(client.states.count("ESTABLISHED")) << output();
  json connect = findPeer(flows, [&](const json &p) {
    return p["flow"]["direction"] == "connect" && p["flow"]["remote"]["port"] == x.server_port;
  });
  ASSERT_FALSE(connect.is_null()) << output();
  EXPECT_EQ(connect["flow"]["family"], 6);
  EXPECT_EQ(connect["flow"]["remote"]["addr"], "::1");
  EXPECT_EQ(connect["process"]["pid"], pid);
  json accepted = findPeer(flows, [&](const json &p) {
    return p["flow"]["direction"] == "accept" && p["flow"]["local"]["port"] == x.server_port;
  });
  EXPECT_EQ(accepted["flow"]["family"], 6);
  EXPECT_EQ(accepted["flow"]["remote"]["addr"], "::1");
  EXPECT_EQ(accepted["process"]["pid"], pid);

  x.close();  // the state hook keys IPv6 sockets the way their packets are keyed
  EXPECT_TRUE(waitFor("flow", [&](const std::vector<json> &r) {
    std::set<std::string> s = sumFlows(r, x.client_port, x.server_port).states;
    return s.count("FIN_WAIT1") || s.count("FIN_WAIT2") || s.count("TIME_WAIT") || s.count("CLOSE");
  })) << output();
}

// ---- DNS --------------------------------------------------------------

constexpr const char *kName = "needle.raqib.test";
constexpr const char *kAnswer = "127.0.0.77";
constexpr int kServicePort = 8077;

std::string wireName(const std::string &dotted) {
  std::string wire;
  size_t at = 0;
  while (at <= dotted.size()) {
    size_t dot = dotted.find('.', at);
    if (dot == std::string::npos) dot = dotted.size();
    wire += char(dot - at);
    wire += dotted.substr(at, dot - at);
    at = dot + 1;
  }
  return wire + '\0';
}

// How the resolver answers: to a query the client sent (ask), with the
// query's id or another one; or, not asked, to a client that sent nothing.
struct DnsPlay {
  const char *name = kName;
  const char *answer = kAnswer;
  bool ask = true;
  uint16_t answer_id = 0x5241;  // the query's id
};

// The child: in a network namespace of its own, bring up lo, run a one-shot
// resolver on 127.0.0.1:53, ask it for play.name (or not), answer
// play.answer, then connect to the answer. Exit code 0 when everything
// worked, else the step that failed.
int resolveAndConnect(const DnsPlay &play = {}) {
  if (unshare(CLONE_NEWNET) != 0) return 10;
  {
    Fd ctl(socket(AF_INET, SOCK_DGRAM, 0));
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
    if (ioctl(ctl.get(), SIOCGIFFLAGS, &ifr) != 0) return 11;
    ifr.ifr_flags |= IFF_UP;
    if (ioctl(ctl.get(), SIOCSIFFLAGS, &ifr) != 0) return 12;
  }
  Fd resolver(socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in dns = v4("127.0.0.1", 53);
  if (bind(resolver.get(), reinterpret_cast<sockaddr *>(&dns), sizeof dns) != 0) return 13;
  Fd service(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in svc = v4(play.answer, kServicePort);
  if (bind(service.get(), reinterpret_cast<sockaddr *>(&svc), sizeof svc) != 0) return 14;
  if (listen(service.get(), 1) != 0) return 15;

  // The query: id 0x5241, recursion desired, one question, play.name IN A.
  std::string question = wireName(play.name) + std::string("\0\1\0\1", 4);
  std::string query = std::string("\x52\x41\x01\x00\0\1\0\0\0\0\0\0", 12) + question;
  Fd client(socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in from = v4("127.0.0.1", 0);
  socklen_t from_len = sizeof from;
  char buf[512];
  if (play.ask) {
    if (sendto(client.get(), query.data(), query.size(), 0, reinterpret_cast<sockaddr *>(&dns),
               sizeof dns) != ssize_t(query.size()))
      return 16;
    ssize_t n = recvfrom(resolver.get(), buf, sizeof buf, 0, reinterpret_cast<sockaddr *>(&from),
                         &from_len);
    if (n != ssize_t(query.size())) return 17;
  } else if (bind(client.get(), reinterpret_cast<sockaddr *>(&from), sizeof from) != 0 ||
             getsockname(client.get(), reinterpret_cast<sockaddr *>(&from), &from_len) != 0) {
    return 23;
  }

  // The resolver answers: the question, then one A record whose owner name
  // is a pointer to the question's name (0xc00c).
  in_addr answer_addr{};
  if (inet_pton(AF_INET, play.answer, &answer_addr) != 1) return 24;
  std::string answer = std::string(1, char(play.answer_id >> 8)) +
                       std::string(1, char(play.answer_id & 0xff)) +
                       std::string("\x81\x80\0\1\0\1\0\0\0\0", 10) + question +
                       std::string("\xc0\x0c\0\1\0\1\0\0\0\x3c\0\4", 12) +
                       std::string(reinterpret_cast<const char *>(&answer_addr), 4);
  if (sendto(resolver.get(), answer.data(), answer.size(), 0, reinterpret_cast<sockaddr *>(&from),
             from_len) != ssize_t(answer.size()))
    return 18;
  ssize_t n = recv(client.get(), buf, sizeof buf, 0);
  if (n != ssize_t(answer.size())) return 19;
  in_addr resolved{};
  std::memcpy(&resolved, buf + n - 4, 4);

  // Connect to what the name resolved to and say hello.
  Fd conn(socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(kServicePort);
  to.sin_addr = resolved;
  if (connect(conn.get(), reinterpret_cast<sockaddr *>(&to), sizeof to) != 0) return 20;
  if (send(conn.get(), "hello", 5, 0) != 5) return 21;
  Fd accepted(accept(service.get(), nullptr, nullptr));
  if (accepted.get() < 0 || recv(accepted.get(), buf, 5, MSG_WAITALL) != 5) return 22;
  return 0;
}

TEST_F(NetworkTest, DnsQueryAnsweredOnLoopbackNamesTheFlow) {
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) _exit(resolveAndConnect());
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
      << "the resolver child failed at step " << WEXITSTATUS(status);

  auto isQuery = [&](const json &r) {
    return r["process"]["pid"] == child && r["dns"]["name"] == kName;
  };
  ASSERT_TRUE(waitFor("dns", [&](const std::vector<json> &r) {
    for (const json &d : r)
      if (isQuery(d) && !d["dns"]["answers"].empty()) return true;
    return false;
  })) << output();
  json query;
  uint64_t queries = 0;
  for (const json &d : records("dns"))
    if (isQuery(d)) {
      queries += d["dns"]["queries"].get<uint64_t>();
      if (!d["dns"]["answers"].empty()) query = d;
    }
  EXPECT_EQ(queries, 1u);
  EXPECT_EQ(query["dns"]["type"], "A");
  EXPECT_EQ(query["dns"]["answers"], json::array({kAnswer}));
  EXPECT_EQ(query["dns"]["rcode"], "NOERROR");
  EXPECT_EQ(query["dns"]["responses"], 1);

  // The connect and the flow to the answered address carry the name.
  auto toService = [&](const json &r) {
    return r["process"]["pid"] == child && r["flow"]["remote"]["addr"] == kAnswer &&
           r["flow"]["remote"]["port"] == kServicePort;
  };
  ASSERT_TRUE(waitFor("flow", [&](const std::vector<json> &r) {
    bool connect = false, flow = false;
    for (const json &f : r) {
      if (!toService(f)) continue;
      connect |= f["flow"]["direction"] == "connect";
      flow |= f["flow"]["direction"] == "flow" && f["flow"]["bytes_out"] == 5;
    }
    return connect && flow;
  })) << output();
  for (const json &f : records("flow"))
    if (toService(f)) {
      EXPECT_EQ(f["flow"]["names"], json::array({kName})) << f.dump();
    }
}

// A forged answer, to a socket that asked nothing or with another id than
// the query's, names no address: the kernel counts a response only when it
// answers a query that socket sent from that port with that id.
TEST_F(NetworkTest, AForgedDnsAnswerNamesNoAddress) {
  const DnsPlay plays[] = {
      {"unasked.raqib.test", "127.0.0.78", false, 0x5241},
      {"wrongid.raqib.test", "127.0.0.79", true, 0x1234},
  };
  for (const DnsPlay &play : plays) {
    pid_t child = fork();
    ASSERT_GE(child, 0);
    if (child == 0) _exit(resolveAndConnect(play));
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << play.name << ": the resolver child failed at step " << WEXITSTATUS(status);
    auto toService = [&](const json &r) {
      return r["process"]["pid"] == child && r["flow"]["remote"]["addr"] == play.answer &&
             r["flow"]["remote"]["port"] == kServicePort;
    };
    ASSERT_TRUE(waitFor("flow", [&](const std::vector<json> &r) {
      for (const json &f : r)
        if (toService(f) && f["flow"]["direction"] == "connect") return true;
      return false;
    })) << output();
    for (const json &f : records("flow"))
      if (toService(f)) {
        EXPECT_TRUE(!f["flow"].contains("names") || f["flow"]["names"].empty())
            << play.name << ": " << f.dump();
      }
    for (const json &d : records("dns"))
      if (d["process"]["pid"] == child) {
        EXPECT_TRUE(d["dns"]["answers"].empty()) << play.name << ": " << d.dump();
      }
  }
}

}  // namespace
}  // namespace raqib::test
