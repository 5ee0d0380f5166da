// drainMap's template body (declared in bpf_monitor.hpp).
#pragma once

#include <bpf/bpf.h>

#include <cerrno>
#include <cstring>
#include <fmt/format.h>

namespace raqib {

template <class K, class V, class Fn>
Status drainMap(int fd, Fn &&fn, const std::function<bool()> &stop, uint64_t *left) {
  if (left) *left = 0;
  if (fd == EpochPair::kNothingToDrain) return Ok{};
  constexpr uint32_t kBatch = 1024;
  std::vector<K> keys(kBatch);
  std::vector<V> values(kBatch);
  uint64_t token = 0;
  bool first = true;
  for (;;) {
    if (stop && stop()) {
      // What is left, but a guard's canary (every key byte 0xff).
      K canary;
      std::memset(&canary, 0xff, sizeof canary);
      uint64_t n = 0;
      for (int err = bpf_map_get_next_key(fd, nullptr, keys.data()); err == 0;
           err = bpf_map_get_next_key(fd, keys.data(), keys.data()))
        n += std::memcmp(keys.data(), &canary, sizeof canary) != 0;
      if (left) *left = n;
      return Ok{};
    }
    uint32_t count = kBatch;
    int err = bpf_map_lookup_and_delete_batch(fd, first ? nullptr : &token, &token, keys.data(),
                                              values.data(), &count, nullptr);
    for (uint32_t i = 0; i < count; i++) fn(keys[i], values[i]);
    if (err == 0) {
      first = false;
      continue;
    }
    if (err == -ENOENT) return Ok{};  // the map is empty now
    return Error{fmt::format("draining BPF map (fd {}): {}", fd, std::strerror(-err))};
  }
}

}  // namespace raqib
