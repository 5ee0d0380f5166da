// Dropping what the core no longer needs once the BPF programs are attached
// and /proc is read: every capability not configured to be kept (effective,
// permitted, inheritable, ambient and the bounding set), optionally the root
// user, and no_new_privs so nothing regains any.
#pragma once

#include <string>
#include <vector>

#include "result.hpp"

namespace raqib {

struct PrivilegeOptions {
  std::string user;                            // "" stays root (uid 0, no capability)
  std::vector<std::string> keep_capabilities;  // names, e.g. "cap_net_bind_service"
};

// Call on the main thread before any other thread starts: capabilities and
// credentials are per thread, and threads created later inherit these.
Status dropPrivileges(const PrivilegeOptions &options = {});

}  // namespace raqib
