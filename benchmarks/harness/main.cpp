// raqib-bench: measures, side by side and in interleaved rounds, what no
// monitor, the no-op BPF floor, raqib (query and ring-buffer transports),
// bpftrace streaming every event and any peer command cost a load, and what
// each of them catches. See docs/benchmarks.md.
#include <sys/utsname.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "load.hpp"
#include "monitor.hpp"
#include "report.hpp"

namespace fs = std::filesystem;
using namespace raqib::bench;

namespace {

struct Options {
  std::string out = "bench-results";
  std::vector<std::string> modes{"baseline", "floor", "query", "ringbuf", "bpftrace"};
  std::vector<std::string> rates{"50000", "200000", "max"};
  std::vector<std::string> quotas{"none", "5", "10", "20"};
  std::vector<std::string> peers;  // NAME=COMMAND
  unsigned rounds = 5;
  double duration_s = 5;
  uint64_t ops_per_round = 0;
  unsigned needles = 5;
  unsigned workers = 2;
  unsigned flood_files = 0;
  unsigned exec_every = 5000, net_every = 50;
  std::string raqib, config, bpftrace = "/usr/bin/bpftrace";
  bool quick = false, no_plot = false;
};

struct ModeSpec {
  std::string mode;
  unsigned quota;
  std::string peer_command;
};

std::string commandOutput(const std::string &cmd) {
  std::string out;
  if (FILE *p = popen(cmd.c_str(), "r")) {
    char buf[256];
    while (fgets(buf, sizeof buf, p)) out += buf;
    pclose(p);
  }
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  return out;
}

RunInfo runInfo(int argc, char **argv) {
  RunInfo info;
  info.date = commandOutput("date -u +%Y-%m-%dT%H:%M:%SZ");
  utsname u{};
  uname(&u);
  std::string cpu = commandOutput("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2");
  info.machine = fmt::format("{} ({} CPUs,{}, kernel {})", u.nodename,
                             sysconf(_SC_NPROCESSORS_ONLN), cpu, u.release);
  fs::path src = RAQIB_SOURCE_ROOT;
  info.commit = commandOutput("git -C '" + src.string() + "' rev-parse --short HEAD 2>/dev/null");
  if (!commandOutput("git -C '" + src.string() + "' status --porcelain 2>/dev/null").empty())
    info.commit += " (with uncommitted changes)";
  for (int i = 0; i < argc; i++) info.command += (i ? " " : "") + std::string(argv[i]);
  return info;
}

// Whether each target of the issue is met, with the figure measured. In
// flood mode the load is built to overflow raqib's maps, so what it loses of
// the load is reported, not a target: every needle must still be detected.
std::string targets(const std::vector<Report::Cell> &cells, bool flood) {
  std::string out = "\nTargets:\n";
  auto verdict = [&](bool ok, const std::string &what) {
    out += fmt::format("- [{}] {}\n", ok ? "met" : "NOT MET", what);
  };
  const Report::Cell *floor50 = nullptr;
  for (const auto &c : cells)
    if (c.rate_label == "50000" && c.mode == "floor" && c.rounds) floor50 = &c;
  for (const auto &c : cells) {
    if (!c.rounds || (c.mode != "query" && c.mode != "ringbuf")) continue;
    std::string where = fmt::format("{} at {} events/s, quota {}", c.mode, c.rate_label,
                                    c.quota ? std::to_string(c.quota) + "%" : "none");
    if (c.rate_label == "50000" && c.quota == 0) {
      verdict(c.needles_detected == c.needles_planted,
              fmt::format("{}: every needle detected ({}/{})", where, c.needles_detected,
                          c.needles_planted));
      if (c.has_slowdown) {
        double floor_slow = floor50 && floor50->has_slowdown ? floor50->slowdown : 0;
        verdict(c.slowdown <= 0.03 && c.slowdown <= std::max(0.0, 1.5 * floor_slow),
                fmt::format("{}: slowdown {:+.1f}% within 3% and within 1.5x the floor's "
                            "({:+.1f}%)",
                            where, 100 * c.slowdown, 100 * floor_slow));
      }
      verdict(c.cpu_core_pct < 1.0,
              fmt::format("{}: user-space CPU {:.2f}% of a core, under 1%", where, c.cpu_core_pct));
      verdict(c.rss_mib < 64,
              fmt::format("{}: peak RSS {:.1f} MiB, under 64 MiB", where, c.rss_mib));
    }
    if (flood && c.rate_label == "max" && c.mode == "query" && (c.quota == 0 || c.quota == 5)) {
      verdict(c.needles_detected == c.needles_planted,
              fmt::format("{} (flood): every needle detected ({}/{}); {} of the flood not recorded",
                          where, c.needles_detected, c.needles_planted,
                          c.has_drops ? std::to_string(c.drops) : "unknown"));
    } else if (c.rate_label == "max" && c.mode == "query" && (c.quota == 0 || c.quota == 5)) {
      verdict(c.needles_detected == c.needles_planted && c.has_drops && c.drops == 0,
              fmt::format("{}: every needle detected ({}/{}) and nothing dropped ({})", where,
                          c.needles_detected, c.needles_planted,
                          c.has_drops ? std::to_string(c.drops) : "unknown"));
    }
    if (c.quota == 0 && c.bpf_vs_floor > 0)
      verdict(c.bpf_vs_floor <= 2.5,
              fmt::format("{}: kernel cost {:.0f} ns per program run, {:.2f}x the floor (<= 2.5x)",
                          where, c.bpf_ns_per_run, c.bpf_vs_floor));
  }
  return out;
}

}  // namespace

int run(int argc, char **argv);

int main(int argc, char **argv) {
  if (argc >= 2 && std::string(argv[1]) == kNeedleFlag) return needleMain();
  // An error the harness did not foresee ends the run with its reason, after
  // the destructors removed the temporary files and cgroups.
  try {
    return run(argc, argv);
  } catch (const std::exception &e) {
    std::cerr << "raqib-bench: " << e.what() << "\n";
    return 1;
  }
}

int run(int argc, char **argv) {
  Options o;
  CLI::App app{
      "raqib-bench: loss, load cost and CPU of raqib against no monitor, the no-op BPF "
      "floor and streaming monitors"};
  app.add_option("--out", o.out, "Results folder (table.md, summary.csv, rounds.csv, plot.png)");
  app.add_flag("--quick", o.quick,
               "Reduced matrix: 3 rounds x 3 s, rates 50000 and max, quotas none and 5%");
  app.add_option("--modes", o.modes, "baseline, floor, query, ringbuf, bpftrace")->delimiter(',');
  app.add_option("--rates", o.rates, "Target events/s, or max")->delimiter(',');
  app.add_option("--quotas", o.quotas, "CPU quotas for monitors, % of one core, or none")
      ->delimiter(',');
  app.add_option("--peer", o.peers, "NAME=COMMAND: another monitor, started before each load");
  app.add_option("--rounds", o.rounds, "Rounds per cell (interleaved)");
  app.add_option("--duration", o.duration_s, "Seconds of load per round");
  app.add_option("--ops-per-round", o.ops_per_round,
                 "Exact operations per round instead of --duration (needs a numeric rate)");
  app.add_option("--needles", o.needles, "Needles planted per round");
  app.add_option("--workers", o.workers, "Load threads");
  app.add_option("--flood", o.flood_files,
                 "Flood mode: file operations cycle through N distinct files (e.g. 100000) "
                 "instead of 64, more than raqib's maps hold in one drain interval");
  app.add_option("--exec-every", o.exec_every, "One operation in N execs /bin/true (0: never)");
  app.add_option("--net-every", o.net_every, "One operation in N is a loopback connect (0: never)");
  app.add_option("--raqib", o.raqib, "The raqib binary (default: ../core/raqib next to this one)");
  app.add_option("--config", o.config, "raqib configuration (default: its built-in one)");
  app.add_option("--bpftrace", o.bpftrace, "The bpftrace binary");
  app.add_flag("--no-plot", o.no_plot, "Do not run gnuplot");
  CLI11_PARSE(app, argc, argv);
  if (o.quick) {
    auto given = [&](const char *name) { return app.get_option(name)->count() > 0; };
    if (!given("--rounds")) o.rounds = 3;
    if (!given("--duration")) o.duration_s = 3;
    if (!given("--rates")) o.rates = {"50000", "max"};
    if (!given("--quotas")) o.quotas = {"none", "5"};
    if (!given("--needles")) o.needles = 3;
  }
  if (geteuid() != 0) {
    std::cerr << "raqib-bench needs root: it loads BPF programs and creates cgroups\n";
    return 1;
  }
  fs::path self = fs::read_symlink("/proc/self/exe");
  if (o.raqib.empty()) o.raqib = (self.parent_path() / ".." / "core" / "raqib").lexically_normal();
  std::error_code ec;
  fs::create_directories(o.out, ec);
  if (ec) {
    std::cerr << "raqib-bench: cannot create " << o.out << ": " << ec.message() << "\n";
    return 1;
  }
  o.out = fs::absolute(o.out);

  std::vector<ModeSpec> specs;
  std::vector<unsigned> quotas;
  for (const auto &q : o.quotas) quotas.push_back(q == "none" ? 0 : unsigned(std::stoul(q)));
  auto addMonitor = [&](const std::string &mode, const std::string &command) {
    for (unsigned q : quotas) specs.push_back({mode, q, command});
  };
  for (const auto &m : o.modes) {
    if (m == "baseline" || m == "floor")
      specs.push_back({m, 0, ""});  // no process of their own to confine
    else if (m == "query" || m == "ringbuf" || m == "bpftrace")
      addMonitor(m, "");
    else {
      std::cerr << "raqib-bench: unknown mode " << m
                << " (baseline, floor, query, ringbuf, bpftrace)\n";
      return 2;
    }
  }
  for (const auto &p : o.peers) {
    auto eq = p.find('=');
    if (eq == std::string::npos || eq == 0) {
      std::cerr << "raqib-bench: --peer wants NAME=COMMAND, got " << p << "\n";
      return 2;
    }
    addMonitor(p.substr(0, eq), p.substr(eq + 1));
  }
  if (o.ops_per_round)
    for (const auto &r : o.rates)
      if (r == "max") {
        std::cerr << "raqib-bench: --ops-per-round needs numeric --rates\n";
        return 2;
      }

  std::string reason;
  int stats_fd = enableBpfStats(reason);
  if (stats_fd < 0) std::cerr << "raqib-bench: " << reason << "; BPF costs will be missing\n";

  LoadFixture fixture(o.flood_files ? o.flood_files : 64);
  std::vector<RoundResult> results;
  std::map<std::string, std::string> unavailable;  // by mode+quota: skip after the first failure
  unsigned cell_id = 0;
  for (const auto &rate : o.rates) {
    double target = rate == "max" ? 0 : std::stod(rate);
    for (unsigned round = 1; round <= o.rounds; round++) {
      for (const auto &spec : specs) {
        RoundResult r;
        r.rate_label = rate;
        r.target_rate = target;
        r.mode = spec.mode;
        r.quota = spec.quota;
        r.round = round;
        std::string key = spec.mode + "/" + std::to_string(spec.quota);
        std::fprintf(stderr, "raqib-bench: rate %s round %u/%u: %s, quota %s\n", rate.c_str(),
                     round, o.rounds, spec.mode.c_str(),
                     spec.quota ? (std::to_string(spec.quota) + "%").c_str() : "none");
        if (unavailable.count(key)) {
          r.monitor.unavailable = unavailable[key];
          results.push_back(std::move(r));
          continue;
        }
        std::unique_ptr<Monitor> monitor;
        if (spec.mode == "baseline")
          monitor = makeBaseline();
        else if (spec.mode == "floor")
          monitor = makeFloor();
        else if (spec.mode == "query" || spec.mode == "ringbuf")
          monitor = makeRaqib({o.raqib, o.config}, spec.mode);
        else if (spec.mode == "bpftrace")
          monitor = makeBpftrace(o.bpftrace);
        else
          monitor = makePeer(spec.mode, spec.peer_command);

        std::unique_ptr<CpuQuota> quota;
        if (spec.quota) {
          quota = CpuQuota::create(spec.quota, reason);
          if (!quota) {
            unavailable[key] = r.monitor.unavailable = "CPU quota: " + reason;
            results.push_back(std::move(r));
            continue;
          }
        }
        if (std::string why = monitor->start(fixture); !why.empty()) {
          std::fprintf(stderr, "raqib-bench: %s unavailable: %s\n", spec.mode.c_str(), why.c_str());
          unavailable[key] = r.monitor.unavailable = why;
          results.push_back(std::move(r));
          continue;
        }
        // Confined once attached: start-up (verifier, /proc seeding) is not the load.
        if (quota && !quota->add(monitor->pid(), reason)) {
          unavailable[key] = r.monitor.unavailable = "CPU quota: " + reason;
          monitor->finish(r.load, r.monitor);
          r.monitor = MonitorReport{};
          r.monitor.unavailable = unavailable[key];
          results.push_back(std::move(r));
          continue;
        }

        LoadConfig lc;
        lc.rate = target;
        lc.duration_s = o.duration_s;
        lc.ops_total = o.ops_per_round;
        lc.workers = o.workers;
        lc.needles = o.needles;
        lc.exec_every = o.exec_every;
        lc.net_every = o.net_every;
        lc.needle_prefix = fmt::format("rqn{:05}", cell_id++ % 100000);

        const pid_t pid = monitor->pid();
        const auto ids = monitor->progIds();
        const BpfTotals bpf0 = bpfTotals(ids);
        const double cpu0 = pid > 0 ? processCpuSeconds(pid) : 0;
        r.load = fixture.run(lc);
        const double cpu1 = pid > 0 ? processCpuSeconds(pid) : 0;
        const BpfTotals bpf1 = bpfTotals(ids);
        // Something outside the harness stopped the monitor during the load
        // (a neighbour's cleanup, the OOM killer): this round measured nothing.
        if (monitor->diedEarly())
          r.monitor.invalid = spec.mode + " exited during the load without being asked to";
        else if (bpf1.run_cnt < bpf0.run_cnt)
          r.monitor.invalid = spec.mode + "'s BPF programs went away during the load";
        if (pid > 0) {
          r.monitor.has_process = true;
          r.monitor.cpu_s = cpu1 - cpu0;
          r.monitor.rss_peak_kib = processPeakRssKib(pid);
        }
        if (!ids.empty() && stats_fd >= 0) {
          r.monitor.has_bpf = true;
          r.monitor.bpf_run_ns = bpf1.run_ns - bpf0.run_ns;
          r.monitor.bpf_run_cnt = bpf1.run_cnt - bpf0.run_cnt;
        }
        monitor->finish(r.load, r.monitor);
        // Work the monitor left for after the load (its final drain) is its cost too.
        if (double exit_cpu = monitor->exitCpuSeconds(); r.monitor.has_process && exit_cpu >= 0)
          r.monitor.cpu_s = exit_cpu - cpu0;
        if (!r.monitor.log.empty()) {
          fs::create_directories(o.out + "/logs");
          std::ofstream(
              fmt::format("{}/logs/{}-{}-q{}-r{}.log", o.out, rate, spec.mode, spec.quota, round))
              << r.monitor.log;
        }
        monitor.reset();
        if (quota) r.monitor.throttled_periods = quota->throttledPeriods();
        quota.reset();  // the monitor has exited: the cgroup is empty
        results.push_back(std::move(r));
      }
    }
  }
  if (stats_fd >= 0) close(stats_fd);

  Report report(std::move(results));
  RunInfo info = runInfo(argc, argv);
  std::string table = report.markdown(info) + targets(report.cells(), o.flood_files > 0);
  std::cout << table << std::flush;
  std::ofstream(o.out + "/table.md") << table;
  std::ofstream(o.out + "/summary.csv") << report.summaryCsv();
  std::ofstream(o.out + "/rounds.csv") << report.roundsCsv();
  if (!o.no_plot) {
    if (std::string why = report.plot(o.out); !why.empty())
      std::cerr << "raqib-bench: no plot: " << why << "\n";
  }
  std::cerr << "raqib-bench: results in " << o.out << "\n";
  return 0;
}
