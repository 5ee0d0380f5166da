// Summaries of raqib-bench's rounds: a markdown table, CSV files and a plot.
#pragma once

#include <string>
#include <vector>

#include "load.hpp"
#include "monitor.hpp"

namespace raqib::bench {

// One round of one (rate, mode, quota) cell.
struct RoundResult {
  std::string rate_label;  // "50000" or "max"
  double target_rate = 0;  // 0: as fast as possible
  std::string mode;
  unsigned quota = 0;  // percent of one core; 0: none
  unsigned round = 0;
  LoadResult load;
  MonitorReport monitor;
};

struct RunInfo {
  std::string date, machine, commit, command;
};

class Report {
 public:
  explicit Report(std::vector<RoundResult> rounds) : rounds_(std::move(rounds)) {}
  std::string markdown(const RunInfo &info) const;
  // Every round, one row each.
  std::string roundsCsv() const;
  // One row per cell: the medians and spreads the table shows.
  std::string summaryCsv() const;
  // Write plot.dat and plot.gp into dir and run gnuplot; "" or why not.
  std::string plot(const std::string &dir) const;

  struct Cell;
  std::vector<Cell> cells() const;

 private:
  std::vector<RoundResult> rounds_;
};

struct Report::Cell {
  std::string rate_label, mode;
  double target_rate = 0;
  unsigned quota = 0;
  unsigned rounds = 0;
  unsigned discarded = 0;  // rounds left out: the monitor did not live through the load
  std::string unavailable, notes;
  double events_s = 0, events_s_spread = 0;  // median, half the range as a fraction
  double op_ns = 0, op_cpu_ns = 0;
  uint64_t events = 0;
  bool has_slowdown = false;
  double slowdown = 0;  // fraction against baseline at the same rate
  bool has_bpf = false;
  double bpf_ns_per_run = 0;
  double bpf_vs_floor = 0;  // 0 when no floor
  bool has_process = false;
  double cpu_core_pct = 0, cpu_s_per_mevent = 0, rss_mib = 0;
  bool detects_needles = false;
  unsigned needles_planted = 0, needles_detected = 0;
  double latency_p50_ms = 0, latency_p99_ms = 0;
  bool has_drops = false;
  uint64_t drops = 0;
  bool has_stream = false;
  uint64_t stream_expected = 0, stream_seen = 0;
};

}  // namespace raqib::bench
