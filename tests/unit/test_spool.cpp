// The printers' on-disk spool: order, acknowledgement, survival across a
// reopen (with a line cut short by a crash), and dropping the oldest segment
// when full, counted.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "daemon_process.hpp"
#include "spool.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;
using raqib::printers::Spool;

std::string spoolDir(const TempFile &scratch) {
  return fs::path(scratch.path()).parent_path() / "a" / "spool";
}

std::string record(int i) {
  return fmt::format("{{\"n\":{},\"pad\":\"{}\"}}", i, std::string(100, 'x'));
}

TEST(Spool, KeepsOrderAcrossBatchesAndReopens) {
  TempFile scratch("unused", "");
  {
    Spool spool(spoolDir(scratch), 1 << 20);
    for (int i = 0; i < 10; i++) EXPECT_EQ(spool.append(record(i)), 0u);
    auto batch = spool.peek(4);
    ASSERT_EQ(batch.records.size(), 4u);
    EXPECT_EQ(batch.records[0], record(0));
    spool.ack(batch);
    EXPECT_EQ(spool.pending(), 6u);
    spool.sync();
  }
  // A crash in the middle of an append leaves part of a line: not a record.
  std::ofstream(fmt::format("{}/{:020}.seg", spoolDir(scratch), 0), std::ios::app) << "{\"cut";
  Spool spool(spoolDir(scratch), 1 << 20);
  EXPECT_EQ(spool.pending(), 6u);
  auto batch = spool.peek(100);
  ASSERT_EQ(batch.records.size(), 6u);
  for (int i = 0; i < 6; i++) EXPECT_EQ(batch.records[i], record(i + 4));
  spool.ack(batch);
  EXPECT_TRUE(spool.empty());
  spool.append(record(10));  // not glued to the cut line
  EXPECT_EQ(spool.peek(100).records, std::vector<std::string>{record(10)});
  EXPECT_EQ((fs::status(spoolDir(scratch)).permissions() & fs::perms::all), fs::perms::owner_all);
}

TEST(Spool, AFullSpoolDropsTheOldestSegmentAndCountsIt) {
  TempFile scratch("unused", "");
  constexpr uint64_t kMax = 8192;  // segments of 1024 bytes: about 8 records of 115 bytes
  Spool spool(spoolDir(scratch), kMax);
  uint64_t dropped = 0;
  constexpr int kRecords = 200;
  for (int i = 0; i < kRecords; i++) dropped += spool.append(record(i));
  EXPECT_EQ(dropped, spool.dropped());
  EXPECT_EQ(spool.dropped() + spool.pending(), uint64_t(kRecords));
  auto batch = spool.peek(kRecords);
  ASSERT_EQ(batch.records.size(), spool.pending());
  for (size_t i = 0; i < batch.records.size(); i++)  // the newest, in order
    EXPECT_EQ(batch.records[i], record(int(kRecords - batch.records.size() + i)));
  uint64_t bytes = 0;
  for (const auto &entry : fs::directory_iterator(spoolDir(scratch)))
    if (entry.path().extension() == ".seg") bytes += entry.file_size();
  EXPECT_LE(bytes, kMax);
}

}  // namespace
}  // namespace raqib::test
