#include "privileges.hpp"

#include <sys/capability.h>
#include <sys/prctl.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace raqib {

Status dropPrivileges() {
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; cap++)
    if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return Error{fmt::format("dropping capability {} from the bounding set: {}", cap,
                               std::strerror(errno))};
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return Error{fmt::format("clearing ambient capabilities: {}", std::strerror(errno))};
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void *)> none(cap_init(), cap_free);
  if (!none || cap_set_proc(none.get()) != 0)
    return Error{fmt::format("dropping capabilities: {}", std::strerror(errno))};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Error{fmt::format("setting no_new_privs: {}", std::strerror(errno))};
  return Ok{};
}

}  // namespace raqib
