#!/usr/bin/env bash
# Set up this machine (Debian 12) and run raqib in the foreground on the
# default configuration. Arguments go to raqib, e.g. ./run.sh --format json
set -euo pipefail
cd "$(dirname "$0")"
source scripts/setup.sh
raqib_need_root "$0" "$@"
raqib_install_packages
raqib_mount_filesystems
raqib_create_user
raqib_build
say "starting raqib (Ctrl-C stops it)"
exec ./build/core/raqib "$@"
