#!/usr/bin/env bash
# Builds vroot, creates a demo shared root, and shows its life cycle:
# start, look inside, restart, stop.
#
#   scripts/demo.sh              # as root; busybox root (seconds)
#   scripts/demo.sh --systemd    # Debian bookworm root with systemd (debootstrap: about a minute)
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/demo.sh must run as root" >&2
    exit 1
fi
flavour=busybox
[ "${1:-}" = "--systemd" ] && flavour=debian

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() { printf '$ %s\n' "$*"; "$@"; }

bash scripts/install-deps.sh
step "build vroot"
cargo build --release --quiet
vroot=$PWD/target/release/vroot

root=/vz/private/demo-$flavour
step "create the demo shared root at $root"
if [ ! -x "$root/sbin/init" ] && [ ! -L "$root/sbin/init" ]; then
    mkdir -p /vz/private
    bash "examples/build-$flavour-root.sh" "$root"
else
    echo "(already there)"
fi

mkdir -p /etc/vroot
cat > /etc/vroot/demo.toml <<TOML
# The demo container: the shared root above, run as a system container.
root = "$root"
hostname = "demo-node"
stop_timeout = 30
[limits]
pids = 2048
TOML
step "the config, /etc/vroot/demo.toml"
cat /etc/vroot/demo.toml

"$vroot" stop demo >/dev/null 2>&1 || true
step "start it"
run "$vroot" start demo
wait_ready() {
    [ "$flavour" = debian ] || return 0
    for _ in $(seq 300); do
        case "$("$vroot" exec demo -- systemctl is-system-running --wait 2>/dev/null)" in
            running|degraded) return 0 ;;
        esac
        sleep 0.1
    done
}
wait_ready

step "show it"
run "$vroot" status demo
run "$vroot" list
run "$vroot" exec demo -- hostname
run "$vroot" exec demo -- ps
run "$vroot" exec demo -- ip link
step "its per-host layer: what differs from the other nodes sharing the root"
run "$vroot" overlay status demo
if [ "$flavour" = debian ]; then
    run "$vroot" exec demo -- systemctl is-system-running
fi

step "restart it"
run "$vroot" restart demo
wait_ready
run "$vroot" status demo

step "stop it"
run "$vroot" stop demo
run "$vroot" status demo || true

step "done"
echo "console log: /var/log/vroot/demo.console   supervisor log: /var/log/vroot/demo.log"
