#!/usr/bin/env bash
# Build a Debian bookworm shared root with systemd (default) or SysVinit as its init.
#
#   examples/build-debian-root.sh DEST [--init systemd|sysvinit]
#
# The root is what a shared root should look like before any node boots it:
# /etc/machine-id is empty (each node gets its own identity from vroot) and
# no host-unique files are left in it.
set -euo pipefail

dest=${1:?usage: build-debian-root.sh DEST [--init systemd|sysvinit]}
init=systemd
if [ "${2:-}" = "--init" ]; then
    init=${3:?--init needs systemd or sysvinit}
fi
case "$init" in
    systemd) packages=systemd,systemd-sysv,dbus,iproute2,procps ;;
    sysvinit) packages=sysvinit-core,iproute2,procps ;;
    *) echo "unknown init $init (use systemd or sysvinit)" >&2; exit 2 ;;
esac
mirror=${VROOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null

rm -rf "$dest.tmp"
debootstrap --variant=minbase --include="$packages" \
    bookworm "$dest.tmp" "$mirror" >"$dest.debootstrap.log" 2>&1 || {
    echo "debootstrap failed; see $dest.debootstrap.log" >&2
    tail -20 "$dest.debootstrap.log" >&2
    exit 1
}

# A shared root carries no host identity: systemd derives the machine id from
# container_uuid, which vroot sets per host.
: > "$dest.tmp/etc/machine-id"
if [ -d "$dest.tmp/var/lib/dbus" ]; then
    rm -f "$dest.tmp/var/lib/dbus/machine-id"
    ln -sf /etc/machine-id "$dest.tmp/var/lib/dbus/machine-id"
fi
echo 'debian' > "$dest.tmp/etc/hostname"
# Passwordless root for the demo console only.
sed -i 's/^root:[^:]*:/root::/' "$dest.tmp/etc/shadow"
rm -rf "$dest.tmp/var/cache/apt/archives/"*.deb

rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "debian root ($init) ready at $dest"
