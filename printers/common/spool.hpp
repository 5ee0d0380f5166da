// A bounded, ordered, on-disk queue of records (one line each) for printers
// that deliver to a peer that may be down: appended before delivery,
// removed once the peer acknowledged them, kept across restarts. When it is
// full the oldest records are dropped, a segment at a time, and counted.
//
// Layout in its directory (0700): segments NNNNNNNNNNNNNNNNNNNN.seg (0600)
// of about max_bytes / 8 each, numbered without gaps from the head's, and a
// file "head" ("SEGMENT OFFSET") naming the first record not yet
// acknowledged. Nothing lists the directory (a printer's seccomp filter
// forbids it): the segments after the head's are found by number.
// Delivery is at least once: a crash between a peer's acknowledgement and
// the head's update sends those records again.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "fd.hpp"

namespace raqib::printers {

class Spool {
 public:
  // Opens or creates the spool in dir; throws raqib::PluginError.
  Spool(std::string dir, uint64_t max_bytes);

  // Append one record (no newline inside). Returns how many old records were
  // dropped to make room (0 almost always).
  uint64_t append(const std::string &record);

  // Up to max_records records from the head, in order; where the next ones start.
  struct Batch {
    std::vector<std::string> records;
    uint64_t segment = 0;
    uint64_t offset = 0;
  };
  Batch peek(size_t max_records) const;
  // The peer took the batch: remove its records.
  void ack(const Batch &batch);

  // Flush appended records to the disk.
  void sync();

  bool empty() const { return pending_ == 0; }
  uint64_t pending() const { return pending_; }  // records not acknowledged
  uint64_t dropped() const { return dropped_; }  // dropped because the spool was full
  const std::string &dir() const { return dir_; }

 private:
  std::string segmentPath(uint64_t segment) const;
  uint64_t segmentSize(uint64_t segment) const;  // 0 when missing
  void openTail();
  void writeHead();
  uint64_t dropOldestSegment();
  // The records of segment from offset on, at most max (0: all), and the offset after them.
  std::vector<std::string> readRecords(uint64_t segment, uint64_t offset, size_t max,
                                       uint64_t &end) const;

  std::string dir_;
  uint64_t max_bytes_;
  uint64_t segment_bytes_;
  uint64_t head_segment_ = 0;
  uint64_t head_offset_ = 0;
  uint64_t tail_segment_ = 0;
  uint64_t tail_size_ = 0;
  uint64_t total_bytes_ = 0;  // every segment from the head's, whole
  uint64_t pending_ = 0;
  uint64_t dropped_ = 0;
  Fd tail_;
  bool dirty_ = false;
};

}  // namespace raqib::printers
