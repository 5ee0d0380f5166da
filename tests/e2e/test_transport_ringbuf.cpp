// The ring-buffer transport: the same binary streams every file event
// through a BPF ring buffer, as streaming monitors do. Detections still
// arrive; every event is either delivered or counted as dropped.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

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
  // Every event of the machine is streamed and becomes an info record, the
  // load beside this test's included: the printer may drop some (counted).
  // What this test waits for is a detection, which no info record crowds
  // out (it is urgent), and it counts the opens only once the daemon has
  // stopped and written all it was going to.
  TempFile config(
      "raqib.toml",
      "[plugins.file]\n[printers.stdout]\nformat = \"json\"\nqueue_capacity = 262144\n");
  DaemonProcess daemon({"--config", config.path(), "--transport", "ringbuf", "--events", "all"});
  ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();

  // The opens, then, from the same process, a read of /etc/shadow: streamed
  // after every one of them.
  constexpr long kOpens = 20000;
  std::string path = target.string();
  pid_t child = fork();
  if (child == 0) {
    for (long i = 0; i < kOpens; i++) close(open(path.c_str(), O_RDONLY));
    close(open("/etc/shadow", O_RDONLY));
    _exit(0);
  }
  auto detection = waitForDetection(daemon, child, std::chrono::seconds(60));
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(detection) << daemon.stderrText().substr(0, 20000);

  EXPECT_EQ(daemon.stop(), 0);
  json s = statsOf(daemon);
  ASSERT_FALSE(s.is_null()) << daemon.stderrText();
  long delivered = 0;
  std::istringstream lines(daemon.stdoutText());
  for (std::string line; std::getline(lines, line);) {
    json r = json::parse(line, nullptr, false);
    if (!r.is_object() || r["kind"] != "info" || !r.contains("file") || r["file"]["path"] != path ||
        r["process"]["pid"] != child)
      continue;
    EXPECT_EQ(r["count"], 1) << "streamed: one record per event";
    delivered += r["count"].get<long>();
  }
  // What did not arrive was counted: by the kernel when the ring buffer was
  // full, or by the host when the printer's queue was (or at the stop
  // bound). Nothing went to the activity maps.
  long dropped =
      s["ringbuf"]["dropped"].get<long>() + s["plugins"]["stdout"]["dropped"].get<long>();
  EXPECT_GE(delivered + dropped, kOpens) << delivered << " delivered, " << dropped << " dropped";
  EXPECT_GE(s["ringbuf"]["records"].get<long>(), delivered);
  EXPECT_EQ(s["maps"]["file_access"]["inserts"], 0);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace raqib::test
