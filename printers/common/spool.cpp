#include "spool.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <raqib/plugin.hpp>

namespace raqib::printers {

namespace {

[[noreturn]] void fail(const std::string &what, const std::string &path) {
  throw PluginError(fmt::format("spool: {} {}: {}", what, path, std::strerror(errno)));
}

void writeAll(int fd, const std::string &data, const std::string &path) {
  for (size_t done = 0; done < data.size();) {
    ssize_t n = write(fd, data.data() + done, data.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail("writing", path);
    done += size_t(n);
  }
}

}  // namespace

Spool::Spool(std::string dir, uint64_t max_bytes)
    : dir_(std::move(dir)),
      max_bytes_(max_bytes),
      segment_bytes_(std::max<uint64_t>(max_bytes / 8, 1024)) {
  for (size_t slash = dir_.find('/', 1);; slash = dir_.find('/', slash + 1)) {
    std::string part = dir_.substr(0, slash);  // the whole path last
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) fail("creating", part);
    if (slash == std::string::npos) break;
  }
  std::string head_path = dir_ + "/head";
  Fd head(open(head_path.c_str(), O_RDONLY | O_CLOEXEC));
  if (head) {
    char text[64] = "";
    ssize_t n = read(head.get(), text, sizeof text - 1);
    unsigned long long segment = 0, offset = 0;
    if (n <= 0 || sscanf(text, "%llu %llu", &segment, &offset) != 2)
      throw PluginError(
          fmt::format("spool: {} is not \"SEGMENT OFFSET\"; remove it to start "
                      "an empty spool",
                      head_path));
    head_segment_ = segment;
    head_offset_ = offset;
  } else if (errno != ENOENT) {
    fail("reading", head_path);
  }
  tail_segment_ = head_segment_;
  struct stat st {};
  while (stat(segmentPath(tail_segment_ + 1).c_str(), &st) == 0) tail_segment_++;
  uint64_t end = 0;  // after the tail's last whole record
  for (uint64_t s = head_segment_; s <= tail_segment_; s++) {
    total_bytes_ += segmentSize(s);
    pending_ += readRecords(s, s == head_segment_ ? head_offset_ : 0, 0, end).size();
  }
  tail_size_ = segmentSize(tail_segment_);
  openTail();
  // A crash in the middle of an append left part of a line: cut it, or the
  // next record would be glued to it.
  if (end < tail_size_) {
    if (ftruncate(tail_.get(), off_t(end)) != 0)
      fail("cutting a partial record of", segmentPath(tail_segment_));
    total_bytes_ -= tail_size_ - end;
    tail_size_ = end;
  }
}

std::string Spool::segmentPath(uint64_t segment) const {
  return fmt::format("{}/{:020}.seg", dir_, segment);
}

uint64_t Spool::segmentSize(uint64_t segment) const {
  struct stat st {};
  return stat(segmentPath(segment).c_str(), &st) == 0 ? uint64_t(st.st_size) : 0;
}

void Spool::openTail() {
  std::string path = segmentPath(tail_segment_);
  tail_.reset(open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600));
  if (!tail_) fail("opening", path);
}

void Spool::writeHead() {
  std::string path = dir_ + "/head";
  std::string tmp = path + ".new";
  Fd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) fail("opening", tmp);
  writeAll(fd.get(), fmt::format("{} {}\n", head_segment_, head_offset_), tmp);
  if (rename(tmp.c_str(), path.c_str()) != 0) fail("renaming", tmp);
}

uint64_t Spool::append(const std::string &record) {
  std::string line = record + '\n';
  if (tail_size_ > 0 && tail_size_ + line.size() > segment_bytes_) {
    tail_segment_++;
    tail_size_ = 0;
    openTail();
  }
  writeAll(tail_.get(), line, segmentPath(tail_segment_));
  tail_size_ += line.size();
  total_bytes_ += line.size();
  pending_++;
  dirty_ = true;
  uint64_t dropped = 0;
  while (total_bytes_ > max_bytes_ && head_segment_ < tail_segment_) dropped += dropOldestSegment();
  return dropped;
}

uint64_t Spool::dropOldestSegment() {
  uint64_t end = 0;
  uint64_t records = readRecords(head_segment_, head_offset_, 0, end).size();
  uint64_t size = segmentSize(head_segment_);
  std::string path = segmentPath(head_segment_);
  head_segment_++;
  head_offset_ = 0;
  writeHead();
  if (unlink(path.c_str()) != 0 && errno != ENOENT) fail("removing", path);
  total_bytes_ -= std::min(total_bytes_, size);
  pending_ -= std::min(pending_, records);
  dropped_ += records;
  return records;
}

std::vector<std::string> Spool::readRecords(uint64_t segment, uint64_t offset, size_t max,
                                            uint64_t &end) const {
  std::vector<std::string> records;
  end = offset;
  std::string path = segmentPath(segment);
  Fd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return records;
    fail("opening", path);
  }
  if (lseek(fd.get(), off_t(offset), SEEK_SET) < 0) fail("seeking in", path);
  std::string pending;
  char buf[64 * 1024];
  for (;;) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("reading", path);
    if (n == 0) break;
    pending.append(buf, size_t(n));
    size_t start = 0;
    for (size_t nl; (nl = pending.find('\n', start)) != std::string::npos; start = nl + 1) {
      records.push_back(pending.substr(start, nl - start));
      end += nl + 1 - start;
      if (max && records.size() == max) return records;
    }
    pending.erase(0, start);  // a partial last line (a crash mid-append) is not a record
  }
  return records;
}

Spool::Batch Spool::peek(size_t max_records) const {
  Batch batch{{}, head_segment_, head_offset_};
  while (batch.records.size() < max_records) {
    uint64_t end = 0;
    auto records =
        readRecords(batch.segment, batch.offset, max_records - batch.records.size(), end);
    batch.offset = end;
    for (auto &r : records) batch.records.push_back(std::move(r));
    if (batch.records.size() == max_records || batch.segment >= tail_segment_) break;
    batch.segment++;  // the rest of this segment is done
    batch.offset = 0;
  }
  return batch;
}

void Spool::ack(const Batch &batch) {
  if (batch.records.empty()) return;
  uint64_t first = head_segment_;
  head_segment_ = batch.segment;
  head_offset_ = batch.offset;
  writeHead();
  for (uint64_t s = first; s < head_segment_; s++) {
    total_bytes_ -= std::min(total_bytes_, segmentSize(s));
    if (unlink(segmentPath(s).c_str()) != 0 && errno != ENOENT) fail("removing", segmentPath(s));
  }
  pending_ -= std::min<uint64_t>(pending_, batch.records.size());
}

void Spool::sync() {
  if (!dirty_) return;
  if (fdatasync(tail_.get()) != 0) fail("syncing", segmentPath(tail_segment_));
  dirty_ = false;
}

}  // namespace raqib::printers
