#!/usr/bin/env bash
# The VM suite: an NFS storage VM and two node VMs under QEMU software
# emulation (these machines have no NFS client and no usable KVM). Installs
# what it needs, builds the static vroot the guests run, then runs
# tests/vm/suite.py. Needs root (like the other tests) and about 3 minutes.
#
#   tests/vm/run.sh [--keep]
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/vm/run.sh must run as root" >&2
    exit 1
fi

# scripts/install-deps.sh installs QEMU and what the guests need: busybox,
# the NFS server's user space (copied into the storage VM), depmod for the
# guest kernel's module list, mke2fs for the disk images, cpio for the
# initramfs. The suite fetches Debian's kernel itself.
bash scripts/install-deps.sh

probe_pidfile=$(mktemp)
trap 'rm -f "$probe_pidfile"' EXIT
if ! qemu-system-x86_64 -accel tcg -machine none -nodefaults -display none -S \
        -monitor none -daemonize -pidfile "$probe_pidfile" >/dev/null 2>&1; then
    echo "SKIP: qemu-system-x86_64 cannot start a machine here (tried -accel tcg)" >&2
    exit 0
fi
kill "$(cat "$probe_pidfile")" 2>/dev/null || true
rm -f "$probe_pidfile"
trap - EXIT

# The guests have no libraries: the binary must be static.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release \
    --target x86_64-unknown-linux-gnu --target-dir target/static
vroot=target/static/x86_64-unknown-linux-gnu/release/vroot
if readelf -d "$vroot" | grep -q NEEDED; then
    echo "$vroot is not statically linked" >&2
    exit 1
fi

exec python3 tests/vm/suite.py "$@"
