// Health records: a plugin faulted (an exception, an error, a crash, a
// forbidden syscall, a hang or a full queue). Serialised once by the host for
// every printer subscribed to RAQIB_RECORD_HEALTH; the schema is in
// docs/events.md.
#pragma once

#include <cstdint>
#include <string>

namespace raqib {

struct HealthEvent {
  int64_t time_unix_ns = 0;
  std::string plugin;
  std::string
      fault;  // exception | error | crash | seccomp | hang | queue_full | log_flood | memory
  std::string detail;  // e.g. "SIGSEGV at 0x0", "forbidden syscall openat"
  uint64_t count = 1;  // faults of this kind since the last record about them
  uint32_t restarts = 0;
  bool disabled = false;  // the host gave up on the plugin
  std::string host;
};

std::string healthJson(const HealthEvent &event);
std::string healthText(const HealthEvent &event);

}  // namespace raqib
