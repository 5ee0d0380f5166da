#!/usr/bin/env python3
"""Print one closing line for a meson test run: "tests: N passed, N failed".

Counts GoogleTest cases, not executables: meson's testlog.json holds each
test program's output, whose gtest summary gives the case counts.
"""
import json
import re
import sys


def main() -> int:
    passed = failed = skipped = 0
    with open(sys.argv[1]) as log:
        for line in log:
            run = json.loads(line)
            out = run.get('stdout', '')
            ok = re.search(r'\[  PASSED  \] (\d+) test', out)
            bad = re.search(r'\[  FAILED  \] (\d+) test', out)
            skip = re.search(r'\[  SKIPPED \] (\d+) test', out)
            if ok or bad:
                passed += int(ok.group(1)) if ok else 0
                failed += int(bad.group(1)) if bad else 0
                skipped += int(skip.group(1)) if skip else 0
            elif run.get('result') == 'OK':
                passed += 1
            elif run.get('result') == 'SKIP':
                skipped += 1
            else:
                failed += 1
    print(f'tests: {passed} passed, {failed} failed, {skipped} skipped')
    return 0


if __name__ == '__main__':
    sys.exit(main())
