#!/usr/bin/env python3
"""Summarise meson test runs: one line per suite, then a closing line over all
of them, "all suites: N passed, N failed (N skipped)".

Usage: test_summary.py TITLE=build/meson-logs/testlog.json ...

Counts GoogleTest cases, not executables: meson's testlog.json holds each
test program's output, whose gtest summary gives the case counts. A program
that failed although no case did (a sanitizer report at exit, a failed
SetUpTestSuite/TearDownTestSuite) counts as one more failure; other programs (fuzzers)
count as one test each.
"""
import json
import re
import sys


def count(path: str) -> tuple[int, int, int]:
    passed = failed = skipped = 0
    with open(path) as log:
        for line in log:
            run = json.loads(line)
            out = run.get('stdout', '')
            result = run.get('result')
            ok = re.search(r'\[  PASSED  \] (\d+) test', out)
            bad = re.search(r'\[  FAILED  \] (\d+) test', out)
            skip = re.search(r'\[  SKIPPED \] (\d+) test', out)
            if ok or bad:
                passed += int(ok.group(1)) if ok else 0
                failed += int(bad.group(1)) if bad else 0
                skipped += int(skip.group(1)) if skip else 0
                if result not in ('OK', 'SKIP') and not (bad and int(bad.group(1))):
                    failed += 1
            elif result == 'OK':
                passed += 1
            elif result == 'SKIP':
                skipped += 1
            else:
                failed += 1
    return passed, failed, skipped


def main() -> int:
    totals = [0, 0, 0]
    for arg in sys.argv[1:]:
        title, _, path = arg.rpartition('=')
        try:
            counts = count(path)
        except FileNotFoundError:
            print(f'{title or path}: no test log at {path}: it did not run')
            totals[1] += 1
            continue
        print(f'{title or path}: {counts[0]} passed, {counts[1]} failed ({counts[2]} skipped)')
        totals = [t + c for t, c in zip(totals, counts)]
    print(f'all suites: {totals[0]} passed, {totals[1]} failed ({totals[2]} skipped)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
