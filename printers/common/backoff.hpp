// Exponential backoff with jitter for printers that retry a peer: after the
// n-th failure in a row the next try waits a random time between half and
// all of min(max, initial * 2^(n-1)), so many raqib hosts do not retry in step.
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace raqib::printers {

class Backoff {
 public:
  using Clock = std::chrono::steady_clock;

  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max)
      : initial_(initial), max_(max), random_(std::random_device{}()) {}

  bool ready(Clock::time_point now) const { return now >= next_; }
  // A failure at now; returns the wait before the next try.
  std::chrono::milliseconds failed(Clock::time_point now) {
    auto ceiling =
        std::min<std::chrono::milliseconds>(max_, initial_ * (1ll << std::min(failures_, 20)));
    failures_++;
    std::uniform_int_distribution<long long> pick(ceiling.count() / 2, ceiling.count());
    std::chrono::milliseconds wait(pick(random_));
    next_ = now + wait;
    return wait;
  }
  void succeeded() {
    failures_ = 0;
    next_ = {};
  }
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  std::mt19937_64 random_;
  int failures_ = 0;
  Clock::time_point next_{};
};

}  // namespace raqib::printers
