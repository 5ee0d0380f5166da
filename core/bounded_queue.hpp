// A bounded multi-producer queue feeding one consumer thread. A full queue
// refuses the item (the caller counts it) instead of blocking the producer:
// a slow plugin must never stall the drain.
#pragma once

#include <condition_variable>
#include <deque>
#include <mutex>
#include <vector>

namespace raqib {

template <class T>
class BoundedQueue {
 public:
  explicit BoundedQueue(size_t capacity) : capacity_(capacity) {}

  // False when the queue is full or closed.
  bool tryPush(T item) {
    {
      std::lock_guard lock(mutex_);
      if (closed_ || items_.size() >= capacity_) return false;
      items_.push_back(std::move(item));
    }
    ready_.notify_one();
    return true;
  }

  // Wait for items, then move all of them into out. False once the queue is
  // closed and empty.
  bool popAll(std::vector<T> &out) {
    std::unique_lock lock(mutex_);
    ready_.wait(lock, [this] { return closed_ || !items_.empty(); });
    if (items_.empty()) return false;
    out.insert(out.end(), std::make_move_iterator(items_.begin()),
               std::make_move_iterator(items_.end()));
    items_.clear();
    return true;
  }

  // Refuse new items; the consumer still gets what is queued.
  void close() {
    {
      std::lock_guard lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
  }

 private:
  const size_t capacity_;
  std::mutex mutex_;
  std::condition_variable ready_;
  std::deque<T> items_;
  bool closed_ = false;
};

}  // namespace raqib
