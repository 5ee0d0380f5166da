// Serialising detections for printers: one JSON object per line (the schema
// is docs/events.md) and one human-readable line. Done once per detection by
// the host, not per printer.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>
#include <raqib/plugin_api.h>

namespace raqib {

struct DetectionMeta {
  std::string uuid;
  int64_t time_unix_ns = 0;
  std::string name;
  std::string plugin;
  std::string tactic;
  std::string technique;
  uint32_t importance = 0;
  std::string host;
};

std::string detectionJson(const DetectionMeta &meta, const raqib_record &record);
std::string detectionText(const DetectionMeta &meta, const raqib_record &record);
// An informational record (--events all): what was observed, no verdict.
std::string infoJson(const raqib_record &record, int64_t time_unix_ns, const std::string &host);
std::string infoText(const raqib_record &record, int64_t time_unix_ns);

// A tamper record (core/tamper.cpp): its own fields in fields (kind, move,
// importance, ...), then the actor's process and ancestry when actor is set.
std::string tamperJson(nlohmann::ordered_json fields, const raqib_record *actor,
                       const std::string &host);

// "2026-11-25T00:24:49.123456789Z"
std::string rfc3339(int64_t unix_ns);
std::vector<std::string> actionNames(uint32_t actions);
// The "file" members (docs/events.md) that say how its path was found, one
// per raqib_file_record.path_flags bit; each is present, as true, only when
// its bit is set.
struct PathFlagName {
  uint32_t bit;
  const char *name;
};
inline constexpr PathFlagName kPathFlagNames[] = {
    {RAQIB_PATH_LEXICAL, "path_lexical"},
    {RAQIB_PATH_TRUNCATED, "path_truncated"},
    {RAQIB_PATH_UNRESOLVED, "path_unresolved"},
    {RAQIB_PATH_READ_AT_EXIT, "path_read_at_exit"},
};
// "low", "medium", "high", "critical"; nullptr when out of range.
const char *importanceName(uint32_t importance);

}  // namespace raqib
