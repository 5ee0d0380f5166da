#include "health.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "output_format.hpp"
#include "taint.hpp"

namespace raqib {

std::string healthJson(const HealthEvent &e) {
  nlohmann::ordered_json j = {
      {"kind", "health"},       {"time", rfc3339(e.time_unix_ns)},
      {"plugin", e.plugin},     {"fault", e.fault},
      {"detail", e.detail},     {"count", e.count},
      {"restarts", e.restarts}, {"disabled", e.disabled},
      {"host", e.host},
  };
  if (hostTainted()) j["tainted"] = true;
  return j.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

std::string healthText(const HealthEvent &e) {
  std::string detail;
  for (char c : e.detail) detail += (c < 0x20 || c == 0x7f) ? '?' : c;
  return fmt::format("{} health plugin={} fault={} x{} restarts={}{}: {}", rfc3339(e.time_unix_ns),
                     e.plugin, e.fault, e.count, e.restarts, e.disabled ? " disabled" : "", detail);
}

}  // namespace raqib
