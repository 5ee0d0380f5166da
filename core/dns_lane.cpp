#include "dns_lane.hpp"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "raqib.skel.h"
#include "recipe.hpp"
#include "watched_set.hpp"

namespace raqib {

std::optional<std::string> dnsWireName(std::string_view name) {
  std::string wire;
  while (!name.empty()) {
    size_t dot = name.find('.');
    std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63) return std::nullopt;
    wire += char(label.size());
    for (char c : label) wire += char(std::tolower(static_cast<unsigned char>(c)));
    name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
  }
  wire += '\0';
  if (wire.size() > RAQIB_DNS_NAME_MAX) return std::nullopt;
  return wire;
}

WatchedPaths watchedDomainsOf(const std::vector<recipes::Recipe> &all) {
  std::map<std::string, uint32_t> exact, under;
  WatchedPaths out;
  for (const recipes::Recipe &r : all) {
    if (!r.enabled || r.plugin != recipes::Plugin::Net) continue;
    recipes::Watched w;
    r.net.domains.exportTo(w);
    for (const auto &e : w.exact)
      if (dnsWireName(e))
        exact[e] |= RAQIB_WATCH_DNS_RECIPE;
      else
        out.user_space_only.push_back(e);
    for (const auto &p : w.prefixes)  // ".example.com"
      if (dnsWireName(p.substr(1)))
        under[p.substr(1)] |= RAQIB_WATCH_DNS_RECIPE;
      else
        out.user_space_only.push_back(p);
  }
  for (const auto &[text, actions] : exact) out.exact.push_back({text, actions});
  for (const auto &[text, actions] : under) out.prefixes.push_back({text, actions});
  std::sort(out.user_space_only.begin(), out.user_space_only.end());
  out.user_space_only.erase(std::unique(out.user_space_only.begin(), out.user_space_only.end()),
                            out.user_space_only.end());
  return out;
}

void DnsLane::configure(raqib_bpf *s, const Config &config) {
  const WatchedPaths &w = config.watched_domains;
  s->rodata->dns_watch_enabled = !w.empty();
  uint32_t fewest = RAQIB_DNS_LABELS_MAX, most = 0;
  for (const auto *list : {&w.exact, &w.prefixes})
    for (const WatchedPath &p : *list) {
      uint32_t labels = std::count(p.text.begin(), p.text.end(), '.') + 1;
      fewest = std::min(fewest, labels);
      most = std::max(most, labels);
    }
  s->rodata->dns_watch_labels_min = fewest;
  s->rodata->dns_watch_labels_max = most;
  uint32_t lane = bpf_map__max_entries(s->maps.dns_watched_a);
  s->rodata->dns_lane_soft = lane - lane / 4;
  s->rodata->dns_lane_mark = lane / 2;
  bpf_map__set_max_entries(s->maps.watched_paths, bpf_map__max_entries(s->maps.watched_paths) +
                                                      w.exact.size() + w.prefixes.size());
}

Status DnsLane::fill(raqib_bpf *s, const WatchedPaths &w) {
  uint64_t k0 = s->rodata->hash_key0, k1 = s->rodata->hash_key1;
  // Another lane may have put the same hash there: its bits are kept.
  if (int err = mergeWatched(bpf_map__fd(s->maps.watched_paths), w, k0, k1,
                             [](const std::string &text) { return *dnsWireName(text); });
      err < 0)
    return Error{fmt::format("filling the watched domains: {}", std::strerror(-err))};
  epochs_ = EpochPair(bpf_map__fd(s->maps.dns_watched), bpf_map__fd(s->maps.dns_watched_a),
                      bpf_map__fd(s->maps.dns_watched_b));
  epoch_fd_ = bpf_map__fd(s->maps.dns_lane_epoch);
  spdlog::info(
      "watched domains: {} names, {} names with everything under them; {} matched in user space "
      "only",
      w.exact.size(), w.prefixes.size(), w.user_space_only.size());
  return nextEpoch();
}

bool DnsLane::idle() const {
  uint32_t zero = 0;
  raqib_dns_lane_epoch epoch{};
  epoch.filled = 1;  // what a failed look-up leaves: not idle
  return bpf_map_lookup_elem(epoch_fd_, &zero, &epoch) == 0 && epoch.filled == 0;
}

Status DnsLane::nextEpoch() {
  uint32_t zero = 0;
  raqib_dns_lane_epoch epoch{};
  if (int err = bpf_map_update_elem(epoch_fd_, &zero, &epoch, BPF_ANY); err < 0)
    return Error{fmt::format("starting a DNS lane epoch: {}", std::strerror(-err))};
  return Ok{};
}

}  // namespace raqib
