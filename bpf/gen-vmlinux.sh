#!/bin/sh
# Write vmlinux.h for the BPF build: from this kernel's BTF when it has one,
# else the committed copy (generated on Debian 12's 6.18 kernel). CO-RE makes
# either work on any kernel with BTF.
# usage: gen-vmlinux.sh BPFTOOL FALLBACK OUTPUT
set -eu
bpftool=$1 fallback=$2 out=$3
if [ -r /sys/kernel/btf/vmlinux ] && "$bpftool" btf dump file /sys/kernel/btf/vmlinux format c > "$out.tmp" 2>/dev/null; then
  mv "$out.tmp" "$out"
else
  rm -f "$out.tmp"
  cp "$fallback" "$out"
fi
