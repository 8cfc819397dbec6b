#!/usr/bin/env bash
# Installs what vroot's tests, demo and benchmarks need on a fresh Debian 12
# machine (as root). Safe to run again: it installs only what is missing.
#
#   scripts/install-deps.sh            # tests and demo
#   scripts/install-deps.sh --bench    # also the peers the benchmark compares
set -euo pipefail

# fence-agents and resource-agents ship the schemas the cluster agents' metadata is validated
# against (metadata.rng, ra-api-1.dtd, and ocf-tester); libxml2-utils is xmllint.
packages=(busybox-static debootstrap util-linux iproute2 procps cpio binutils bindfs
          fence-agents resource-agents libxml2-utils
          iputils-ping  # the network tests ping containers from the test's namespace
          systemd  # systemd-analyze verify checks the units `vroot install-units` writes
          # The VM suite: the NFS server's user space is copied into the storage VM, depmod
          # lists the guest kernel's modules, mke2fs makes the disk images.
          nfs-kernel-server kmod e2fsprogs
          gcc libc6-dev  # the escape battery's probe is built with `cc -static`
          man-db groff-base  # tests/docs/check.sh renders the generated man pages
          pcs pacemaker-cli-utils  # tests/package/run.sh runs the guide's pcs commands offline
          g++)  # libfuzzer-sys builds libFuzzer (C++) for scripts/fuzz.sh
if [ "${1:-}" = "--bench" ]; then
    packages+=(lxc crun systemd-container hyperfine)
fi

missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ "${#missing[@]}" -gt 0 ]; then
    echo "installing: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# QEMU for the tests that boot a VM (tests/vm/). These machines may carry
# qemu-utils from bookworm-backports, which breaks bookworm's own
# qemu-system-x86; then take QEMU from backports as well.
if ! command -v qemu-system-x86_64 >/dev/null 2>&1; then
    apt-get update -qq
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq qemu-system-x86 >/dev/null 2>&1; then
        echo "deb http://deb.debian.org/debian bookworm-backports main" > /etc/apt/sources.list.d/vroot-backports.list
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports qemu-system-x86 >/dev/null
    fi
fi

# The Rust toolchain comes with the machine (rustup); make sure the linters are there.
if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
