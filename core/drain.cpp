#include "drain.hpp"

#include <bpf/bpf.h>

#include <chrono>

namespace raqib {

namespace {
// How long an exited process stays in the table for its children's ancestry.
constexpr std::chrono::seconds kKeepExited{30};
// The path of a record whose string the kernel's LRU evicted before the drain.
constexpr const char *kEvicted = "<evicted>";
}  // namespace

std::string foldDots(std::string_view path) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (start <= path.size()) {
    size_t end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    std::string_view part = path.substr(start, end - start);
    if (part == "..") {
      if (!parts.empty()) parts.pop_back();
    } else if (!part.empty() && part != ".") {
      parts.push_back(part);
    }
    start = end + 1;
  }
  std::string out;
  for (auto p : parts) (out += '/') += p;
  return out.empty() ? "/" : out;
}

const std::string *StringCache::lookup(uint64_t hash) {
  if (auto it = cache_.find(hash); it != cache_.end()) return &it->second;
  raqib_string s{};
  if (bpf_map_lookup_elem(fd_, &hash, &s) != 0) {
    lost_++;
    return nullptr;
  }
  if (cache_.size() >= max_entries_) cache_.clear();  // the kernel still has them
  std::string text(s.str, std::min<size_t>(s.len, RAQIB_PATH_MAX));
  return &cache_.emplace(hash, std::move(text)).first->second;
}

void Drainer::deliver(const std::shared_ptr<const RecordSnapshot> &record) {
  plugins_.dispatch(record);
  if (events_ == Events::All) plugins_.publishInfo(*record);
}

Status Drainer::drainExec() {
  auto drained = bpf_.execEpochs().flip();
  if (!drained) return Error{drained.error()};
  int64_t offset = bootToUnixOffsetNs();
  auto status = drainMap<uint32_t, raqib_proc>(*drained, [&](uint32_t, const raqib_proc &rec) {
    const std::string *exe =
        (rec.flags & RAQIB_PROC_EXECED) ? strings_.lookup(rec.exe_hash) : nullptr;
    processes_.apply(rec, exe ? *exe : std::string());
    ExecActivity a;
    a.events = (rec.flags & RAQIB_PROC_FORKED ? RAQIB_EXEC_FORKED : 0) |
               (rec.flags & RAQIB_PROC_EXECED ? RAQIB_EXEC_EXECED : 0) |
               (rec.flags & RAQIB_PROC_EXITED ? RAQIB_EXEC_EXITED : 0);
    a.exit_code = rec.exit_code;
    a.exec_unix_ns = rec.exec_ns ? int64_t(rec.exec_ns) + offset : 0;
    a.exit_unix_ns = rec.exit_ns ? int64_t(rec.exit_ns) + offset : 0;
    deliver(RecordSnapshot::exec(processes_, rec.tgid, a, offset));
    stats_.exec_records++;
  });
  processes_.expire(bootNowNs(), kKeepExited);
  return status;
}

Status Drainer::drainFile() {
  auto drained = bpf_.fileEpochs().flip();
  if (!drained) return Error{drained.error()};
  int64_t offset = bootToUnixOffsetNs();
  return drainMap<raqib_file_key, raqib_file_value>(
      *drained, [&](const raqib_file_key &key, const raqib_file_value &value) {
        FileActivity a;
        bool joined = key.path_flags & RAQIB_STR_JOINED;
        const std::string *path = strings_.lookup(key.path_hash);
        a.path = !path ? kEvicted : joined ? foldDots(*path) : *path;
        a.path_flags = (key.path_flags & RAQIB_STR_TRUNCATED ? RAQIB_PATH_TRUNCATED : 0) |
                       (key.path_flags & RAQIB_STR_UNRESOLVED ? RAQIB_PATH_UNRESOLVED : 0) |
                       (joined ? RAQIB_PATH_LEXICAL : 0);
        if (key.other_hash) {
          // A symlink's other path is its text; a rename's or link's is a path.
          const std::string *other = strings_.lookup(key.other_hash);
          bool text = key.actions & RAQIB_FILE_SYMLINK;
          a.other_path = !other ? kEvicted : text ? *other : foldDots(*other);
        }
        a.actions = key.actions;  // the kernel's action bits are the SDK's
        a.error = key.error;
        a.count = value.count;
        a.first_unix_ns = int64_t(value.first_ns) + offset;
        a.last_unix_ns = int64_t(value.last_ns) + offset;
        deliver(RecordSnapshot::file(processes_, key.tgid, std::move(a), offset));
        stats_.file_records++;
      });
}

}  // namespace raqib
