// A behaviour record as handed to plugins: the C view (raqib_record) and the
// strings it points into, owned together and immutable once built, so every
// plugin thread can read one snapshot without copies or locks.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <raqib/plugin_api.h>

#include "process_table.hpp"

namespace raqib {

// A kernel CLOCK_BOOTTIME instant as ns since the Unix epoch. Times come from
// map bytes: an absurd one wraps (defined) rather than overflowing (undefined).
inline int64_t unixNsOfBoot(uint64_t boot_ns, int64_t boot_to_unix_ns) {
  return int64_t(boot_ns + uint64_t(boot_to_unix_ns));
}

struct FileActivity {
  std::string path;
  std::optional<std::string> other_path;  // rename, link, symlink
  // The watched file the act reached under another name (a hard link, a bind
  // mount): matched by (device, inode), named as the recipe names it.
  std::optional<std::string> watched_path;
  uint32_t path_flags = 0;  // RAQIB_PATH_*
  uint32_t actions = 0;     // raqib_file_action
  int32_t error = 0;
  uint64_t count = 0;
  int64_t first_unix_ns = 0;
  int64_t last_unix_ns = 0;
};

struct ExecActivity {
  uint32_t events = 0;  // RAQIB_EXEC_*
  int32_t exit_code = 0;
  int64_t exec_unix_ns = 0;
  int64_t exit_unix_ns = 0;
};

// A connect, accept or flow (raqib_flow_record), as the drain decodes it.
struct FlowActivity {
  uint32_t direction = 0;  // RAQIB_FLOW_*
  uint32_t protocol = 0;
  uint32_t family = 0;
  std::string local_addr;
  std::string remote_addr;
  uint32_t local_port = 0;
  uint32_t remote_port = 0;
  uint64_t bytes_out = 0;
  uint64_t bytes_in = 0;
  uint64_t packets_out = 0;
  uint64_t packets_in = 0;
  std::string state;
  std::vector<std::string> names;  // newest first
  int32_t error = 0;
  uint64_t count = 0;
  int64_t first_unix_ns = 0;
  int64_t last_unix_ns = 0;
};

// DNS questions and answers (raqib_dns_record).
struct DnsActivity {
  std::string name;
  uint32_t qtype = 0;
  std::vector<std::string> answers;
  uint32_t rcode = 0;
  uint32_t flags = 0;  // RAQIB_DNS_*
  uint64_t queries = 0;
  uint64_t responses = 0;
  int64_t first_unix_ns = 0;
  int64_t last_unix_ns = 0;
};

class RecordSnapshot {
 public:
  // A record about process pid, with the process and its ancestry as the
  // table knows them now; with image, the process as that image of it (the
  // one that acted: see ProcessTable::findImage). boot_to_unix converts
  // kernel times.
  static std::shared_ptr<const RecordSnapshot> file(const ProcessTable &table, uint32_t pid,
                                                    FileActivity activity, int64_t boot_to_unix_ns,
                                                    std::optional<ImageRef> image = std::nullopt);
  static std::shared_ptr<const RecordSnapshot> exec(const ProcessTable &table, uint32_t pid,
                                                    ExecActivity activity, int64_t boot_to_unix_ns,
                                                    std::optional<ImageRef> image = std::nullopt);

  // Network records; pid 0 when the owning process is not known.
  static std::shared_ptr<const RecordSnapshot> flow(const ProcessTable &table, uint32_t pid,
                                                    FlowActivity activity, int64_t boot_to_unix_ns,
                                                    std::optional<ImageRef> image = std::nullopt);
  static std::shared_ptr<const RecordSnapshot> dns(const ProcessTable &table, uint32_t pid,
                                                   DnsActivity activity, int64_t boot_to_unix_ns);

  // Only the process and its ancestry: the actor of a tamper record
  // (RAQIB_RECORD_TAMPER), which printers get serialised (core/tamper.cpp).
  static std::shared_ptr<const RecordSnapshot> actor(const ProcessTable &table, uint32_t pid,
                                                     int64_t boot_to_unix_ns);

  const raqib_record &view() const { return record_; }

  RecordSnapshot(const RecordSnapshot &) = delete;
  RecordSnapshot &operator=(const RecordSnapshot &) = delete;

 private:
  RecordSnapshot() = default;
  // The snapshot of pid and its ancestry, for a record of kind.
  static std::shared_ptr<RecordSnapshot> about(const ProcessTable &table, uint32_t pid,
                                               uint32_t kind, int64_t boot_to_unix_ns,
                                               std::optional<ImageRef> image = std::nullopt);

  struct OwnedProcess {
    std::string exe;
    std::string comm;
    std::vector<std::string> args;
    std::vector<const char *> argv;
  };
  void addProcess(const ProcessInfo &p, int64_t boot_to_unix_ns);
  void link();  // point the C views at the owned strings

  std::vector<OwnedProcess> owned_;  // [0] the process, then its ancestors
  std::vector<raqib_process> procs_;
  FileActivity file_activity_;
  raqib_file_record file_{};
  ExecActivity exec_activity_;
  raqib_exec_record exec_{};
  FlowActivity flow_activity_;
  std::vector<const char *> flow_names_;
  raqib_flow_record flow_{};
  DnsActivity dns_activity_;
  std::vector<const char *> dns_answers_;
  raqib_dns_record dns_{};
  raqib_record record_{};
};

}  // namespace raqib
