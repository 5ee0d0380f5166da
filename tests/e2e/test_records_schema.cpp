// Every record the e2e suite's daemons printed on stdout (collected by
// DaemonProcess into RAQIB_TEST_RECORDS_DIR) validates against
// docs/event.schema.json. Runs last in the suite; the files it validated are
// removed, so a later partial run validates only its own.
#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>

#include <fmt/format.h>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;

TEST(RecordsSchema, EveryRecordTheSuitePrintedIsValid) {
  const char *dir = std::getenv("RAQIB_TEST_RECORDS_DIR");
  ASSERT_NE(dir, nullptr) << "run through meson test";
  std::string files;
  std::vector<fs::path> paths;
  std::error_code ec;
  for (const auto &entry : fs::directory_iterator(dir, ec))
    if (entry.path().extension() == ".jsonl") {
      files += fmt::format(" '{}'", entry.path().string());
      paths.push_back(entry.path());
    }
  if (paths.empty()) GTEST_SKIP() << "no e2e test ran before this one";
  std::string log;
  // Every detection, health and tamper record; info records (--events all
  // prints one per behaviour) up to 300 of each type per daemon.
  int status = shell(fmt::format("python3 '{}/tools/validate_records.py' --info-per-file 300 "
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
