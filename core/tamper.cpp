#include "tamper.hpp"
#include "dns_lane.hpp"
#include "peer_lane.hpp"
#include "exec_lane.hpp"
#include "watched_set.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <signal.h>
#include <sys/random.h>
#include <sys/ptrace.h>

#include <unistd.h>

#include <netinet/in.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include "drain.hpp"
#include "output_format.hpp"
#include "raqib.skel.h"
#include "raqib/siphash.h"
#include "record_snapshot.hpp"
#include "taint.hpp"

namespace raqib {

namespace {

using Json = nlohmann::ordered_json;

uint64_t objectKey(uint32_t type, uint32_t id) {
  return uint64_t(type) << 32 | id;
}

const char *objectTypeName(uint32_t type) {
  switch (type) {
    case RAQIB_OBJ_MAP:
      return "map";
    case RAQIB_OBJ_PROG:
      return "program";
    case RAQIB_OBJ_LINK:
      return "link";
    default:
      return "unknown";
  }
}

// The kernel id of a map, program or link fd; 0 when the kernel says nothing.
template <class Info>
uint32_t objectId(int fd, Info &info) {
  uint32_t len = sizeof info;
  std::memset(&info, 0, sizeof info);
  return bpf_obj_get_info_by_fd(fd, &info, &len) == 0 ? info.id : 0;
}

}  // namespace

Status BpfMonitor::registerOwnObjects() {
  int objects = bpf_map__fd(skel_->maps.raqib_objects);
  auto add = [&](uint32_t type, uint32_t id, std::string name) -> Status {
    if (!id)
      return Error{fmt::format("reading the id of raqib's {} {}", objectTypeName(type), name)};
    raqib_object_key key{type, id};
    uint32_t one = 1;
    if (int err = bpf_map_update_elem(objects, &key, &one, BPF_ANY); err < 0)
      return Error{fmt::format("registering raqib's {} {} for tamper evidence: {}",
                               objectTypeName(type), name, std::strerror(-err))};
    own_objects_.push_back({type, id, std::move(name)});
    return Ok{};
  };
  bpf_map *map;
  bpf_object__for_each_map(map, skel_->obj) {
    bpf_map_info info;
    if (auto s = add(RAQIB_OBJ_MAP, objectId(bpf_map__fd(map), info), bpf_map__name(map)); !s)
      return s;
  }
  bpf_program *prog;
  bpf_object__for_each_program(prog, skel_->obj) {
    if (!bpf_program__autoload(prog)) continue;  // not loaded on this kernel
    bpf_prog_info info;
    if (auto s =
            add(RAQIB_OBJ_PROG, objectId(bpf_program__fd(prog), info), bpf_program__name(prog));
        !s)
      return s;
  }
  for (size_t i = 0; i < links_.size(); i++) {
    bpf_link_info info;
    int fd = bpf_link__fd(links_[i].get());
    if (auto s = add(RAQIB_OBJ_LINK, objectId(fd, info), link_names_[i]); !s) return s;
    own_links_.push_back({fd, info.id, info.prog_id, info.type,
                          info.type == BPF_LINK_TYPE_CGROUP ? info.cgroup.cgroup_id : 0,
                          link_names_[i]});
  }
  return Ok{};
}

std::vector<const OwnObject *> BpfMonitor::reregisterOwnObjects() {
  std::vector<const OwnObject *> missing;
  int objects = bpf_map__fd(skel_->maps.raqib_objects);
  for (const OwnObject &o : own_objects_) {
    raqib_object_key key{o.type, o.id};
    uint32_t value = 0, one = 1;
    if (bpf_map_lookup_elem(objects, &key, &value) == 0 && value == 1) continue;
    missing.push_back(&o);
    if (int err = bpf_map_update_elem(objects, &key, &one, BPF_ANY); err < 0)
      spdlog::error("registering raqib's {} {} again: {}", objectTypeName(o.type), o.name,
                    std::strerror(-err));
  }
  return missing;
}

std::vector<BrokenLink> BpfMonitor::brokenLinks() const {
  std::vector<BrokenLink> broken;
  for (const OwnLink &l : own_links_) {
    bpf_link_info info;
    uint32_t id = objectId(l.fd, info);
    if (id != l.id)
      broken.push_back({&l, "the kernel no longer knows the link"});
    else if (info.prog_id != l.prog_id)
      broken.push_back({&l, fmt::format("the link runs program {} instead of raqib's {}",
                                        info.prog_id, l.prog_id)});
    else if (l.type == BPF_LINK_TYPE_CGROUP && info.cgroup.cgroup_id != l.cgroup_id)
      broken.push_back({&l, info.cgroup.cgroup_id
                                ? fmt::format("the link moved to cgroup {}", info.cgroup.cgroup_id)
                                : std::string("the link is detached from its cgroup")});
  }
  return broken;
}

const char *tamperMoveName(uint32_t move) {
  switch (move) {
    case RAQIB_TAMPER_BPF_GET_FD:
      return "bpf_get_fd_by_id";
    case RAQIB_TAMPER_BPF_MAP_READ:
      return "bpf_map_read";
    case RAQIB_TAMPER_BPF_MAP_WRITE:
      return "bpf_map_write";
    case RAQIB_TAMPER_BPF_DETACH:
      return "bpf_detach";
    case RAQIB_TAMPER_BPF_PROG_LOAD:
      return "bpf_prog_load";
    case RAQIB_TAMPER_MODULE_LOAD:
      return "module_load";
    case RAQIB_TAMPER_PTRACE:
      return "ptrace";
    case RAQIB_TAMPER_PROCESS_VM:
      return "process_vm";
    case RAQIB_TAMPER_SIGNAL:
      return "signal";
    case RAQIB_TAMPER_PROC_MEM:
      return "proc_mem";
    case RAQIB_TAMPER_PIDFD_GETFD:
      return "pidfd_getfd";
    case RAQIB_TAMPER_URING_UNNAMED_OPEN:
      return "uring_unnamed_open";
    default:
      return "unknown";
  }
}

std::string bpfCommandName(uint32_t cmd) {
  static const std::unordered_map<uint32_t, const char *> kNames = {
      {BPF_MAP_LOOKUP_ELEM, "BPF_MAP_LOOKUP_ELEM"},
      {BPF_MAP_UPDATE_ELEM, "BPF_MAP_UPDATE_ELEM"},
      {BPF_MAP_DELETE_ELEM, "BPF_MAP_DELETE_ELEM"},
      {BPF_MAP_GET_NEXT_KEY, "BPF_MAP_GET_NEXT_KEY"},
      {BPF_PROG_LOAD, "BPF_PROG_LOAD"},
      {BPF_PROG_DETACH, "BPF_PROG_DETACH"},
      {BPF_PROG_GET_FD_BY_ID, "BPF_PROG_GET_FD_BY_ID"},
      {BPF_MAP_GET_FD_BY_ID, "BPF_MAP_GET_FD_BY_ID"},
      {BPF_MAP_LOOKUP_AND_DELETE_ELEM, "BPF_MAP_LOOKUP_AND_DELETE_ELEM"},
      {BPF_MAP_FREEZE, "BPF_MAP_FREEZE"},
      {BPF_MAP_LOOKUP_BATCH, "BPF_MAP_LOOKUP_BATCH"},
      {BPF_MAP_LOOKUP_AND_DELETE_BATCH, "BPF_MAP_LOOKUP_AND_DELETE_BATCH"},
      {BPF_MAP_UPDATE_BATCH, "BPF_MAP_UPDATE_BATCH"},
      {BPF_MAP_DELETE_BATCH, "BPF_MAP_DELETE_BATCH"},
      {BPF_LINK_UPDATE, "BPF_LINK_UPDATE"},
      {BPF_LINK_GET_FD_BY_ID, "BPF_LINK_GET_FD_BY_ID"},
      {BPF_LINK_DETACH, "BPF_LINK_DETACH"},
  };
  auto it = kNames.find(cmd);
  return it != kNames.end() ? it->second : fmt::format("BPF_CMD_{}", cmd);
}

std::string ptraceRequestName(uint32_t request) {
  static const std::unordered_map<uint32_t, const char *> kNames = {
      {PTRACE_PEEKTEXT, "PTRACE_PEEKTEXT"}, {PTRACE_PEEKDATA, "PTRACE_PEEKDATA"},
      {PTRACE_POKETEXT, "PTRACE_POKETEXT"}, {PTRACE_POKEDATA, "PTRACE_POKEDATA"},
      {PTRACE_ATTACH, "PTRACE_ATTACH"},     {PTRACE_DETACH, "PTRACE_DETACH"},
      {PTRACE_SEIZE, "PTRACE_SEIZE"},       {PTRACE_INTERRUPT, "PTRACE_INTERRUPT"},
      {PTRACE_GETREGS, "PTRACE_GETREGS"},   {PTRACE_SETREGS, "PTRACE_SETREGS"},
  };
  auto it = kNames.find(request);
  return it != kNames.end() ? it->second : fmt::format("PTRACE_{}", request);
}

std::string signalName(uint32_t sig) {
  const char *abbrev = sig < 65 ? sigabbrev_np(int(sig)) : nullptr;
  return abbrev ? fmt::format("SIG{}", abbrev) : fmt::format("SIG{}", sig);
}

namespace {

// A signal whose default action ends or stops the process, other than the
// ordinary requests to stop (TERM, INT) or reopen (HUP).
bool harmfulSignal(uint32_t sig) {
  switch (sig) {
    case SIGTERM:
    case SIGINT:
    case SIGHUP:
    case SIGCHLD:
    case SIGCONT:
    case SIGURG:
    case SIGWINCH:
      return false;
    default:
      return true;
  }
}

}  // namespace

const char *tamperImportance(const raqib_tamper_key &key, const std::string &object_name) {
  switch (key.move) {
    case RAQIB_TAMPER_SIGNAL:
      if (key.detail == SIGTERM || key.detail == SIGINT || key.detail == SIGHUP)
        return key.tgid == 1 ? "low" : "medium";  // pid 1: the service manager
      return harmfulSignal(key.detail) ? "critical" : "low";
    case RAQIB_TAMPER_BPF_GET_FD:
      // Listing tools get every object's fd to read its info (bpftool prog
      // show: every program's, and every map of each); what is then done
      // with the fd is a record of its own.
      return "medium";
    case RAQIB_TAMPER_BPF_MAP_READ:
      // bpftool prog show reads each program's .rodata for its metadata.
      return object_name.find(".rodata") != std::string::npos ? "medium" : "high";
    case RAQIB_TAMPER_BPF_PROG_LOAD:
    case RAQIB_TAMPER_URING_UNNAMED_OPEN:
      return "high";
    default:
      return "critical";
  }
}

Json tamperFields(const raqib_tamper_key &key, const raqib_tamper_value &value,
                  const std::unordered_map<uint64_t, std::string> &names, int64_t boot_to_unix_ns) {
  Json j = {{"time", rfc3339(unixNsOfBoot(value.last_ns, boot_to_unix_ns))},
            {"kind", "tamper"},
            {"move", tamperMoveName(key.move)},
            {"importance", ""}};
  j["importance"] = tamperImportance(key, "");
  switch (key.move) {
    case RAQIB_TAMPER_BPF_GET_FD:
    case RAQIB_TAMPER_BPF_MAP_READ:
    case RAQIB_TAMPER_BPF_MAP_WRITE:
    case RAQIB_TAMPER_BPF_DETACH: {
      auto found = names.find(objectKey(key.object_type, value.object_id));
      std::string name = found != names.end() ? found->second : "";
      j["importance"] = tamperImportance(key, name);
      j["bpf"] = {
          {"command", bpfCommandName(key.detail)},
          {"object",
           {{"type", objectTypeName(key.object_type)}, {"id", value.object_id}, {"name", name}}}};
      break;
    }
    case RAQIB_TAMPER_BPF_PROG_LOAD: {
      const char *type = libbpf_bpf_prog_type_str(bpf_prog_type(key.detail));
      const char *attach = libbpf_bpf_attach_type_str(bpf_attach_type(value.attach_type));
      j["program"] = {{"name", std::string(value.name, strnlen(value.name, sizeof value.name))},
                      {"type", type ? Json(type) : Json(key.detail)}};
      // 0 is also "not given": most program types have no attach type.
      if (value.attach_type)
        j["program"]["attach_type"] = attach ? Json(attach) : Json(value.attach_type);
      break;
    }
    case RAQIB_TAMPER_PTRACE:
      j["target"] = {{"tid", value.object_id}, {"request", ptraceRequestName(key.detail)}};
      break;
    case RAQIB_TAMPER_PROCESS_VM:
      j["target"] = {{"tid", value.object_id}, {"access", key.detail ? "write" : "read"}};
      break;
    case RAQIB_TAMPER_PROC_MEM: {
      static constexpr const char *kAccess[] = {"none", "read", "write", "read_write"};
      j["target"] = {{"tid", value.object_id}, {"access", kAccess[key.detail & 3]}};
      break;
    }
    case RAQIB_TAMPER_SIGNAL:
      j["target"] = {{"tid", value.object_id}, {"signal", signalName(key.detail)}};
      break;
    case RAQIB_TAMPER_PIDFD_GETFD: {
      j["target"] = {{"tid", value.object_id}, {"fd", key.detail}};
      if (value.taken_id) {
        auto found = names.find(objectKey(key.object_type, value.taken_id));
        j["target"]["object"] = {{"type", objectTypeName(key.object_type)},
                                 {"id", value.taken_id},
                                 {"name", found != names.end() ? found->second : ""}};
      }
      break;
    }
    case RAQIB_TAMPER_MODULE_LOAD:
      j["module"] = {{"syscall", key.detail ? "finit_module" : "init_module"}};
      if (key.detail) j["module"]["fd"] = int32_t(value.object_id);
      break;
    default:
      break;
  }
  j["count"] = value.count;
  j["first"] = rfc3339(unixNsOfBoot(value.first_ns, boot_to_unix_ns));
  j["last"] = rfc3339(unixNsOfBoot(value.last_ns, boot_to_unix_ns));
  return j;
}

namespace {

// An address of family (4 or 6) as the programs write it: IPv4 in the first
// 4 bytes, the rest zero (IPv4-mapped IPv6 is unmapped).
bool addressFits(const uint8_t *addr, uint8_t family) {
  return family == 6 || std::all_of(addr + 4, addr + 16, [](uint8_t b) { return b == 0; });
}

// Times no program writes: 0, or later than now.
std::string impossibleTimes(uint64_t first_ns, uint64_t last_ns, uint64_t now_ns) {
  if (first_ns == 0 || last_ns == 0) return "a time of 0";
  if (first_ns > now_ns || last_ns > now_ns) return "a time after the drain read it";
  return "";
}

template <size_t N>
bool allZero(const uint8_t (&bytes)[N]) {
  return std::all_of(bytes, bytes + N, [](uint8_t b) { return b == 0; });
}

}  // namespace

std::string impossibleFlow(const raqib_flow_key &key, const raqib_flow_value &value,
                           uint64_t now_ns) {
  if (key.family != 4 && key.family != 6) return fmt::format("a flow of family {}", key.family);
  if (key.protocol != IPPROTO_TCP && key.protocol != IPPROTO_UDP)
    return fmt::format("a flow of protocol {}", key.protocol);
  if (key._pad || !addressFits(key.raddr, key.family))
    return "a flow key with bytes the programs leave zero set";
  if ((value.bytes_out && !value.packets_out) || (value.bytes_in && !value.packets_in))
    return fmt::format("a flow of {} bytes out in {} packets, {} bytes in in {} packets",
                       value.bytes_out, value.packets_out, value.bytes_in, value.packets_in);
  // BPF_TCP_BOUND_INACTIVE (13) is the last TCP state; UDP has none.
  if (value.state > 13 || (key.protocol == IPPROTO_UDP && value.state))
    return fmt::format("a flow of protocol {} in state {}", key.protocol, value.state);
  if (auto times = impossibleTimes(value.first_ns, value.last_ns, now_ns); !times.empty())
    return "a flow with " + times;
  return "";
}

std::string impossiblePeer(const raqib_peer_key &key, const raqib_peer_value &value,
                           uint64_t now_ns) {
  if (key.family != 4 && key.family != 6) return fmt::format("a peer of family {}", key.family);
  if (key.direction != RAQIB_NET_CONNECT && key.direction != RAQIB_NET_ACCEPT)
    return fmt::format("a peer of direction {}", key.direction);
  if (!allZero(key._pad) || key._pad2 || !addressFits(key.raddr, key.family))
    return "a peer key with bytes the programs leave zero set";
  // Connects know the remote port only, accepts the local one (and no error).
  bool connect = key.direction == RAQIB_NET_CONNECT;
  if (connect ? key.lport != 0 : (key.rport != 0 || key.lport == 0 || value.error != 0))
    return fmt::format("a peer of direction {} with ports {} and {}, error {}", key.direction,
                       key.lport, key.rport, value.error);
  if (value.count == 0 || value.error > 0)
    return fmt::format("a peer counting {} with error {}", value.count, value.error);
  if (auto times = impossibleTimes(value.first_ns, value.last_ns, now_ns); !times.empty())
    return "a peer with " + times;
  return "";
}

std::string impossibleDns(const raqib_dns_key &key, const raqib_dns_value &value, uint64_t now_ns) {
  if (key._pad) return "a DNS key with bytes the programs leave zero set";
  if (value.queries == 0 && value.responses == 0) return "a DNS entry of no query or response";
  if (value.answers_len > RAQIB_DNS_ANSWERS_MAX || (value.answers_len && !value.responses))
    return fmt::format("a DNS entry of {} answers in {} responses", value.answers_len,
                       value.responses);
  for (uint32_t i = 0; i < value.answers_len; i++)
    if (value.answer_family[i] != 4 && value.answer_family[i] != 6)
      return fmt::format("a DNS answer of family {}", value.answer_family[i]);
  if (value.flags & ~(RAQIB_DNSV_NAME_TRUNCATED | RAQIB_DNSV_ANSWERS_TRUNCATED))
    return fmt::format("a DNS entry with unknown flags {:#x}", value.flags);
  if (value.rcode > 15 || (value.rcode && !value.responses))
    return fmt::format("a DNS rcode of {} in {} responses", value.rcode, value.responses);
  if (auto times = impossibleTimes(value.first_ns, value.last_ns, now_ns); !times.empty())
    return "a DNS entry with " + times;
  return "";
}

// The canary of one activity epoch pair: an entry under a key no program
// writes (every byte 0xff: tgid 0xffffffff, address family 0xff), whose
// value is a keyed MAC (SipHash-2-4 with a per-boot key held only in the
// core's memory) of the map, its side and how many times it was planted.
// Planted in each inner map while it is empty (at start and after each
// drain), checked and removed when the map is taken out of service, before
// its drain: a canary changed or gone means something other than raqib's
// programs and drains wrote the map.
class Canary : public EpochGuard {
 public:
  Canary(TamperWatch &watch, EpochPair &pair,
         const std::unordered_map<uint64_t, std::string> &names, std::array<uint64_t, 2> key)
      : watch_(watch), pair_(pair), key_(key) {
    auto fds = pair.innerFds();
    for (size_t i = 0; i < 2; i++) {
      bpf_map_info info;
      Side &s = sides_[i];
      s.fd = fds[i];
      s.id = objectId(fds[i], info);
      auto name = names.find(objectKey(RAQIB_OBJ_MAP, s.id));
      s.name = name != names.end() ? name->second : fmt::format("map {}", s.id);
      key_bytes_.assign(info.key_size, 0xff);
      value_size_ = info.value_size;
    }
    pair.guard(this);
  }
  ~Canary() override { pair_.unguard(); }
  Canary(const Canary &) = delete;
  Canary &operator=(const Canary &) = delete;

  void takenOut(int fd) override {
    Side *s = side(fd);
    if (!s || !s->planted) return;
    s->planted = false;
    std::vector<uint8_t> value(value_size_);
    int err = bpf_map_lookup_elem(fd, key_bytes_.data(), value.data());
    if (err == -ENOENT) return watch_.integrityFailure(s->name, "the canary entry is missing");
    if (err < 0)
      return spdlog::error("reading the canary of map {}: {}", s->name, std::strerror(-err));
    bpf_map_delete_elem(fd, key_bytes_.data());  // not an activity record
    if (value != expected(*s)) watch_.integrityFailure(s->name, "the canary entry was changed");
  }

  // The canary, intact, is the first key and no key follows it; anything
  // else is for takenOut to check. A key a program writes after the
  // lookups is drained on a later flip.
  bool holdsOnlyItsOwn(int fd) override {
    Side *s = side(fd);
    if (!s || !s->planted) return false;
    std::vector<uint8_t> key(key_bytes_.size()), value(value_size_);
    return bpf_map_get_next_key(fd, nullptr, key.data()) == 0 && key == key_bytes_ &&
           bpf_map_get_next_key(fd, key_bytes_.data(), key.data()) == -ENOENT &&
           bpf_map_lookup_elem(fd, key_bytes_.data(), value.data()) == 0 && value == expected(*s);
  }

  void emptied(int fd) override {
    Side *s = side(fd);
    if (!s) return;
    s->generation++;
    std::vector<uint8_t> value = expected(*s);
    int err = bpf_map_update_elem(fd, key_bytes_.data(), value.data(), BPF_ANY);
    s->planted = err == 0;
    if (err < 0) spdlog::error("planting the canary of map {}: {}", s->name, std::strerror(-err));
  }

 private:
  struct Side {
    int fd = -1;
    uint32_t id = 0;
    std::string name;
    uint64_t generation = 0;
    bool planted = false;
  };

  Side *side(int fd) {
    for (Side &s : sides_)
      if (s.fd == fd) return &s;
    return nullptr;
  }

  // value_size_ bytes: MAC(map id, generation, offset), word by word.
  std::vector<uint8_t> expected(const Side &s) const {
    std::vector<uint8_t> value(value_size_);
    for (uint32_t at = 0; at < value_size_; at += 8) {
      // 24 bytes, and the zero word the hash reads after them; __u64, the
      // type the hash reads them as (uint64_t is another type: aliasing).
      __u64 message[4] = {s.id, s.generation, at, 0};
      uint64_t mac = raqib_siphash24(reinterpret_cast<const __u8 *>(message), 24, key_[0], key_[1]);
      std::memcpy(value.data() + at, &mac, std::min<size_t>(8, value_size_ - at));
    }
    return value;
  }

  TamperWatch &watch_;
  EpochPair &pair_;
  std::array<uint64_t, 2> key_;
  std::array<Side, 2> sides_;
  std::vector<uint8_t> key_bytes_;
  uint32_t value_size_ = 0;
};

TamperWatch::TamperWatch(BpfMonitor &bpf, ProcessTable &processes, PluginHost &plugins,
                         Drainer &drainer, const Config &config)
    : bpf_(bpf),
      processes_(processes),
      plugins_(plugins),
      allowed_loaders_(config.tamper_allowed_loaders.begin(), config.tamper_allowed_loaders.end()) {
  for (const OwnObject &o : bpf.ownObjects()) names_[objectKey(o.type, o.id)] = o.name;
  // The canaries' key: per boot, never written to a map (unlike the path
  // hash key, which is in the object's read-only data).
  std::array<uint64_t, 2> key{};
  if (getrandom(key.data(), sizeof key, 0) != sizeof key)
    spdlog::error("getrandom for the canary key failed: {}", std::strerror(errno));
  drainer.onImpossible([this](const std::string &map, const std::string &what) {
    integrityFailure(map, "an entry the programs could not have written: " + what);
  });
  for (EpochPair *pair :
       {&bpf.execEpochs(), &bpf.fileEpochs(), &bpf.watched().epochs(), &bpf.peerEpochs(),
        &bpf.flowEpochs(), &bpf.dnsEpochs(), &bpf.tamperEpochs(), &bpf.execLane().epochs(),
        &bpf.dnsLane().epochs(), &bpf.peerLane().epochs()})
    canaries_.push_back(std::make_unique<Canary>(*this, *pair, names_, key));
}

TamperWatch::~TamperWatch() = default;

void TamperWatch::integrityFailure(const std::string &map, const std::string &detail) {
  hostTainted() = true;
  stats_.integrity_failures++;
  std::string now = rfc3339(unixNsOfBoot(bootNowNs(), bootToUnixOffsetNs()));
  publish({{"time", now},
           {"kind", "tamper"},
           {"move", "integrity"},
           {"importance", "critical"},
           {"map", map},
           {"detail", detail},
           {"count", 1},
           {"first", now},
           {"last", now}},
          0);
}

Status TamperWatch::drain(Drainer &drainer) {
  auto drained = bpf_.tamperEpochs().flip();
  if (!drained) return Error{drained.error()};
  // Tracers attached now forked before: their exec records are in the exec
  // map flipped next, like those of the actors in the map flipped above.
  auto tracers = newTracers();
  if (auto s = drainer.drainExec(); !s) return s;
  int64_t offset = bootToUnixOffsetNs();
  std::vector<std::pair<raqib_tamper_key, raqib_tamper_value>> entries;
  auto status = drainMap<raqib_tamper_key, raqib_tamper_value>(
      *drained, [&](const raqib_tamper_key &key, const raqib_tamper_value &value) {
        entries.emplace_back(key, value);
      });
  if (status) bpf_.tamperEpochs().drained();
  for (const auto &[key, value] : entries) {
    if (value.count == 0 || value.first_ns > value.last_ns || key.tgid == 0 ||
        std::string_view(tamperMoveName(key.move)) == "unknown") {
      integrityFailure("tamper_activity",
                       "an entry the programs could not have written: " +
                           fmt::format("move {} counting {}", key.move, value.count));
      continue;
    }
    const ProcessInfo *actor = processes_.find(key.tgid);
    if (key.move == RAQIB_TAMPER_BPF_PROG_LOAD && actor && allowed_loaders_.count(actor->exe)) {
      stats_.allowed_loads += value.count;
      continue;
    }
    publish(tamperFields(key, value, names_, offset), key.tgid);
  }
  verifyAttachments();
  for (auto &[fields, actor] : tracers) publish(std::move(fields), actor);
  return status;
}

namespace {

// The number after field (e.g. "TracerPid:") in the status file at path; 0
// when the file or the field is not there.
uint32_t statusField(const std::string &path, std::string_view field) {
  std::ifstream in(path);
  for (std::string line; std::getline(in, line);)
    if (line.starts_with(field))
      return uint32_t(std::strtoul(line.c_str() + field.size(), nullptr, 10));
  return 0;
}

}  // namespace

std::vector<std::pair<Json, uint32_t>> TamperWatch::newTracers() {
  // The ids are /proc's: the kernel's with the host's /proc. A daemon in a
  // pid namespace with a /proc of its own sees a tracer from outside as 0
  // (docs/architecture.md).
  std::set<std::pair<uint32_t, uint32_t>> traced;  // (tid, tracer's tid)
  std::error_code ec;
  for (const auto &task : std::filesystem::directory_iterator("/proc/self/task", ec)) {
    uint32_t tid = uint32_t(std::strtoul(task.path().filename().c_str(), nullptr, 10));
    if (uint32_t tracer = statusField(task.path() / "status", "TracerPid:"))
      traced.emplace(tid, tracer);
  }
  if (ec) spdlog::error("listing the daemon's threads for tracers: {}", ec.message());
  std::vector<std::pair<Json, uint32_t>> records;  // (fields, actor)
  for (const auto &[tid, tracer] : traced) {
    if (traced_.count({tid, tracer})) continue;  // reported when it attached
    std::string now = rfc3339(unixNsOfBoot(bootNowNs(), bootToUnixOffsetNs()));
    uint32_t tgid = statusField(fmt::format("/proc/{}/status", tracer), "Tgid:");
    records.emplace_back(Json{{"time", now},
                              {"kind", "tamper"},
                              {"move", "traced"},
                              {"importance", "critical"},
                              {"target", {{"tid", tid}, {"tracer", tracer}}},
                              {"count", 1},
                              {"first", now},
                              {"last", now}},
                         tgid ? tgid : tracer);
  }
  traced_ = std::move(traced);
  return records;
}

Result<uint32_t> kernelTgid() {
  // A raw tracepoint program run once by BPF_PROG_TEST_RUN runs in the
  // caller's context: it returns the caller's thread group id as the
  // kernel knows it. No procfs involved: /proc may be any namespace's.
  const bpf_insn insns[] = {
      {BPF_JMP | BPF_CALL, 0, 0, 0, BPF_FUNC_get_current_pid_tgid},
      {BPF_ALU64 | BPF_RSH | BPF_K, BPF_REG_0, 0, 0, 32},  // r0 >>= 32: the tgid
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int fd = bpf_prog_load(BPF_PROG_TYPE_RAW_TRACEPOINT, "raqib_whoami", "GPL", insns,
                         std::size(insns), nullptr);
  if (fd < 0)
    return Error{fmt::format("loading the program that reads the daemon's kernel pid: {}",
                             std::strerror(-fd))};
  LIBBPF_OPTS(bpf_test_run_opts, run);
  int err = bpf_prog_test_run_opts(fd, &run);
  close(fd);
  if (err < 0 || run.retval == 0)
    return Error{fmt::format("running the program that reads the daemon's kernel pid: {}",
                             std::strerror(err < 0 ? -err : EINVAL))};
  return uint32_t(run.retval);
}

void TamperWatch::verifyAttachments() {
  for (const OwnObject *o : bpf_.reregisterOwnObjects())
    integrityFailure("raqib_objects",
                     fmt::format("raqib's {} {} (id {}) was no longer registered; registered again",
                                 objectTypeName(o->type), o->name, o->id));
  for (const BrokenLink &b : bpf_.brokenLinks()) {
    if (!blind_links_.insert(b.link->id).second) continue;  // reported already
    stats_.blind_spots++;
    std::string now = rfc3339(unixNsOfBoot(bootNowNs(), bootToUnixOffsetNs()));
    // Attaching needs privileges the core dropped after start, and its
    // seccomp filter allows no attach: the hook stays blind until restart.
    publish(
        {{"time", now},
         {"kind", "tamper"},
         {"move", "blind_spot"},
         {"importance", "critical"},
         {"link", {{"id", b.link->id}, {"hook", b.link->hook}, {"program_id", b.link->prog_id}}},
         {"detail", b.what},
         {"reattached", false},
         {"count", 1},
         {"first", now},
         {"last", now}},
        0);
  }
}

void TamperWatch::publish(Json fields, uint32_t actor) {
  std::string summary;
  if (fields.contains("bpf"))
    summary = fmt::format(" {} {} {} (id {})", fields["bpf"]["command"].get<std::string>(),
                          fields["bpf"]["object"]["type"].get<std::string>(),
                          fields["bpf"]["object"]["name"].get<std::string>(),
                          fields["bpf"]["object"]["id"].get<uint32_t>());
  if (fields.contains("map"))
    summary = fmt::format(" map {}: {}", fields["map"].get<std::string>(),
                          fields["detail"].get<std::string>());
  if (fields.contains("link"))
    summary = fmt::format(" {}: {}", fields["link"]["hook"].get<std::string>(),
                          fields["detail"].get<std::string>());
  if (fields.contains("target")) {
    summary = fmt::format(" tid={}", fields["target"]["tid"].get<uint32_t>());
    for (const char *k : {"request", "access", "signal"})
      if (fields["target"].contains(k)) summary += " " + fields["target"][k].get<std::string>();
    if (fields["target"].contains("fd"))
      summary += fmt::format(" fd={}", fields["target"]["fd"].get<uint32_t>());
    if (fields["target"].contains("object"))
      summary += " " + fields["target"]["object"]["name"].get<std::string>();
    if (fields["target"].contains("tracer"))
      summary += fmt::format(" traced by {}", fields["target"]["tracer"].get<uint32_t>());
  }
  if (fields.contains("program"))
    summary =
        fmt::format(" {} {}", fields["program"]["type"].dump(), fields["program"]["name"].dump());
  std::shared_ptr<const RecordSnapshot> snapshot;
  std::string who = "an unknown process";
  if (actor) {
    snapshot = RecordSnapshot::actor(processes_, actor, bootToUnixOffsetNs());
    const raqib_record &r = snapshot->view();
    who = fmt::format("pid={} exe={}", r.process->pid, r.process->exe);
    for (uint32_t i = 0; i < r.ancestry_len; i++)
      who += fmt::format("{}{}({})", i ? "<" : " via ", r.ancestry[i].comm, r.ancestry[i].pid);
  }
  std::string text =
      fmt::format("{} {} tamper {}{} x{} by {}", fields["time"].get<std::string>(),
                  fields["importance"].get<std::string>(), fields["move"].get<std::string>(),
                  summary, fields["count"].get<uint64_t>(), who);
  for (char &c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  spdlog::warn("{}", text);
  std::string json =
      tamperJson(std::move(fields), snapshot ? &snapshot->view() : nullptr, plugins_.hostname());
  plugins_.publishTamper(std::move(json), std::move(text));
  stats_.records++;
}

}  // namespace raqib
