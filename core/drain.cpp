#include "drain.hpp"

#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <spdlog/spdlog.h>

#include <cstddef>

#include <algorithm>
#include <chrono>
#include <tuple>

#include "dns_lane.hpp"
#include "exec_lane.hpp"
#include "peer_lane.hpp"
#include "tamper.hpp"
#include "watched_set.hpp"

namespace raqib {

namespace {
// How long an exited process stays in the table for its children's ancestry.
constexpr std::chrono::seconds kKeepExited{30};
// How often the table is reconciled with the kernel's list of processes.
constexpr std::chrono::seconds kReconcileEvery{5};
// Past this many entries the table is reconciled at once and exited
// processes leave it without waiting kKeepExited: a fork storm cannot grow it
// without bound.
constexpr size_t kMaxProcesses = 65536;
// The path of a record whose string the kernel's LRU evicted before the drain.
constexpr const char *kEvicted = "<evicted>";
}  // namespace

std::string foldDots(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto p : parts) (out += '/') += p;
  return out.empty() ? "/" : out;
}

const std::string *StringCache::lookup(uint64_t hash) {
  if (auto it = cache_.find(hash); it != cache_.end()) return &it->second;
  raqib_string s{};
  if (bpf_map_lookup_elem(fd_, &hash, &s) != 0) {
    lost_++;
    return nullptr;
  }
  if (cache_.size() >= max_entries_) cache_.clear();  // the kernel still has them
  return &cache_.emplace(hash, stringText(s)).first->second;
}

std::string stringText(const raqib_string &s) {
  return std::string(s.str, std::min<size_t>(s.len, RAQIB_PATH_MAX));
}

bool Drainer::pastStopBound() const {
  if (!stop_came_) return false;
  int64_t came = stop_came_->load(std::memory_order_relaxed);
  using Clock = std::chrono::steady_clock;
  return came && Clock::now() >= Clock::time_point(Clock::duration(came)) + stop_bound_;
}

uint64_t Drainer::notDrained() const {
  uint64_t n = 0;
  for (const auto &[fd, left] : left_at_stop_) n += left;
  return n;
}

template <class K, class V, class Fn>
Status Drainer::take(EpochPair &pair, int fd, Bound bound, Fn &&fn) {
  uint64_t left = 0;
  auto status = bound == Bound::stop
                    ? drainMap<K, V>(
                          fd, std::forward<Fn>(fn), [this] { return pastStopBound(); }, &left)
                    : drainMap<K, V>(fd, std::forward<Fn>(fn));
  if (left) left_at_stop_[fd] = left;
  if (status && !left) pair.drained();
  return status;
}

void Drainer::deliver(const std::shared_ptr<const RecordSnapshot> &record, Priority priority) {
  plugins_.dispatch(record, priority);
  if (events_ == Events::All)
    plugins_.publishInfo(record, stop_came_ && stop_came_->load(std::memory_order_relaxed)
                                     ? PluginHost::Format::later
                                     : PluginHost::Format::now);
}

ExecActivity decodeExec(const raqib_proc &rec, int64_t boot_to_unix_ns) {
  ExecActivity a;
  a.events = (rec.flags & RAQIB_PROC_FORKED ? RAQIB_EXEC_FORKED : 0) |
             (rec.flags & RAQIB_PROC_EXECED ? RAQIB_EXEC_EXECED : 0) |
             (rec.flags & RAQIB_PROC_EXITED ? RAQIB_EXEC_EXITED : 0) |
             (rec.flags & RAQIB_PROC_UNSHARED ? RAQIB_EXEC_UNSHARED : 0) |
             (rec.flags & RAQIB_PROC_SETNS ? RAQIB_EXEC_SETNS : 0);
  a.exit_code = rec.exit_code;
  a.exec_unix_ns = rec.exec_ns ? unixNsOfBoot(rec.exec_ns, boot_to_unix_ns) : 0;
  a.exit_unix_ns = rec.exit_ns ? unixNsOfBoot(rec.exit_ns, boot_to_unix_ns) : 0;
  return a;
}

Status Drainer::drainExec() {
  // The context map first, then the lane: a child's entry is written after
  // its parent's exec, so a watched parent's (a shell, a web server) is in
  // the lane taken out after the child's context map, never a drain later.
  // The other way round (an unwatched parent's exec between the two flips,
  // a watched child's before the second) the child's record names the
  // parent's previous image; the flips are an RCU grace period apart.
  auto drained = bpf_.execEpochs().flip();
  if (!drained) return Error{drained.error()};
  // An idle lane stays in place (a flip costs a grace period). Its fill
  // starts over before the flip: an insert during the flip's grace period
  // goes to the new map and must count there.
  ExecLane &exec_lane = bpf_.execLane();
  bool lane_idle = exec_lane.idle();
  if (!lane_idle)
    if (auto s = exec_lane.nextEpoch(); !s) return s;
  auto lane = lane_idle ? Result<int>(EpochPair::kNothingToDrain) : exec_lane.epochs().flip();
  if (!lane) return Error{lane.error()};
  int64_t offset = bootToUnixOffsetNs();
  // Every entry into the table first, then the records: a child's record
  // then finds the parent that forked it in the same interval, whatever
  // order the map hands them out in.
  // The images of one process in the order they ran (its start, then each
  // exec): each replaces the one before it in the table, which keeps the
  // replaced one for the records it made.
  std::vector<raqib_proc> epoch;
  auto add = [&](const char *map, const raqib_image &image, const raqib_proc &rec) {
    if (rec.hdr.kind != RAQIB_REC_PROC || rec.hdr.size != sizeof rec || rec.tgid != image.tgid ||
        rec.exec_seq != image.exec_seq || rec.start_ns != image.start_ns)
      return impossible_(map, fmt::format("an entry of kind {} for pid {} under key {}",
                                          rec.hdr.kind, rec.tgid, image.tgid));
    epoch.push_back(rec);
  };
  // The lane's executables, carried in its entries: no LRU evicted them.
  std::unordered_map<uint64_t, std::string> lane_exes;
  Status watched = Ok{};
  if (!lane_idle) {
    watched = take<raqib_image, raqib_watched_proc>(
        exec_lane.epochs(), *lane, Bound::whole,
        [&](const raqib_image &image, const raqib_watched_proc &v) {
          add("exec_watched", image, v.proc);
          lane_exes.emplace(v.proc.exe_hash, stringText(v.exe));
          stats_.exec_watched_records++;
        });
  }
  size_t in_lane = epoch.size();
  auto status = take<raqib_image, raqib_proc>(
      bpf_.execEpochs(), *drained, Bound::whole,
      [&](const raqib_image &image, const raqib_proc &rec) { add("exec", image, rec); });
  auto earlier = [](const raqib_proc &a, const raqib_proc &b) {
    return std::tie(a.tgid, a.start_ns, a.exec_seq) < std::tie(b.tgid, b.start_ns, b.exec_seq);
  };
  // Each map's records in image order for the plugins, the lane's first;
  // all of them in image order for the table.
  std::sort(epoch.begin(), epoch.begin() + in_lane, earlier);
  std::sort(epoch.begin() + in_lane, epoch.end(), earlier);
  std::vector<const raqib_proc *> in_order;
  for (const raqib_proc &rec : epoch) in_order.push_back(&rec);
  std::stable_sort(in_order.begin(), in_order.end(),
                   [&](const raqib_proc *a, const raqib_proc *b) { return earlier(*a, *b); });
  for (const raqib_proc *in : in_order) {
    const raqib_proc &rec = *in;
    const std::string *exe = nullptr;
    if (rec.flags & RAQIB_PROC_EXECED) {
      auto carried = lane_exes.find(rec.exe_hash);
      exe = carried != lane_exes.end() ? &carried->second : strings_.lookup(rec.exe_hash);
    }
    processes_.apply(rec, exe ? *exe : std::string());
  }
  // The lane's records first and urgent: a plugin queue that overflows on a
  // storm's records, this drain's or an earlier one's, drops context, not
  // what recipes watch.
  for (size_t i = 0; i < epoch.size(); i++) {
    const raqib_proc &rec = epoch[i];
    deliver(RecordSnapshot::exec(processes_, rec.tgid, decodeExec(rec, offset), offset,
                                 ImageRef{rec.start_ns, rec.exec_seq}),
            i < in_lane ? Priority::urgent : Priority::normal);
    stats_.exec_records++;
  }
  if (!watched) return watched;
  if (auto trimmed = trimProcesses(); !trimmed && status) return trimmed;
  return status;
}

Status Drainer::trimProcesses() {
  uint64_t now = bootNowNs();
  auto steady = std::chrono::steady_clock::now();
  bool crowded = processes_.size() > kMaxProcesses;
  if (crowded || steady - last_reconcile_ >= kReconcileEvery) {
    last_reconcile_ = steady;
    auto live = bpf_.liveTasks();
    if (!live) return Error{live.error()};
    if (size_t gone = processes_.reconcile(*live, now)) {
      stats_.processes_reconciled += gone;
      spdlog::info("process table: {} processes whose exit was not recorded are gone", gone);
    }
  }
  processes_.expire(now, crowded ? std::chrono::seconds(0) : kKeepExited);
  return Ok{};
}

namespace {

// The other path is looked up after path is copied: a look-up may invalidate
// the string an earlier one returned.
FileActivity decodeFileKey(const raqib_file_key &key, const std::string *path,
                           const StringLookup &strings) {
  FileActivity a;
  bool joined = key.path_flags & RAQIB_STR_JOINED;
  a.path = !path ? kEvicted : joined ? foldDots(*path) : *path;
  a.path_flags = (key.path_flags & RAQIB_STR_TRUNCATED ? RAQIB_PATH_TRUNCATED : 0) |
                 (key.path_flags & RAQIB_STR_UNRESOLVED ? RAQIB_PATH_UNRESOLVED : 0) |
                 (joined ? RAQIB_PATH_LEXICAL : 0) |
                 (key.path_flags & RAQIB_STR_READ_AT_EXIT ? RAQIB_PATH_READ_AT_EXIT : 0);
  if (key.other_hash) {
    // A symlink's other path is its text, and a mount's source; a
    // rename's or link's is a path.
    const std::string *other = strings(key.other_hash);
    bool text = key.actions & (RAQIB_FILE_SYMLINK | RAQIB_FILE_MOUNT);
    a.other_path = !other ? kEvicted : text ? *other : foldDots(*other);
  }
  a.actions = key.actions;  // the kernel's action bits are the SDK's
  a.error = key.error;
  return a;
}

}  // namespace

FileActivity decodeFile(const raqib_file_key &key, const raqib_file_value &value,
                        const StringLookup &strings, int64_t boot_to_unix_ns) {
  FileActivity a = decodeFileKey(key, strings(key.path_hash), strings);
  a.count = value.count;
  a.first_unix_ns = unixNsOfBoot(value.first_ns, boot_to_unix_ns);
  a.last_unix_ns = unixNsOfBoot(value.last_ns, boot_to_unix_ns);
  return a;
}

FileActivity decodeFileEvent(const raqib_file_event &e, const StringLookup &strings,
                             int64_t boot_to_unix_ns) {
  std::string path(e.path.str, e.path.len);
  FileActivity a = decodeFileKey(e.key, &path, strings);
  a.count = 1;
  a.first_unix_ns = a.last_unix_ns = unixNsOfBoot(e.time_ns, boot_to_unix_ns);
  return a;
}

const raqib_file_event *fileEventIn(const void *data, size_t size) {
  constexpr size_t kHead = offsetof(raqib_file_event, path.str);
  const auto *e = static_cast<const raqib_file_event *>(data);
  if (size < kHead || e->hdr.kind != RAQIB_REC_FILE_EVENT || kHead + e->path.len > size)
    return nullptr;
  return e;
}

int Drainer::consumeFileEvent(const void *data, size_t size) {
  const raqib_file_event *e = fileEventIn(data, size);
  if (!e) {
    spdlog::error("ring buffer: malformed file event of {} bytes", size);
    return -1;
  }
  int64_t offset = bootToUnixOffsetNs();
  deliver(RecordSnapshot::file(processes_, e->key.tgid, decodeFileEvent(*e, lookupString(), offset),
                               offset, ImageRef{e->key.start_ns, e->key.exec_seq}));
  stats_.file_records++;
  return 0;
}

template <class K, class V, class Fn>
Status Drainer::drainWithContext(EpochPair &pair, bool names, Bound bound, Fn &&fn) {
  auto drained = pair.flip();
  if (!drained) return Error{drained.error()};
  // Each entry of the map taken out was written after the exec (and DNS
  // answer) it depends on, so those are in the maps flipped after it:
  // drain them first, and every record names its process as it was.
  if (auto s = drainExec(); !s) return s;
  if (names)
    if (auto s = drainDns(); !s) return s;
  return take<K, V>(pair, *drained, bound, std::forward<Fn>(fn));
}

FileActivity decodeWatched(const raqib_file_key &key, const raqib_watched_value &value,
                           const StringLookup &strings, int64_t boot_to_unix_ns) {
  std::string path = stringText(value.path);
  FileActivity a = decodeFileKey(key, &path, strings);
  a.count = value.count;
  a.first_unix_ns = unixNsOfBoot(value.first_ns, boot_to_unix_ns);
  a.last_unix_ns = unixNsOfBoot(value.last_ns, boot_to_unix_ns);
  return a;
}

Status Drainer::drainFile() {
  int64_t offset = bootToUnixOffsetNs();
  // The per-process shares start over with the epoch about to begin.
  if (auto s = bpf_.watched().nextEpoch(); !s) return s;
  // The watched lane first: what recipes watch reaches them before the
  // context, however much of it there is.
  auto watched = drainWithContext<raqib_file_key, raqib_watched_value>(
      bpf_.watched().epochs(), false, Bound::whole,
      [&](const raqib_file_key &key, const raqib_watched_value &value) {
        FileActivity a = decodeWatched(key, value, lookupString(), offset);
        if (const std::string *name = bpf_.watched().canonicalName(value.canonical_hash))
          a.watched_path = *name;
        deliver(RecordSnapshot::file(processes_, key.tgid, std::move(a), offset,
                                     ImageRef{key.start_ns, key.exec_seq}),
                Priority::urgent);
        stats_.file_records++;
        stats_.watched_records++;
      });
  auto status = drainWithContext<raqib_file_key, raqib_file_value>(
      bpf_.fileEpochs(), false, Bound::stop,
      [&](const raqib_file_key &key, const raqib_file_value &value) {
        if (value.count == 0 || value.first_ns > value.last_ns)
          return impossible_("file_access",
                             fmt::format("an entry counting {} events", value.count));
        deliver(RecordSnapshot::file(processes_, key.tgid,
                                     decodeFile(key, value, lookupString(), offset), offset,
                                     ImageRef{key.start_ns, key.exec_seq}));
        stats_.file_records++;
      });
  return watched ? status : watched;
}

// ---- network ---------------------------------------------------------

void ResolvedNames::add(const std::string &addr, const std::string &name) {
  auto it = names_.find(addr);
  if (it == names_.end()) {
    if (names_.size() >= max_addresses_ && !order_.empty()) {
      names_.erase(order_.back());
      order_.pop_back();
      evicted_++;
    }
    order_.push_front(addr);
    it = names_.emplace(addr, Entry{{}, order_.begin()}).first;
  } else {
    order_.splice(order_.begin(), order_, it->second.order);
  }
  std::vector<std::string> &names = it->second.names;
  std::erase(names, name);
  names.insert(names.begin(), name);
  if (names.size() > kNamesPerAddress) names.resize(kNamesPerAddress);
}

std::vector<std::string> ResolvedNames::lookup(const std::string &addr) const {
  auto it = names_.find(addr);
  return it == names_.end() ? std::vector<std::string>{} : it->second.names;
}

std::string addressText(const uint8_t *addr, uint32_t family) {
  char text[INET6_ADDRSTRLEN] = "";
  if (!inet_ntop(family == 6 ? AF_INET6 : AF_INET, addr, text, sizeof text)) return "";
  return text;
}

std::string dnsNameText(const std::string &wire) {
  std::string name;
  size_t at = 0;
  while (at < wire.size()) {
    size_t label = static_cast<uint8_t>(wire[at]);
    if (label == 0 || label > 63) break;
    if (!name.empty()) name += '.';
    name.append(wire, at + 1, label);  // a cut label keeps what there is
    at += label + 1;
  }
  return name;
}

const char *tcpStateName(uint32_t state) {
  static constexpr const char *kNames[] = {
      "",      "ESTABLISHED", "SYN_SENT", "SYN_RECV", "FIN_WAIT1", "FIN_WAIT2",    "TIME_WAIT",
      "CLOSE", "CLOSE_WAIT",  "LAST_ACK", "LISTEN",   "CLOSING",   "NEW_SYN_RECV", "BOUND_INACTIVE",
  };
  return state < std::size(kNames) ? kNames[state] : "UNKNOWN";
}

DnsActivity decodeDns(const raqib_dns_key &key, const raqib_dns_value &value,
                      const std::string *name_wire, int64_t boot_to_unix_ns) {
  DnsActivity a;
  a.name = name_wire ? dnsNameText(*name_wire) : kEvicted;
  a.qtype = key.qtype;
  a.rcode = value.rcode;
  a.flags = value.flags;  // the kernel's flag bits are the SDK's
  a.queries = value.queries;
  a.responses = value.responses;
  a.first_unix_ns = unixNsOfBoot(value.first_ns, boot_to_unix_ns);
  a.last_unix_ns = unixNsOfBoot(value.last_ns, boot_to_unix_ns);
  for (uint32_t i = 0; i < value.answers_len && i < RAQIB_DNS_ANSWERS_MAX; i++) {
    std::string addr = addressText(value.answers[i], value.answer_family[i]);
    if (!addr.empty()) a.answers.push_back(std::move(addr));
  }
  return a;
}

FlowActivity decodePeer(const raqib_peer_key &key, const raqib_peer_value &value,
                        int64_t boot_to_unix_ns) {
  FlowActivity a;
  a.direction = key.direction;  // the kernel's numbers are the SDK's
  a.protocol = key.protocol;
  a.family = key.family;
  a.remote_addr = addressText(key.raddr, key.family);
  a.local_port = key.lport;
  a.remote_port = key.direction == RAQIB_NET_ACCEPT ? value.last_rport : key.rport;
  a.error = value.error;
  a.count = value.count;
  a.first_unix_ns = unixNsOfBoot(value.first_ns, boot_to_unix_ns);
  a.last_unix_ns = unixNsOfBoot(value.last_ns, boot_to_unix_ns);
  return a;
}

FlowActivity decodeFlow(const raqib_flow_key &key, const raqib_flow_value &value,
                        int64_t boot_to_unix_ns) {
  FlowActivity a;
  a.direction = RAQIB_FLOW_FLOW;
  a.protocol = key.protocol;
  a.family = key.family;
  a.local_addr = addressText(key.laddr, key.family);
  a.remote_addr = addressText(key.raddr, key.family);
  a.local_port = key.lport;
  a.remote_port = key.rport;
  a.bytes_out = value.bytes_out;
  a.bytes_in = value.bytes_in;
  a.packets_out = value.packets_out;
  a.packets_in = value.packets_in;
  a.state = tcpStateName(value.state);
  a.count = value.packets_out + value.packets_in;
  a.first_unix_ns = unixNsOfBoot(value.first_ns, boot_to_unix_ns);
  a.last_unix_ns = unixNsOfBoot(value.last_ns, boot_to_unix_ns);
  return a;
}

Status Drainer::drainDns() {
  int64_t offset = bootToUnixOffsetNs();
  auto record = [&](const raqib_dns_key &key, const raqib_dns_value &value, const std::string *name,
                    Priority priority) {
    if (auto bad = impossibleDns(key, value, bootNowNs()); !bad.empty())
      return impossible_("dns", bad);
    DnsActivity a = decodeDns(key, value, name, offset);
    if (name)
      for (const std::string &addr : a.answers) resolved_.add(addr, a.name);
    deliver(RecordSnapshot::dns(processes_, key.tgid, std::move(a), offset), priority);
    stats_.dns_records++;
  };
  // The lane first, with the names it carries: what recipes watch reaches
  // them before the context, whatever the strings LRU evicted. Both are
  // taken out before the exec drain their records' processes need.
  DnsLane &dns_lane = bpf_.dnsLane();
  bool lane_idle = dns_lane.idle();
  if (!lane_idle)  // before the flip, as the exec lane's
    if (auto s = dns_lane.nextEpoch(); !s) return s;
  auto lane = lane_idle ? Result<int>(EpochPair::kNothingToDrain) : dns_lane.epochs().flip();
  if (!lane) return Error{lane.error()};
  auto drained = bpf_.dnsEpochs().flip();
  if (!drained) return Error{drained.error()};
  if (auto s = drainExec(); !s) return s;
  Status watched = Ok{};
  if (!lane_idle) {
    watched = take<raqib_dns_key, raqib_watched_dns>(
        dns_lane.epochs(), *lane, Bound::whole,
        [&](const raqib_dns_key &key, const raqib_watched_dns &v) {
          std::string name = stringText(v.name);
          record(key, v.dns, &name, Priority::urgent);
          stats_.dns_watched_records++;
        });
  }
  auto status = take<raqib_dns_key, raqib_dns_value>(
      bpf_.dnsEpochs(), *drained, Bound::stop,
      [&](const raqib_dns_key &key, const raqib_dns_value &value) {
        record(key, value, strings_.lookup(key.name_hash), Priority::normal);
      });
  return watched ? status : watched;
}

Status Drainer::drainPeers() {
  int64_t offset = bootToUnixOffsetNs();
  auto record = [&](const raqib_peer_key &key, const raqib_peer_value &value, Priority priority) {
    if (auto bad = impossiblePeer(key, value, bootNowNs()); !bad.empty())
      return impossible_("peers", bad);
    FlowActivity a = decodePeer(key, value, offset);
    a.names = resolved_.lookup(a.remote_addr);
    deliver(RecordSnapshot::flow(processes_, key.tgid, std::move(a), offset,
                                 ImageRef{key.start_ns, key.exec_seq}),
            priority);
    stats_.peer_records++;
  };
  // The per-process shares and the fill mark start over with the epoch
  // about to begin; the lane's, as the DNS lane's, only when it is flipped.
  PeerLane &peer_lane = bpf_.peerLane();
  if (auto s = peer_lane.nextContextEpoch(); !s) return s;
  bool lane_idle = peer_lane.idle();
  if (!lane_idle)
    if (auto s = peer_lane.nextEpoch(); !s) return s;
  auto lane = lane_idle ? Result<int>(EpochPair::kNothingToDrain) : peer_lane.epochs().flip();
  if (!lane) return Error{lane.error()};
  auto drained = bpf_.peerEpochs().flip();
  if (!drained) return Error{drained.error()};
  // The processes and names both maps' entries need, then the lane first
  // and urgent: what recipes watch reaches them before the context.
  if (auto s = drainExec(); !s) return s;
  if (auto s = drainDns(); !s) return s;
  Status watched = Ok{};
  if (!lane_idle) {
    watched = take<raqib_peer_key, raqib_watched_peer>(
        peer_lane.epochs(), *lane, Bound::whole,
        [&](const raqib_peer_key &key, const raqib_watched_peer &v) {
          record(key, v.peer, Priority::urgent);
          stats_.peer_watched_records++;
        });
  }
  auto status = take<raqib_peer_key, raqib_peer_value>(
      bpf_.peerEpochs(), *drained, Bound::stop,
      [&](const raqib_peer_key &key, const raqib_peer_value &value) {
        record(key, value, Priority::normal);
      });
  return watched ? status : watched;
}

Status Drainer::drainFlows() {
  int64_t offset = bootToUnixOffsetNs();
  // The per-process shares and the fill mark start over with the epoch.
  if (auto s = bpf_.peerLane().nextFlowsEpoch(); !s) return s;
  return drainWithContext<raqib_flow_key, raqib_flow_value>(
      bpf_.flowEpochs(), true, Bound::stop,
      [&](const raqib_flow_key &key, const raqib_flow_value &value) {
        if (auto bad = impossibleFlow(key, value, bootNowNs()); !bad.empty())
          return impossible_("flows", bad);
        FlowActivity a = decodeFlow(key, value, offset);
        a.names = resolved_.lookup(a.remote_addr);
        auto image =
            value.start_ns ? std::optional(ImageRef{value.start_ns, value.exec_seq}) : std::nullopt;
        deliver(RecordSnapshot::flow(processes_, value.tgid, std::move(a), offset, image));
        stats_.flow_records++;
      });
}

}  // namespace raqib
