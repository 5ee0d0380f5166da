#!/usr/bin/env bash
# Set up this machine (Debian 12) and run the whole test suite: unit tests and
# end-to-end tests on the real kernel. Arguments go to `meson test`.
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
raqib_need_root "$0" "$@"
raqib_install_packages
raqib_mount_filesystems
raqib_create_user
raqib_build
say "running the tests"
status=0
meson test -C build --print-errorlogs "$@" || status=$?
python3 scripts/test_summary.py build/meson-logs/testlog.json
exit $status
