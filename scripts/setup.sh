# shellcheck shell=bash
# Shared by run.sh and test.sh: make a fresh Debian 12 machine ready to build
# and run raqib. Sourced, not run; the caller has `set -euo pipefail`.

RAQIB_PACKAGES=(
  g++ make clang llvm pkg-config python3 meson ninja-build
  libbpf-dev bpftool
  libboost-dev libtomlplusplus-dev libspdlog-dev libfmt-dev nlohmann-json3-dev libcli11-dev
  libseccomp-dev libcap-dev libssl-dev libre2-dev
  openssh-client git
  libclang-rt-dev
  libgtest-dev libbenchmark-dev
  iproute2 util-linux
  python3-jsonschema python3-fastjsonschema rsyslog nats-server openssl
)

say() { printf '\033[1m==> %s\033[0m\n' "$*" >&2; }

# Re-run the calling script as root: eBPF needs it.
raqib_need_root() {
  [ "$(id -u)" -eq 0 ] && return 0
  if command -v sudo >/dev/null 2>&1; then
    say "raqib needs root for eBPF; re-running through sudo"
    exec sudo --preserve-env=CI "$@"
  fi
  echo "raqib needs root to load eBPF programs, and sudo is not installed." >&2
  echo "Run this as root instead, e.g.: su -c '$*'" >&2
  exit 1
}

raqib_install_packages() {
  local missing=()
  for p in "${RAQIB_PACKAGES[@]}" "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  say "installing ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

raqib_mount_filesystems() {
  if ! mountpoint -q /sys/fs/bpf; then
    say "mounting bpffs on /sys/fs/bpf"
    mkdir -p /sys/fs/bpf && mount -t bpf bpf /sys/fs/bpf
  fi
  if [ ! -d /sys/kernel/tracing/events ] && [ ! -d /sys/kernel/debug/tracing/events ]; then
    say "mounting tracefs on /sys/kernel/tracing"
    mount -t tracefs tracefs /sys/kernel/tracing
  fi
}

# The unprivileged system user the daemon runs as after start-up ([core] user).
raqib_create_user() {
  if ! getent passwd raqib >/dev/null; then
    say "creating the system user raqib"
    useradd --system --no-create-home --home-dir /nonexistent --shell /usr/sbin/nologin raqib
  fi
  # Where the logfile printer writes and the webhook and nats printers spool
  # by default: the daemon writes there as raqib.
  install -d -o raqib -g raqib -m 0750 /var/log/raqib /var/lib/raqib /var/lib/raqib/spool
}

# Configure (once) and build into build/.
raqib_build() {
  raqib_build_dir build "" "$@"
}

# raqib_build_dir DIR TARGET [meson setup options]: configure DIR (once)
# with those options and build TARGET there ("" for everything).
raqib_build_dir() {
  local dir=$1 target=$2
  shift 2
  if [ ! -f "$dir/build.ninja" ]; then
    say "configuring $dir/"
    meson setup "$dir" "$@"
  fi
  say "building $dir/"
  ninja -C "$dir" ${target:+"$target"}
}
