#include "peer_lane.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <tuple>

#include "raqib.skel.h"
#include "recipe.hpp"
#include "watched_set.hpp"

namespace raqib {

namespace {

std::array<uint8_t, 16> masked(const uint8_t *addr, uint32_t prefix) {
  std::array<uint8_t, 16> out{};
  for (uint32_t i = 0; i < 16 && i * 8 < prefix; i++)
    out[i] = prefix >= (i + 1) * 8 ? addr[i] : addr[i] & uint8_t(0xff << (8 - prefix % 8));
  return out;
}

// Whether the network outer contains the network inner.
bool contains(const WatchedPeer &outer, const WatchedPeer &inner) {
  return outer.family == inner.family && outer.prefix <= inner.prefix &&
         masked(inner.addr.data(), outer.prefix) == outer.addr;
}

uint32_t kernelDirections(uint32_t recipe_directions) {
  return (recipe_directions & recipes::kNetConnect ? 1u << RAQIB_NET_CONNECT : 0) |
         (recipe_directions & recipes::kNetAccept ? 1u << RAQIB_NET_ACCEPT : 0);
}

}  // namespace

WatchedPeers watchedPeersOf(const std::vector<recipes::Recipe> &all) {
  std::map<std::tuple<uint32_t, std::array<uint8_t, 16>, uint32_t>, uint32_t> by_network;
  std::map<std::pair<uint32_t, uint32_t>, uint32_t> by_ports;
  WatchedPeers out;
  for (const recipes::Recipe &r : all) {
    if (!r.enabled || r.plugin != recipes::Plugin::Net) continue;
    uint32_t directions = kernelDirections(r.net.directions);
    if (!directions) continue;  // flows and DNS questions only
    for (const recipes::Cidr &c : r.net.cidrs)
      by_network[{c.family, masked(c.addr, c.prefix), c.prefix}] |= directions;
    // Peers its addresses do not single out: none named, or names resolved.
    bool by_name = !r.net.domains.empty() || r.net.entropy_min > 0;
    if (!r.net.cidrs.empty() && !by_name) continue;
    if (r.net.ports.empty()) out.uncovered.push_back(r.meta.name);
    for (const recipes::PortRange &p : r.net.ports) by_ports[{p.first, p.last}] |= directions;
  }
  for (const auto &[network, directions] : by_network)
    out.prefixes.push_back(
        {std::get<0>(network), std::get<1>(network), std::get<2>(network), directions});
  for (const auto &[range, directions] : by_ports)
    out.ports.push_back({range.first, range.second, directions});
  // A narrower network also gets the directions of the wider ones around it.
  for (WatchedPeer &inner : out.prefixes)
    for (const WatchedPeer &outer : out.prefixes)
      if (contains(outer, inner)) inner.directions |= outer.directions;
  std::sort(out.uncovered.begin(), out.uncovered.end());
  out.uncovered.erase(std::unique(out.uncovered.begin(), out.uncovered.end()), out.uncovered.end());
  return out;
}

void PeerLane::configure(raqib_bpf *s, const Config &config) {
  s->rodata->peer_watch_enabled = !config.watched_peers.empty();
  uint32_t lane = bpf_map__max_entries(s->maps.peers_watched_a);
  s->rodata->peer_lane_soft = fillMark(lane);
  s->rodata->peer_lane_mark = lane / 2;
  s->rodata->peer_proc_cap = procCap(config.network_peers.map_entries);
  s->rodata->peer_fill_mark = fillMark(config.network_peers.map_entries);
  s->rodata->flow_proc_cap = procCap(config.network_flows.map_entries);
  s->rodata->flow_fill_mark = fillMark(config.network_flows.map_entries);
  bpf_map__set_max_entries(s->maps.watched_peers,
                           std::max<size_t>(config.watched_peers.prefixes.size(), 1));
  for (const WatchedPorts &p : config.watched_peers.ports)
    for (uint32_t port = p.first; port <= p.last; port++)
      for (uint32_t d : {RAQIB_NET_CONNECT, RAQIB_NET_ACCEPT})
        if (p.directions & (1u << d)) {
          uint32_t bit = RAQIB_PORT_BITS * (d - RAQIB_NET_CONNECT) + port;
          s->rodata->peer_watch_ports[bit / 64] |= uint64_t(1) << (bit % 64);
        }
}

Status PeerLane::fill(raqib_bpf *s, const WatchedPeers &w) {
  int fd = bpf_map__fd(s->maps.watched_peers);
  for (const WatchedPeer &p : w.prefixes) {
    raqib_peer_prefix key{};
    key.prefixlen = 8 + p.prefix;
    key.data[0] = uint8_t(p.family);
    std::memcpy(&key.data[1], p.addr.data(), 16);
    raqib_peer_watch value{p.directions, p.prefix == (p.family == 4 ? 32u : 128u)};
    if (int err = bpf_map_update_elem(fd, &key, &value, BPF_ANY); err < 0)
      return Error{fmt::format("filling the watched peers: {}", std::strerror(-err))};
  }
  epochs_ = EpochPair(bpf_map__fd(s->maps.peers_watched), bpf_map__fd(s->maps.peers_watched_a),
                      bpf_map__fd(s->maps.peers_watched_b));
  epoch_fd_ = bpf_map__fd(s->maps.peer_epoch);
  spdlog::info(
      "watched peers: {} addresses and networks, {} port ranges; connects of {} recipes "
      "matched in user space only",
      w.prefixes.size(), w.ports.size(), w.uncovered.size());
  if (auto started = nextEpoch(); !started) return started;
  if (auto started = nextContextEpoch(); !started) return started;
  return nextFlowsEpoch();
}

bool PeerLane::idle() const {
  uint32_t slot = RAQIB_PEER_EPOCH_LANE;
  raqib_peer_epoch epoch{.seq = 0, .filled = 1, .signalled = 0};
  return bpf_map_lookup_elem(epoch_fd_, &slot, &epoch) == 0 && epoch.filled == 0;
}

Status PeerLane::reset(uint32_t slot, uint64_t seq) {
  raqib_peer_epoch epoch{.seq = seq, .filled = 0, .signalled = 0};
  if (int err = bpf_map_update_elem(epoch_fd_, &slot, &epoch, BPF_ANY); err < 0)
    return Error{fmt::format("starting a peers epoch: {}", std::strerror(-err))};
  return Ok{};
}

Status PeerLane::nextEpoch() {
  return reset(RAQIB_PEER_EPOCH_LANE, 0);
}

Status PeerLane::nextContextEpoch() {
  return reset(RAQIB_PEER_EPOCH_CONTEXT, ++context_seq_);
}

Status PeerLane::nextFlowsEpoch() {
  return reset(RAQIB_PEER_EPOCH_FLOWS, ++flows_seq_);
}

}  // namespace raqib
