#include "privileges.hpp"

#include <grp.h>
#include <pwd.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>

#include <fmt/format.h>

namespace raqib {

Status dropPrivileges(const PrivilegeOptions &options) {
  std::vector<cap_value_t> keep;
  for (const auto &name : options.keep_capabilities) {
    cap_value_t cap;
    if (cap_from_name(name.c_str(), &cap) != 0)
      return Error{fmt::format("[core] keep_capabilities: unknown capability \"{}\"", name)};
    keep.push_back(cap);
  }
  uid_t uid = 0;
  gid_t gid = 0;
  bool switch_user = options.user != "root";
  if (switch_user) {
    passwd *pw = getpwnam(options.user.c_str());
    if (!pw)
      return Error{
          fmt::format("[core] user: no user \"{}\" on this system; create it (e.g. "
                      "useradd --system --no-create-home --shell /usr/sbin/nologin {}) or set "
                      "user = \"root\" to stay root",
                      options.user, options.user)};
    uid = pw->pw_uid;
    gid = pw->pw_gid;
  }
  // The bounding set first: dropping from it needs CAP_SETPCAP, which goes next.
  for (cap_value_t cap = 0; cap <= CAP_LAST_CAP; cap++)
    if (std::find(keep.begin(), keep.end(), cap) == keep.end() &&
        prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 && errno != EINVAL)
      return Error{fmt::format("dropping capability {} from the bounding set: {}", cap,
                               std::strerror(errno))};
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL)
    return Error{fmt::format("clearing ambient capabilities: {}", std::strerror(errno))};
  if (switch_user) {
    // Keep the permitted set across setuid so the kept capabilities survive.
    if (!keep.empty() && prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0)
      return Error{fmt::format("keeping capabilities across setuid: {}", std::strerror(errno))};
    if (setgroups(1, &gid) != 0 || setresgid(gid, gid, gid) != 0 || setresuid(uid, uid, uid) != 0)
      return Error{fmt::format("switching to user \"{}\" (uid {}, gid {}): {}", options.user, uid,
                               gid, std::strerror(errno))};
  }
  std::unique_ptr<std::remove_pointer_t<cap_t>, int (*)(void *)> caps(cap_init(), cap_free);
  if (!caps) return Error{fmt::format("dropping capabilities: {}", std::strerror(errno))};
  if (!keep.empty() &&
      (cap_set_flag(caps.get(), CAP_PERMITTED, int(keep.size()), keep.data(), CAP_SET) != 0 ||
       cap_set_flag(caps.get(), CAP_EFFECTIVE, int(keep.size()), keep.data(), CAP_SET) != 0))
    return Error{fmt::format("keeping capabilities: {}", std::strerror(errno))};
  if (cap_set_proc(caps.get()) != 0)
    return Error{fmt::format("dropping capabilities: {}", std::strerror(errno))};
  if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) != 0 && errno != EINVAL)
    return Error{fmt::format("clearing keep-capabilities: {}", std::strerror(errno))};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0)
    return Error{fmt::format("setting no_new_privs: {}", std::strerror(errno))};
  return Ok{};
}

}  // namespace raqib
