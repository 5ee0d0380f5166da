// The ring-buffer transport: the same binary streams every file event
// through a BPF ring buffer, as streaming monitors do. Detections still
// arrive; every event is either delivered or counted as dropped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "records.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;

TEST(RingbufTransport, DeliversEveryEventOrCountsItsDrop) {
  fs::path dir =
      fs::canonical(fs::temp_directory_path()) / ("raqib-rb-" + std::to_string(getpid()));
  fs::create_directories(dir);
  fs::path target = dir / "target";
  std::ofstream(target) << "x";
  // Every streamed event becomes an info record: the printer's queue holds
  // them all, so the marker records this test waits for are not dropped
  // while it reads (drops would be counted, but the wait would not end).
  TempFile config(
      "raqib.toml",
      "[plugins.file]\n[printers.stdout]\nformat = \"json\"\nqueue_capacity = 262144\n");
  DaemonProcess daemon({"--config", config.path(), "--transport", "ringbuf", "--events", "all"});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  constexpr long kOpens = 20000;
  std::string path = target.string();
  auto records = recordsOfChild(
      daemon,
      [&] {
        for (long i = 0; i < kOpens; i++) close(open(path.c_str(), O_RDONLY));
      },
      (dir / "marker").string(), std::chrono::seconds(60));
  ASSERT_FALSE(records.empty()) << daemon.stderrText();
  auto opens = fileRecords(records, path);
  long delivered = 0;
  for (const auto &r : opens) {
    EXPECT_EQ(r["count"], 1) << "streamed: one record per event";
    delivered += r["count"].get<long>();
  }

  ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
  EXPECT_TRUE(waitForDetection(daemon, reader.pid, std::chrono::seconds(20)))
      << daemon.stderrText();

  EXPECT_EQ(daemon.stop(), 0);
  json s = statsOf(daemon);
  ASSERT_FALSE(s.is_null()) << daemon.stderrText();
  // What did not arrive was counted: by the kernel when the ring buffer was
  // full, or by the host when the printer's queue was. Nothing went to the
  // activity maps.
  long dropped =
      s["ringbuf"]["dropped"].get<long>() + s["plugins"]["stdout"]["dropped"].get<long>();
  EXPECT_GE(delivered + dropped, kOpens) << delivered << " delivered, " << dropped << " dropped";
  EXPECT_GE(s["ringbuf"]["records"].get<long>(), delivered);
  EXPECT_EQ(s["maps"]["file_access"]["inserts"], 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace raqib::test
