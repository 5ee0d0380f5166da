// Records shared by the micro-benchmarks: a process table with a three-deep
// ancestry and a file record about its youngest process.
#pragma once

#include <cstring>
#include <memory>
#include <string>

#include "process_table.hpp"
#include "record_snapshot.hpp"

namespace raqib::bench {

inline raqib_proc procRecord(uint32_t pid, uint32_t ppid, const char *comm, const char *args,
                             size_t args_len) {
  raqib_proc rec{};
  rec.hdr.kind = RAQIB_REC_PROC;
  rec.hdr.version = RAQIB_RECORD_VERSION;
  rec.hdr.size = sizeof rec;
  rec.tgid = pid;
  rec.ppid = ppid;
  rec.flags = RAQIB_PROC_FORKED | RAQIB_PROC_EXECED;
  rec.start_ns = 1000000000ull * pid;
  rec.exec_ns = rec.start_ns + 1000;
  std::strncpy(rec.comm, comm, sizeof rec.comm - 1);
  std::memcpy(rec.args, args, std::min(args_len, sizeof rec.args));
  rec.args_len = uint32_t(std::min(args_len, sizeof rec.args));
  return rec;
}

// init(1) <- sshd(800) <- bash(900) <- cat(1000)
inline ProcessTable sampleTable() {
  ProcessTable t;
  static const char init_args[] = "/sbin/init";
  static const char sshd_args[] = "sshd: /usr/sbin/sshd -D";
  static const char bash_args[] = "-bash";
  static const char cat_args[] = "cat\0/etc/shadow";
  t.apply(procRecord(1, 0, "systemd", init_args, sizeof init_args), "/usr/lib/systemd/systemd");
  t.apply(procRecord(800, 1, "sshd", sshd_args, sizeof sshd_args), "/usr/sbin/sshd");
  t.apply(procRecord(900, 800, "bash", bash_args, sizeof bash_args), "/usr/bin/bash");
  t.apply(procRecord(1000, 900, "cat", cat_args, sizeof cat_args), "/usr/bin/cat");
  return t;
}

inline std::shared_ptr<const RecordSnapshot> fileSnapshot(const ProcessTable &t,
                                                          const std::string &path) {
  FileActivity a;
  a.path = path;
  a.actions = RAQIB_ACTION_OPEN | RAQIB_ACTION_READ;
  a.count = 3;
  a.first_unix_ns = 1764030000000000000;
  a.last_unix_ns = a.first_unix_ns + 1000;
  return RecordSnapshot::file(t, 1000, std::move(a), 0);
}

}  // namespace raqib::bench
