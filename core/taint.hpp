// Whether this host's view is known to be compromised: set once an
// integrity check of core/tamper.cpp failed, never cleared until restart.
// Every record serialised after that carries "tainted": true.
#pragma once

#include <atomic>

namespace raqib {

inline std::atomic<bool> &hostTainted() {
  static std::atomic<bool> tainted{false};
  return tainted;
}

}  // namespace raqib
