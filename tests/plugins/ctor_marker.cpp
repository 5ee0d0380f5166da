// A detector whose constructors leave a mark: the file named by
// $RAQIB_TEST_CTOR_MARKER. Shows which host paths run plugin code.
#include <cstdlib>
#include <fstream>

#include <raqib/plugin.hpp>

namespace {

const bool kMarked = [] {
  if (const char *path = std::getenv("RAQIB_TEST_CTOR_MARKER")) std::ofstream(path) << "ran\n";
  return true;
}();

class Quiet {
 public:
  explicit Quiet(raqib::Host) {}
  void onRecord(const raqib_record &) {}
};

}  // namespace

RAQIB_DETECTOR(Quiet, "ctor-marker", "1.0.0", "marks when its constructors run (tests only)",
               RAQIB_RECORD_FILE);
