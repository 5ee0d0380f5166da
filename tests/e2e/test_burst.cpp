// A burst of 1,000,000 opens of one file by one process, drained every 10 ms
// across the burst: the counts of its records sum exactly to 1,000,000. With
// hundreds of epoch flips during the burst, this is also the proof that no
// write is lost between a flip and the drain. The records are a recipe's
// detections (urgent, each with its record's count): info records
// (--events all) would be dropped, and counted, by a printer that cannot
// keep up with the rest of a busy machine.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "records.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;

TEST(Burst, MillionOpensSumExactly) {
  fs::path dir =
      fs::canonical(fs::temp_directory_path()) / ("raqib-burst-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path target = dir / "target";
  std::ofstream(target) << "x";

  TempFile config("raqib.toml",
                  fileRecipeConfig("test_burst", "[\"open\"]", dir.string() + "/", "", "10ms"));
  DaemonProcess daemon({"--config", config.path()});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  constexpr long kOpens = 1000000;
  std::string path = target.string();
  // Every raqib sees the whole machine: another process's flood that fills
  // file_access while the burst runs is a loss raqib reports, and the
  // burst is run again.
  auto records = losslessRecordsOfChild(
      daemon,
      [&] {
        for (long i = 0; i < kOpens; i++) close(open(path.c_str(), O_RDONLY));
      },
      (dir / "marker").string(), [] {}, std::chrono::seconds(120));
  ASSERT_FALSE(records.empty()) << daemon.stderrText();
  long sum = 0, opens = 0;
  for (const json &r : records)
    if (r["kind"] == "detection" && r["file"]["path"] == path) {
      sum += r["count"].get<long>();
      opens++;
    }
  EXPECT_EQ(sum, kOpens) << "over " << opens << " drains";
  EXPECT_GT(opens, 1) << "the burst should straddle several drains";
  EXPECT_EQ(daemon.stop(), 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace raqib::test
