// A detector that does nothing: what is left is the host's cost per record.
#include <raqib/plugin.hpp>

namespace {

class Noop {
 public:
  explicit Noop(raqib::Host) {}
  void onRecord(const raqib_record &) {}
};

}  // namespace

RAQIB_DETECTOR(Noop, "noop", "1.0.0", "does nothing (benchmarks)", RAQIB_RECORD_FILE);
