#!/usr/bin/env bash
# The benchmarks in one command (root; installs what is missing, builds):
#   ./benchmarks/run.sh [--quick] [--out DIR] [more raqib-bench options]
# First the micro-benchmarks (raqib-microbench), then the load harness
# (raqib-bench): baseline, the no-op BPF floor, raqib query and ring-buffer
# transports, bpftrace, and any --peer NAME=COMMAND, under CPU quotas.
# Results (table.md, summary.csv, rounds.csv, plot.png, micro.json) go to
# DIR, by default build/bench-results/<UTC time>. See docs/benchmarks.md.
set -euo pipefail
self="$(cd "$(dirname "$0")" && pwd)/$(basename "$0")"
cd "$(dirname "$self")/.."
source scripts/setup.sh
raqib_need_root "$self" "$@"

out="build/bench-results/$(date -u +%Y%m%dT%H%M%SZ)"
quick=0
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --out=*) out="${1#--out=}"; shift ;;
    --quick) quick=1; args+=("$1"); shift ;;
    *) args+=("$1"); shift ;;
  esac
done

raqib_install_packages bpftrace gnuplot-nox
raqib_mount_filesystems
if [ -f build/build.ninja ] && meson configure build | grep -Eq '^ *benchmarks +false'; then
  say "turning the benchmarks option on in build/"
  meson configure build -Dbenchmarks=true
fi
raqib_build
mkdir -p "$out"

say "micro-benchmarks"
micro_time=()
[ "$quick" -eq 1 ] && micro_time=(--benchmark_min_time=0.05)
./build/benchmarks/raqib-microbench "${micro_time[@]}" \
  --benchmark_out="$out/micro.json" --benchmark_out_format=json | tee "$out/micro.txt"

say "load harness (raqib-bench ${args[*]:-})"
./build/benchmarks/raqib-bench --out "$out" "${args[@]}"
say "results in $out"
