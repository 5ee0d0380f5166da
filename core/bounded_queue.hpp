// A bounded multi-producer queue feeding one consumer thread. A full queue
// refuses the item (the caller counts it) instead of blocking the producer:
// a slow plugin must never stall the drain. The consumer takes everything
// queued at once, so one lock and one wake-up serve a whole batch.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <vector>

namespace raqib {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) { items_.reserve(capacity); }

  // False when the queue is full or closed.
  bool tryPush(T item) { return push(std::move(item), true); }

  // Like tryPush, but past the capacity: for the consumer's own control
  // items, of which the caller keeps at most one queued. False once closed.
  bool pushControl(T item) { return push(std::move(item), false); }

  // Wait for items, then move all of them into out (which should be empty).
  // False once the queue is closed and empty.
  bool popAll(std::vector<T> &out) {
    std::unique_lock lock(mutex_);
    while (!closed_ && items_.empty()) {
      waiting_ = true;
      ready_.wait(lock);
    }
    if (items_.empty()) return false;
    out.swap(items_);  // the consumer's cleared vector keeps its capacity for next time
    return true;
  }

  // Like popAll, but gives up at deadline: false then too, with out empty
  // (closed() tells a timeout from the end).
  template <class Clock, class Duration>
  bool popAllUntil(std::vector<T> &out, std::chrono::time_point<Clock, Duration> deadline) {
    std::unique_lock lock(mutex_);
    while (!closed_ && items_.empty()) {
      waiting_ = true;
      if (ready_.wait_until(lock, deadline) == std::cv_status::timeout) break;
    }
    waiting_ = false;
    if (items_.empty()) return false;
    out.swap(items_);
    return true;
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
    size_t n = items_.size();
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
  bool push(T item, bool bounded) {
    bool wake;
    {
      std::lock_guard lock(mutex_);
      if (closed_ || (bounded && items_.size() >= capacity_)) return false;
      items_.push_back(std::move(item));
      wake = waiting_;
      waiting_ = false;
    }
    if (wake) ready_.notify_one();
    return true;
  }

  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::vector<T> items_;
  bool closed_ = false;
  bool waiting_ = false;  // the consumer sleeps in popAll
};

}  // namespace raqib
