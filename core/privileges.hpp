// Dropping what the core no longer needs once the BPF programs are attached
// and /proc is read: every capability (effective, permitted, inheritable,
// ambient and the bounding set), and no_new_privs so nothing regains any.
#pragma once

#include "result.hpp"

namespace raqib {

// Call on the main thread before any other thread starts: capabilities are
// per thread, and threads created later inherit the dropped set.
Status dropPrivileges();

}  // namespace raqib
