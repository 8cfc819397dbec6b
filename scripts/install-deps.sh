#!/usr/bin/env bash
# Installs what vroot's tests, demo and benchmarks need on a fresh Debian 12
# machine (as root). Safe to run again: it installs only what is missing.
#
#   scripts/install-deps.sh            # tests and demo
#   scripts/install-deps.sh --bench    # also the peers the benchmark compares
set -euo pipefail

packages=(busybox-static debootstrap util-linux iproute2 procps)
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

# The Rust toolchain comes with the machine (rustup); make sure the linters are there.
if command -v rustup >/dev/null 2>&1; then
    rustup component list --installed 2>/dev/null | grep -q '^rustfmt' || rustup component add rustfmt
    rustup component list --installed 2>/dev/null | grep -q '^clippy' || rustup component add clippy
fi
