// Every record the e2e suite's daemons printed on stdout (collected by
// DaemonProcess into RAQIB_TEST_RECORDS_DIR) validates against
// docs/event.schema.json. Runs last in the suite; the files it validated are
// removed, so a later partial run validates only its own. Run alone, it
// starts a daemon of its own first.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;
using namespace std::chrono_literals;

TEST(RecordsSchema, EveryRecordTheSuitePrintedIsValid) {
  const char *dir = std::getenv("RAQIB_TEST_RECORDS_DIR");
  ASSERT_NE(dir, nullptr) << "run through meson test";
  std::error_code ec;
  auto collected = [&] {
    std::vector<fs::path> paths;
    for (const auto &entry : fs::directory_iterator(dir, ec))
      if (entry.path().extension() == ".jsonl") paths.push_back(entry.path());
    return paths;
  };
  if (collected().empty()) {
    // Run alone: a daemon of its own prints every kind it can here (info
    // records of each type, a detection), left in dir when it is destroyed.
    DaemonProcess daemon({"--events", "all", "--format", "json"});
    ASSERT_TRUE(daemon.waitReady()) << daemon.stderrText();
    ChildResult reader = runChild({"/usr/bin/cat", "/etc/shadow"});
    ASSERT_TRUE(daemon.waitForStdout(
        [&](const std::string &l) {
          return l.find("\"kind\":\"detection\"") != l.npos &&
                 l.find(fmt::format("\"pid\":{}", reader.pid)) != l.npos;
        },
        30s))
        << daemon.stderrText();
    ASSERT_EQ(daemon.stop(), 0) << daemon.stderrText();
  }
  std::vector<fs::path> paths = collected();
  ASSERT_FALSE(paths.empty()) << "no records collected in " << dir;
  std::string files;
  for (const auto &p : paths) files += fmt::format(" '{}'", p.string());
  std::string log;
  // Every record; of them every detection, health and tamper record and the
  // first 300 info records of each type per daemon also by the reference
  // validator (--events all prints one info record per behaviour, and the
  // reference checks a few hundred a second).
  int status = shell(fmt::format("/usr/bin/python3 '{}/tools/validate_records.py' "
                                 "--reference-per-file 300 "
                                 "'{}/docs/event.schema.json'{}",
                                 RAQIB_SOURCE_ROOT, RAQIB_SOURCE_ROOT, files),
                     log);
  EXPECT_EQ(status, 0) << log;
  // The counts by kind ("detection=12 health=3 ..."): something was checked.
  EXPECT_NE(log.find('='), std::string::npos) << log;
  std::cout << paths.size() << " daemons' records: " << log;
  if (status == 0)
    for (const auto &p : paths) fs::remove(p, ec);
}

}  // namespace
}  // namespace raqib::test
