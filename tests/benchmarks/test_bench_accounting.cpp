// raqib-bench's own accounting: a tiny run with a known number of operations
// and needles reports exactly those, and raqib (query transport) finds every
// needle it planted.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "daemon_process.hpp"

namespace raqib::test {
namespace {

namespace fs = std::filesystem;
using Row = std::map<std::string, std::string>;

constexpr int kRounds = 2;
constexpr int kNeedles = 3;
constexpr int kOps = 3000;  // per round
constexpr int kWorkers = 2;
constexpr int kExecEvery = 500;
constexpr int kNetEvery = 50;

std::vector<std::string> splitCsvLine(const std::string &line) {
  std::vector<std::string> fields(1);
  bool quoted = false;
  for (size_t i = 0; i < line.size(); i++) {
    char c = line[i];
    if (quoted && c == '"' && i + 1 < line.size() && line[i + 1] == '"') {
      fields.back() += '"';
      i++;
    } else if (c == '"') {
      quoted = !quoted;
    } else if (c == ',' && !quoted) {
      fields.emplace_back();
    } else {
      fields.back() += c;
    }
  }
  return fields;
}

std::vector<Row> readCsv(const std::string &path) {
  std::vector<Row> rows;
  std::vector<std::string> lines = readLines(path);
  if (lines.empty()) return rows;
  auto header = splitCsvLine(lines[0]);
  for (size_t i = 1; i < lines.size(); i++) {
    auto fields = splitCsvLine(lines[i]);
    EXPECT_EQ(fields.size(), header.size()) << path << " line " << i + 1 << ": " << lines[i];
    Row row;
    for (size_t f = 0; f < header.size() && f < fields.size(); f++) row[header[f]] = fields[f];
    rows.push_back(row);
  }
  return rows;
}

// What one worker does with its share of the operations, as the harness counts it.
struct Mix {
  int exec = 0, net = 0, file = 0;
};
Mix expectedMix() {
  Mix m;
  for (int w = 0; w < kWorkers; w++) {
    int share = kOps / kWorkers + (w < kOps % kWorkers);
    for (int i = 0; i < share; i++) {
      if (i % kExecEvery == kExecEvery - 1)
        m.exec++;
      else if (i % kNetEvery == 0)
        m.net++;
      else
        m.file++;
    }
  }
  return m;
}

TEST(BenchAccounting, KnownEventsAndNeedlesAreReportedExactly) {
  char tmpl[] = "/tmp/raqib-bench-test-XXXXXX";
  ASSERT_NE(mkdtemp(tmpl), nullptr);
  const std::string out = tmpl;
  struct RemoveAfter {
    std::string dir;
    ~RemoveAfter() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } remove_after{out};
  ChildResult run = runChild({RAQIB_BENCH_BINARY,
                              "--out",
                              out,
                              "--modes",
                              "baseline,query",
                              "--rates",
                              "2000",
                              "--quotas",
                              "none",
                              "--rounds",
                              std::to_string(kRounds),
                              "--ops-per-round",
                              std::to_string(kOps),
                              "--needles",
                              std::to_string(kNeedles),
                              "--workers",
                              std::to_string(kWorkers),
                              "--exec-every",
                              std::to_string(kExecEvery),
                              "--net-every",
                              std::to_string(kNetEvery),
                              "--raqib",
                              raqibBinary(),
                              "--no-plot"});
  ASSERT_TRUE(WIFEXITED(run.status) && WEXITSTATUS(run.status) == 0);

  const Mix mix = expectedMix();
  auto rounds = readCsv(out + "/rounds.csv");
  ASSERT_EQ(rounds.size(), 2u * kRounds);
  for (const Row &r : rounds) {
    SCOPED_TRACE(r.at("mode") + " round " + r.at("round"));
    EXPECT_EQ(r.at("unavailable"), "");
    EXPECT_EQ(r.at("invalid"), "");
    EXPECT_EQ(r.at("events"), std::to_string(kOps));
    EXPECT_EQ(r.at("file_ops"), std::to_string(mix.file));
    EXPECT_EQ(r.at("exec_ops"), std::to_string(mix.exec));
    EXPECT_EQ(r.at("net_ops"), std::to_string(mix.net));
    EXPECT_EQ(r.at("failed_ops"), "0");
    EXPECT_EQ(r.at("needles_planted"), std::to_string(kNeedles));
    if (r.at("mode") == "query") {
      EXPECT_EQ(r.at("needles_detected"), std::to_string(kNeedles));
      EXPECT_EQ(r.at("drops"), "0");
    } else {
      EXPECT_EQ(r.at("needles_detected"), "");  // no monitor: nothing to detect with
    }
  }

  auto summary = readCsv(out + "/summary.csv");
  ASSERT_EQ(summary.size(), 2u);
  for (const Row &c : summary) {
    SCOPED_TRACE(c.at("mode"));
    EXPECT_EQ(c.at("rounds"), std::to_string(kRounds));
    EXPECT_EQ(c.at("events"), std::to_string(kRounds * kOps));
    EXPECT_EQ(c.at("needles_planted"), std::to_string(kRounds * kNeedles));
  }
  EXPECT_EQ(summary[1].at("mode"), "query");
  EXPECT_EQ(summary[1].at("needles_detected"), std::to_string(kRounds * kNeedles));

  std::ifstream table(out + "/table.md");
  std::stringstream text;
  text << table.rdbuf();
  EXPECT_NE(text.str().find("| 2000 | query | none |"), std::string::npos) << text.str();
  EXPECT_NE(text.str().find(std::to_string(kRounds * kNeedles) + "/" +
                            std::to_string(kRounds * kNeedles)),
            std::string::npos);
}

}  // namespace
}  // namespace raqib::test
