#include "report.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <fmt/format.h>
#include <fmt/ranges.h>

namespace raqib::bench {

namespace {

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t n = v.size();
  return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

// Nearest-rank percentile.
double percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  size_t rank = size_t(std::ceil(p / 100 * v.size()));
  return v[std::clamp<size_t>(rank, 1, v.size()) - 1];
}

std::string quotaName(unsigned q) {
  return q ? std::to_string(q) + "%" : "none";
}

std::string csvField(const std::string &s) {
  if (s.find_first_of(",\"\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char c : s) out += c == '"' ? std::string("\"\"") : std::string(1, c);
  return out + "\"";
}

}  // namespace

std::vector<Report::Cell> Report::cells() const {
  // Cells in the order they first ran, rates kept together.
  std::vector<std::tuple<std::string, std::string, unsigned>> order;
  std::map<std::tuple<std::string, std::string, unsigned>, std::vector<const RoundResult *>> by;
  for (const auto &r : rounds_) {
    auto key = std::make_tuple(r.rate_label, r.mode, r.quota);
    if (!by.count(key)) order.push_back(key);
    by[key].push_back(&r);
  }
  std::vector<Cell> cells;
  for (const auto &key : order) {
    const auto &rs = by[key];
    Cell c;
    std::tie(c.rate_label, c.mode, c.quota) = key;
    c.target_rate = rs[0]->target_rate;
    std::vector<double> rates, op_ns, op_cpu, bpf, cpu_pct, cpu_per_m, rss, lat;
    std::set<std::string> notes;
    for (const RoundResult *r : rs) {
      if (!r->monitor.unavailable.empty()) {
        c.unavailable = r->monitor.unavailable;
        continue;
      }
      if (!r->monitor.invalid.empty()) {
        c.discarded++;
        notes.insert("round " + std::to_string(r->round) + " discarded: " + r->monitor.invalid);
        continue;
      }
      for (size_t at = 0; at < r->monitor.note.size();) {  // "; "-separated, each once
        size_t end = r->monitor.note.find("; ", at);
        if (end == std::string::npos) end = r->monitor.note.size();
        notes.insert(r->monitor.note.substr(at, end - at));
        at = end + 2;
      }
      c.rounds++;
      const LoadResult &l = r->load;
      const MonitorReport &m = r->monitor;
      c.events += l.ops;
      rates.push_back(l.wall_s > 0 ? l.ops / l.wall_s : 0);
      op_ns.push_back(l.op_ns_mean);
      op_cpu.push_back(l.op_cpu_ns_mean);
      if (m.has_bpf && m.bpf_run_cnt) {
        c.has_bpf = true;
        bpf.push_back(double(m.bpf_run_ns) / m.bpf_run_cnt);
      }
      if (m.has_process) {
        c.has_process = true;
        cpu_pct.push_back(l.wall_s > 0 ? 100 * m.cpu_s / l.wall_s : 0);
        cpu_per_m.push_back(l.ops ? m.cpu_s * 1e6 / l.ops : 0);
        rss.push_back(m.rss_peak_kib / 1024.0);
      }
      for (const auto &n : l.needles) c.needles_planted += n.planted;
      if (m.detects_needles) {
        c.detects_needles = true;
        c.needles_detected += m.needles_detected;
        lat.insert(lat.end(), m.latencies_ms.begin(), m.latencies_ms.end());
      }
      if (m.has_drops) {
        c.has_drops = true;
        c.drops += m.drops;
      }
      if (m.has_stream) {
        c.has_stream = true;
        c.stream_expected += m.stream_expected;
        c.stream_seen += m.stream_seen;
      }
    }
    if (c.rounds) c.unavailable.clear();
    for (const auto &n : notes) c.notes += (c.notes.empty() ? "" : "; ") + n;
    c.events_s = median(rates);
    if (!rates.empty() && c.events_s > 0)
      c.events_s_spread = (*std::max_element(rates.begin(), rates.end()) -
                           *std::min_element(rates.begin(), rates.end())) /
                          2 / c.events_s;
    c.op_ns = median(op_ns);
    c.op_cpu_ns = median(op_cpu);
    c.bpf_ns_per_run = median(bpf);
    c.cpu_core_pct = median(cpu_pct);
    c.cpu_s_per_mevent = median(cpu_per_m);
    c.rss_mib = rss.empty() ? 0 : *std::max_element(rss.begin(), rss.end());
    c.latency_p50_ms = percentile(lat, 50);
    c.latency_p99_ms = percentile(lat, 99);
    cells.push_back(std::move(c));
  }
  // Slowdown against the baseline and kernel cost against the floor, per rate.
  for (auto &c : cells) {
    if (!c.rounds) continue;
    for (const auto &b : cells) {
      if (b.rate_label != c.rate_label || !b.rounds) continue;
      if (b.mode == "baseline" && c.mode != "baseline") {
        c.has_slowdown = true;
        // CPU the workload spends per operation (its system time includes the
        // BPF programs it triggers); wall time on a shared machine is noisier.
        c.slowdown = b.op_cpu_ns > 0 ? c.op_cpu_ns / b.op_cpu_ns - 1 : 0;
      }
      if (b.mode == "floor" && b.has_bpf && c.has_bpf && b.bpf_ns_per_run > 0)
        c.bpf_vs_floor = c.bpf_ns_per_run / b.bpf_ns_per_run;
    }
  }
  return cells;
}

std::string Report::markdown(const RunInfo &info) const {
  std::string out = fmt::format("raqib-bench, {} on {}, commit {}\n`{}`\n\n", info.date,
                                info.machine, info.commit, info.command);
  out +=
      "| rate | mode | CPU quota | events/s (±spread) | slowdown | BPF ns/run (× floor) | "
      "CPU % of a core | CPU s per M events | peak RSS MiB | needles found/planted | "
      "dropped or lost | latency p50 / p99 ms | note |\n"
      "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |\n";
  for (const auto &c : cells()) {
    if (!c.rounds) {
      out += fmt::format(
          "| {} | {} | {} | {} |||||||||\n", c.rate_label, c.mode, quotaName(c.quota),
          c.unavailable.empty() ? "no valid round: " + c.notes : "unavailable: " + c.unavailable);
      continue;
    }
    std::string slow = c.has_slowdown ? fmt::format("{:+.1f}%", 100 * c.slowdown) : "—";
    std::string bpf = c.has_bpf ? fmt::format("{:.0f}", c.bpf_ns_per_run) : "—";
    if (c.bpf_vs_floor > 0 && c.mode != "floor") bpf += fmt::format(" (×{:.2f})", c.bpf_vs_floor);
    std::string cpu = c.has_process ? fmt::format("{:.2f}", c.cpu_core_pct) : "—";
    std::string cpu_m = c.has_process ? fmt::format("{:.3f}", c.cpu_s_per_mevent) : "—";
    std::string rss = c.has_process ? fmt::format("{:.1f}", c.rss_mib) : "—";
    std::string needles =
        c.detects_needles ? fmt::format("{}/{}", c.needles_detected, c.needles_planted) : "—";
    if (c.detects_needles && c.needles_detected < c.needles_planted) needles += " **MISSED**";
    std::string drops = c.has_drops ? std::to_string(c.drops) : "—";
    if (c.has_stream && c.stream_expected) {
      uint64_t missing = c.stream_expected > c.stream_seen ? c.stream_expected - c.stream_seen : 0;
      drops = fmt::format("{} events ({:.1f}%) not printed{}", missing,
                          100.0 * missing / c.stream_expected,
                          c.has_drops ? fmt::format(", {} reported lost", c.drops) : "");
    }
    std::string lat = c.detects_needles && c.needles_detected
                          ? fmt::format("{:.0f} / {:.0f}", c.latency_p50_ms, c.latency_p99_ms)
                          : "—";
    out += fmt::format(
        "| {} | {} | {} | {:.0f} (±{:.1f}%) | {} | {} | {} | {} | {} | {} | {} | {} | {} |\n",
        c.rate_label, c.mode, quotaName(c.quota), c.events_s, 100 * c.events_s_spread, slow, bpf,
        cpu, cpu_m, rss, needles, drops, lat, c.notes);
  }
  return out;
}

std::string Report::roundsCsv() const {
  std::string out =
      "rate,target_rate,mode,quota_pct,round,unavailable,invalid,events,file_ops,exec_ops,net_ops,"
      "failed_ops,wall_s,op_ns_mean,op_cpu_ns_mean,bpf_run_ns,bpf_run_cnt,cpu_s,throttled_periods,"
      "rss_peak_kib,"
      "needles_planted,"
      "needles_detected,latencies_ms,drops,stream_expected,stream_seen,note\n";
  for (const auto &r : rounds_) {
    const LoadResult &l = r.load;
    const MonitorReport &m = r.monitor;
    unsigned planted = 0;
    for (const auto &n : l.needles) planted += n.planted;
    std::string lat;
    for (double v : m.latencies_ms) lat += (lat.empty() ? "" : " ") + fmt::format("{:.1f}", v);
    const std::vector<std::string> row{
        r.rate_label,
        fmt::format("{}", r.target_rate),
        r.mode,
        std::to_string(r.quota),
        std::to_string(r.round),
        csvField(m.unavailable),
        csvField(m.invalid),
        std::to_string(l.ops),
        std::to_string(l.file_ops),
        std::to_string(l.exec_ops),
        std::to_string(l.net_ops),
        std::to_string(l.failed_ops),
        fmt::format("{:.3f}", l.wall_s),
        fmt::format("{:.0f}", l.op_ns_mean),
        fmt::format("{:.0f}", l.op_cpu_ns_mean),
        std::to_string(m.bpf_run_ns),
        std::to_string(m.bpf_run_cnt),
        fmt::format("{:.4f}", m.cpu_s),
        std::to_string(m.throttled_periods),
        std::to_string(m.rss_peak_kib),
        std::to_string(planted),
        m.detects_needles ? std::to_string(m.needles_detected) : "",
        lat,
        m.has_drops ? std::to_string(m.drops) : "",
        m.has_stream ? std::to_string(m.stream_expected) : "",
        m.has_stream ? std::to_string(m.stream_seen) : "",
        csvField(m.note),
    };
    out += fmt::format("{}\n", fmt::join(row, ","));
  }
  return out;
}

std::string Report::summaryCsv() const {
  std::string out =
      "rate,mode,quota_pct,rounds,discarded_rounds,unavailable,events,events_per_s,events_per_s_"
      "spread,slowdown,"
      "bpf_ns_per_run,bpf_vs_floor,cpu_core_pct,cpu_s_per_mevent,rss_peak_mib,needles_planted,"
      "needles_detected,latency_p50_ms,latency_p99_ms,drops,stream_expected,stream_seen,notes\n";
  for (const auto &c : cells())
    out += fmt::format(
        "{},{},{},{},{},{},{},{:.0f},{:.4f},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
        c.rate_label, c.mode, c.quota, c.rounds, c.discarded, csvField(c.unavailable), c.events,
        c.events_s, c.events_s_spread, c.has_slowdown ? fmt::format("{:.4f}", c.slowdown) : "",
        c.has_bpf ? fmt::format("{:.1f}", c.bpf_ns_per_run) : "",
        c.bpf_vs_floor > 0 ? fmt::format("{:.3f}", c.bpf_vs_floor) : "",
        c.has_process ? fmt::format("{:.3f}", c.cpu_core_pct) : "",
        c.has_process ? fmt::format("{:.4f}", c.cpu_s_per_mevent) : "",
        c.has_process ? fmt::format("{:.1f}", c.rss_mib) : "", c.needles_planted,
        c.detects_needles ? std::to_string(c.needles_detected) : "",
        c.detects_needles ? fmt::format("{:.1f}", c.latency_p50_ms) : "",
        c.detects_needles ? fmt::format("{:.1f}", c.latency_p99_ms) : "",
        c.has_drops ? std::to_string(c.drops) : "",
        c.has_stream ? std::to_string(c.stream_expected) : "",
        c.has_stream ? std::to_string(c.stream_seen) : "", csvField(c.notes));
  return out;
}

std::string Report::plot(const std::string &dir) const {
  // One data block per mode and quota: measured events/s, % of needles caught,
  // % of the load's events printed (streaming), CPU % of a core.
  std::map<std::string, std::vector<const Cell *>> series;
  auto all = cells();
  std::vector<std::string> names;
  for (const auto &c : all) {
    if (!c.rounds || c.mode == "baseline") continue;
    std::string name = c.mode + (c.quota ? " @" + std::to_string(c.quota) + "%" : "");
    if (!series.count(name)) names.push_back(name);
    series[name].push_back(&c);
  }
  if (names.empty()) return "nothing to plot";
  std::ofstream dat(dir + "/plot.dat");
  for (const auto &name : names) {
    auto cs = series[name];
    std::sort(cs.begin(), cs.end(), [](auto *a, auto *b) { return a->events_s < b->events_s; });
    dat << "# " << name << "\n";
    for (const Cell *c : cs) {
      double caught = c->detects_needles && c->needles_planted
                          ? 100.0 * c->needles_detected / c->needles_planted
                          : NAN;
      double printed =
          c->has_stream && c->stream_expected
              ? 100.0 * std::min(c->stream_seen, c->stream_expected) / c->stream_expected
              : NAN;
      double cpu = c->has_process ? c->cpu_core_pct : NAN;
      dat << fmt::format("{:.0f} {} {} {}\n", c->events_s, caught, printed, cpu);
    }
    dat << "\n\n";
  }
  dat.close();
  std::ofstream gp(dir + "/plot.gp");
  gp << "set terminal pngcairo size 1400,600 noenhanced\n"
     << "set output '" << dir << "/plot.png'\n"
     << "set datafile missing 'nan'\n"
     << "set multiplot layout 1,2 title 'raqib-bench: detection and CPU against event rate'\n"
     << "set key bottom left\nset grid\nset xlabel 'events/s (measured)'\n"
     << "set ylabel 'needles caught, %'\nset yrange [0:105]\n"
     << "plot ";
  bool any = false;
  for (size_t i = 0; i < names.size(); i++) {
    if (!series[names[i]][0]->detects_needles) continue;
    gp << (any ? ", \\\n     " : "") << "'" << dir << "/plot.dat' index " << i
       << " using 1:2 with linespoints lc " << i + 1 << " title '" << names[i] << "'";
    any = true;
  }
  if (!any) gp << "0 notitle";
  gp << "\nset ylabel 'monitor CPU, % of one core'\nset yrange [0:*]\nset key top left\nplot ";
  bool first = true;
  for (size_t i = 0; i < names.size(); i++) {
    if (!series[names[i]][0]->has_process) continue;
    gp << (first ? "" : ", \\\n     ") << "'" << dir << "/plot.dat' index " << i
       << " using 1:4 with linespoints lc " << i + 1 << " title '" << names[i] << "'";
    first = false;
  }
  if (first) gp << "0 notitle";
  gp << "\nunset multiplot\n";
  gp.close();
  std::string cmd = "gnuplot '" + dir + "/plot.gp' 2>&1";
  FILE *p = popen(cmd.c_str(), "r");
  if (!p) return "could not run gnuplot";
  std::string msg;
  char buf[256];
  while (fgets(buf, sizeof buf, p)) msg += buf;
  int status = pclose(p);
  if (status != 0) return "gnuplot failed: " + msg;
  return "";
}

}  // namespace raqib::bench
