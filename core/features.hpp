// What this kernel lets raqib use: each hook type is tried for real (load and
// attach a trivial program), since "supported" and "allowed here" differ
// (fentry and lsm load nowhere on these machines, EPERM).
#pragma once

#include <string>
#include <vector>

namespace raqib {

struct HookSupport {
  std::string hook;  // "tp_btf", "fentry", ...
  bool usable = false;
  std::string detail;  // the error, when not usable
  std::string role;    // what raqib uses it for, or the fallback it takes
};

std::vector<HookSupport> probeHooks();

// The table `raqib --features` prints.
std::string featuresTable(const std::vector<HookSupport> &hooks);

// The table of the entries to a file action (syscall ABIs, io_uring, ...)
// and whether raqib records an action taken through each.
std::string entriesTable();

}  // namespace raqib
