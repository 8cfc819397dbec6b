#!/usr/bin/env bash
# Build a Debian bookworm shared root with systemd as its init.
#
#   examples/build-debian-root.sh DEST
#
# The root is what a shared root should look like before any node boots it:
# /etc/machine-id is empty (each node gets its own identity from vroot) and
# no host-unique files are left in it.
set -euo pipefail

dest=${1:?usage: build-debian-root.sh DEST}
mirror=${VROOT_DEBIAN_MIRROR:-http://deb.debian.org/debian}

command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y debootstrap >/dev/null

rm -rf "$dest.tmp"
debootstrap --variant=minbase --include=systemd,systemd-sysv,dbus,iproute2,procps \
    bookworm "$dest.tmp" "$mirror" >"$dest.debootstrap.log" 2>&1 || {
    echo "debootstrap failed; see $dest.debootstrap.log" >&2
    tail -20 "$dest.debootstrap.log" >&2
    exit 1
}

# A shared root carries no host identity: systemd derives the machine id from
# container_uuid, which vroot sets per host.
: > "$dest.tmp/etc/machine-id"
rm -f "$dest.tmp/var/lib/dbus/machine-id"
ln -sf /etc/machine-id "$dest.tmp/var/lib/dbus/machine-id"
echo 'debian' > "$dest.tmp/etc/hostname"
# Passwordless root for the demo console only.
sed -i 's/^root:[^:]*:/root::/' "$dest.tmp/etc/shadow"
rm -rf "$dest.tmp/var/cache/apt/archives/"*.deb

rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "debian root ready at $dest"
