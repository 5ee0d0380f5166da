#!/usr/bin/env bash
# Run one libFuzzer target (tests/fuzz/meson.build):
#   run_fuzzer.sh replay FUZZER SEEDS REGRESSIONS WORK
#     run every committed input once: seeds and inputs that once crashed it.
#   run_fuzzer.sh fuzz FUZZER SEEDS REGRESSIONS WORK SECONDS [libFuzzer options]
#     fuzz for SECONDS from those inputs. New inputs go to WORK/corpus, never
#     to the committed seeds; a crash is saved as WORK/crash-* and named below,
#     to be committed to REGRESSIONS once fixed.
set -euo pipefail
mode=$1 fuzzer=$2 seeds=$3 regressions=$4 work=$5
mkdir -p "$work/corpus"
inputs=("$seeds")
[ -d "$regressions" ] && inputs+=("$regressions")
case $mode in
  replay)
    exec "$fuzzer" -runs=0 "${inputs[@]}"
    ;;
  fuzz)
    seconds=$6
    shift 6
    status=0
    rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*  # a past run's
    # -timeout: an input that takes over 10 s is a hang; -rss_limit_mb bounds memory.
    "$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 "$@" \
      -artifact_prefix="$work/" "$work/corpus" "${inputs[@]}" || status=$?
    if [ $status -ne 0 ]; then
      for f in "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*; do
        [ -e "$f" ] && echo "found: $f; once fixed, commit it to $regressions/" >&2
      done
    fi
    exit $status
    ;;
  *)
    echo "run_fuzzer.sh: unknown mode '$mode'; expected replay or fuzz" >&2
    exit 2
    ;;
esac
