#!/usr/bin/env bash
# Build a minimal busybox shared root from Debian's busybox-static.
#
#   examples/build-busybox-root.sh DEST [--poweroff-at-once]
#
# The default init is busybox init with an inittab that keeps a shell-less
# system up until it is told to stop (SIGUSR2 = poweroff, SIGTERM = reboot).
# --poweroff-at-once makes an init that powers off as soon as it runs: the
# benchmark uses it to time boot -> poweroff.
set -euo pipefail

dest=${1:?usage: build-busybox-root.sh DEST [--poweroff-at-once]}
mode=${2:-}

# Only a static busybox works in a root that has no libraries.
if ! command -v busybox >/dev/null 2>&1 || ldd "$(command -v busybox)" >/dev/null 2>&1; then
    DEBIAN_FRONTEND=noninteractive apt-get install -y busybox-static >/dev/null
fi
busybox=$(command -v busybox)

rm -rf "$dest.tmp"
mkdir -p "$dest.tmp"
cd "$dest.tmp"
mkdir -p bin sbin etc proc sys dev run tmp root var/log usr/bin usr/sbin
chmod 1777 tmp
cp "$busybox" bin/busybox
for applet in $(./bin/busybox --list); do
    case "$applet" in
        init|halt|poweroff|reboot) ln -sf ../bin/busybox "sbin/$applet" ;;
        busybox) ;;
        *) ln -sf busybox "bin/$applet" ;;
    esac
done

if [ "$mode" = "--poweroff-at-once" ]; then
    # An init that is up for exactly as long as it takes to ask for poweroff.
    cat > sbin/vroot-bench-init <<'INIT'
#!/bin/busybox sh
exec /bin/busybox poweroff -f
INIT
    chmod 755 sbin/vroot-bench-init
fi

cat > etc/inittab <<'TAB'
::sysinit:/bin/mount -t tmpfs -o mode=1777 tmpfs /tmp
::sysinit:/bin/echo "vroot busybox root: init is up"
::respawn:/bin/sleep 2147483647
::ctrlaltdel:/sbin/reboot
::shutdown:/bin/echo "vroot busybox root: shutting down"
TAB
echo 'root:x:0:0:root:/root:/bin/sh' > etc/passwd
echo 'root:x:0:' > etc/group
echo 'busybox' > etc/hostname
: > etc/machine-id
cat > etc/os-release <<'OS'
NAME="vroot busybox demo"
ID=busybox
PRETTY_NAME="vroot busybox demo root"
OS

cd - >/dev/null
rm -rf "$dest"
mv "$dest.tmp" "$dest"
echo "busybox root ready at $dest"
