// A bounded multi-producer queue feeding one consumer thread. A full queue
// refuses the item (the caller counts it) instead of blocking the producer:
// a slow plugin must never stall the drain. The consumer takes a batch at
// once, so one lock and one wake-up serve many items.
//
// Urgent items (what recipes watch, detections) have a bound of their own
// and are handed out before the normal ones: a flood of normal items can
// neither crowd them out nor delay them behind more than one batch
// (kBatch normal items).
#pragma once

#include <chrono>
#include <algorithm>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <mutex>
#include <vector>

namespace raqib {

enum class Priority { normal, urgent };

template <class T>
class BoundedQueue {
 public:
  // capacity bounds the normal items and, separately, the urgent ones.
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  // False when the item's part of the queue is full, or the queue closed.
  bool tryPush(T item, Priority priority = Priority::normal) {
    return push(std::move(item), priority == Priority::urgent ? urgent_ : items_, true);
  }

  // A normal item past the capacity: for the consumer's own control items,
  // of which the caller keeps at most one queued. False once closed.
  bool pushControl(T item) { return push(std::move(item), items_, false); }

  static constexpr size_t kBatch = 256;

  // Wait for items, then move every urgent one and up to kBatch normal ones
  // into out (which should be empty). False once the queue is closed and
  // empty.
  bool popBatch(std::vector<T> &out) {
    std::unique_lock lock(mutex_);
    while (!closed_ && empty()) {
      waiting_ = true;
      ready_.wait(lock);
    }
    return take(out);
  }

  // Like popBatch, but gives up at deadline: false then too, with out empty
  // (closed() tells a timeout from the end).
  template <class Clock, class Duration>
  bool popBatchUntil(std::vector<T> &out, std::chrono::time_point<Clock, Duration> deadline) {
    std::unique_lock lock(mutex_);
    while (!closed_ && empty()) {
      waiting_ = true;
      if (ready_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    waiting_ = false;
    return take(out);
  }

  // Wait up to timeout for close(); true when closed. Items stay queued.
  template <class Rep, class Period>
  bool waitClosedFor(std::chrono::duration<Rep, Period> timeout) {
    std::unique_lock lock(mutex_);
    return ready_.wait_for(lock, timeout, [this] { return closed_; });
  }

  // Drop what is queued; returns how many items were dropped.
  size_t clear() {
    std::lock_guard lock(mutex_);
    size_t n = urgent_.size() + items_.size();
    urgent_.clear();
    items_.clear();
    return n;
  }

  // Refuse new items; the consumer still gets what is queued.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

  size_t capacity() const { return capacity_; }

  bool closed() {
    std::lock_guard lock(mutex_);
    return closed_;
  }

 private:
  bool empty() const { return urgent_.empty() && items_.empty(); }

  // Under mutex_: the urgent items, then up to kBatch normal ones, into out.
  bool take(std::vector<T> &out) {
    if (empty()) return false;
    std::move(urgent_.begin(), urgent_.end(), std::back_inserter(out));
    urgent_.clear();
    auto end = items_.begin() + std::ptrdiff_t(std::min(kBatch, items_.size()));
    std::move(items_.begin(), end, std::back_inserter(out));
    items_.erase(items_.begin(), end);
    return true;
  }

  bool push(T item, std::deque<T> &part, bool bounded) {
    bool wake;
    {
      std::lock_guard lock(mutex_);
      if (closed_ || (bounded && part.size() >= capacity_)) return false;
      part.push_back(std::move(item));
      wake = waiting_;
      waiting_ = false;
    }
    if (wake) ready_.notify_one();
    return true;
  }

  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> urgent_;
  std::deque<T> items_;  // the normal ones, taken from the front
  bool closed_ = false;
  bool waiting_ = false;  // the consumer sleeps in popBatch
};

}  // namespace raqib
