#!/usr/bin/env bash
# Set up this machine (Debian 12) and run every test (docs/testing.md):
#   build/       unit and end-to-end tests on the real kernel
#   build-asan/  the same under AddressSanitizer + UndefinedBehaviorSanitizer
#   build-tsan/  the unit tests of threaded code under ThreadSanitizer
#   build-fuzz/  each libFuzzer target: its committed inputs, then a fixed time
# ./test.sh --quick (or RAQIB_QUICK=1) runs build/ only. Other arguments go to
# `meson test` of build/ and, as they pick tests of that build, imply --quick.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
raqib_need_root "$0" "$@"

quick=${RAQIB_QUICK:-0}
args=()
for a in "$@"; do
  if [ "$a" = --quick ]; then quick=1; else args+=("$a"); fi
done
[ ${#args[@]} -gt 0 ] && quick=1

raqib_install_packages
raqib_mount_filesystems
raqib_create_user
status=0
logs=()
# suite TITLE DIR BUILD [meson test arguments]: BUILD (a command) builds DIR,
# then its tests run. A failed build or test fails the run but the next
# suite still runs, and the summary counts every one.
suite() {
  local title=$1 dir=$2 build=$3
  shift 3
  rm -f "$dir/meson-logs/testlog.json"  # a suite that does not run must not count the last run
  rm -rf "$dir/tests/records"  # records_schema validates this run's records only
  logs+=("$title=$dir/meson-logs/testlog.json")
  if ! $build; then
    status=1
    return
  fi
  say "running $title"
  meson test -C "$dir" --no-rebuild --print-errorlogs "$@" || status=1
}

# Sanitized plugins are loaded into a sanitized daemon, so everything in a
# sanitizer build dir gets the flags. b_lundef=false: the plugins leave the
# sanitizer runtime's symbols to the daemon that loads them. -O1 and line
# tables (-g1) are enough for sanitizer reports and build in half the time.
sanitize=(-Db_lundef=false -Dbenchmarks=false -Doptimization=1 -Ddebug=false -Dc_args=-g1
  -Dcpp_args=-g1)
build_plain() { raqib_build; }
build_asan() { raqib_build_dir build-asan "" "${sanitize[@]}" -Db_sanitize=address,undefined; }
build_tsan() {
  raqib_build_dir build-tsan "" "${sanitize[@]}" -Db_sanitize=thread -Dthread_tests_only=true
}
build_fuzz() {
  CC=clang CXX=clang++ raqib_build_dir build-fuzz fuzzers "${sanitize[@]}" \
    -Db_sanitize=address,undefined -Dtests=false -Dfuzz=true
}

suite "tests" build build_plain ${args[@]+"${args[@]}"}
if [ "$quick" != 1 ]; then
  suite "ASan+UBSan tests" build-asan build_asan --suite unit --suite e2e --no-suite capacity
  suite "TSan tests" build-tsan build_tsan --suite threads
  suite "fuzzing" build-fuzz build_fuzz --suite fuzz
fi

python3 scripts/test_summary.py "${logs[@]}"
exit $status
