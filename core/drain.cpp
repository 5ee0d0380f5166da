#include "drain.hpp"

#include <bpf/bpf.h>

#include <chrono>

namespace raqib {

namespace {
// How long an exited process stays in the table for its children's ancestry.
constexpr std::chrono::seconds kKeepExited{30};
}  // namespace

const StringCache::Entry *StringCache::lookup(uint64_t hash) {
  if (auto it = cache_.find(hash); it != cache_.end()) return &it->second;
  raqib_string s{};
  if (bpf_map_lookup_elem(fd_, &hash, &s) != 0) {
    lost_++;
    return nullptr;
  }
  if (cache_.size() >= max_entries_) cache_.clear();  // the kernel still has them
  Entry e{std::string(s.str, std::min<size_t>(s.len, RAQIB_PATH_MAX)), s.flags};
  return &cache_.emplace(hash, std::move(e)).first->second;
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
    const StringCache::Entry *exe =
        (rec.flags & RAQIB_PROC_EXECED) ? strings_.lookup(rec.exe_hash) : nullptr;
    processes_.apply(rec, exe ? exe->text : std::string());
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
        if (const StringCache::Entry *path = strings_.lookup(key.path_hash)) {
          a.path = path->text;
          a.path_flags = (path->flags & RAQIB_STR_TRUNCATED ? RAQIB_PATH_TRUNCATED : 0) |
                         (path->flags & RAQIB_STR_UNRESOLVED ? RAQIB_PATH_UNRESOLVED : 0);
        } else {
          a.path = "<evicted>";
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
