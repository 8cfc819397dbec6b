#!/usr/bin/env bash
# vroot's limits on a pure cgroup v2 host, for real: this project's machines
# bind every controller to cgroup v1, so the check boots Debian's kernel in
# QEMU (software emulation) with cgroup v1 disabled, from an initramfs that
# holds a static vroot and the busybox demo root, and runs the checks there.
#
#   tests/vm/cgroup-v2-limits.sh       # exit 0 when every check passes
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cache=${VROOT_VM_CACHE:-/var/cache/vroot-vm}
work=$(mktemp -d /tmp/vroot-vm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$cache"

# The guest kernel: Debian's, unpacked (never installed on the host).
kernel=$(ls "$cache"/kernel/boot/vmlinuz-* 2>/dev/null | head -1 || true)
if [ -z "$kernel" ]; then
    package=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
    (cd "$cache" && apt-get download "$package" >/dev/null && dpkg-deb -x "$package"_*.deb kernel && rm -f "$package"_*.deb)
    kernel=$(ls "$cache"/kernel/boot/vmlinuz-* | head -1)
fi

# A static vroot: the guest has no libraries.
(cd "$repo" && RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release \
    --target x86_64-unknown-linux-gnu --target-dir target/static)
vroot=$repo/target/static/x86_64-unknown-linux-gnu/release/vroot
if readelf -d "$vroot" | grep -q NEEDED; then
    echo "the vroot binary for the guest is not static" >&2
    exit 1
fi

# The initramfs: busybox, vroot, the demo root, and two stages of init.
tree=$work/initramfs
mkdir -p "$tree"/{bin,usr/local/sbin,etc/vroot,vz/private}
cp "$(command -v busybox)" "$tree/bin/busybox"
cp "$vroot" "$tree/usr/local/sbin/vroot"
bash "$repo/examples/build-busybox-root.sh" "$tree/vz/private/bb" >/dev/null
cat > "$tree/etc/vroot/bb.toml" <<'TOML'
root = "/vz/private/bb"
hostname = "vm-bb"
stop_timeout = 10
[limits]
memory = "64M"
cpus = 0.5
pids = 40
TOML
# Stage 1 leaves the initramfs (rootfs cannot be pivoted away from) for a tmpfs.
cat > "$tree/init" <<'SH'
#!/bin/busybox sh
/bin/busybox --install -s /bin
mkdir -p /proc /dev /newroot
mount -t proc proc /proc
mount -t tmpfs -o size=256m tmpfs /newroot
cp -a /bin /usr /etc /vz /stage2 /newroot/
mkdir -p /newroot/proc /newroot/sys /newroot/dev /newroot/run /newroot/tmp /newroot/var/log /newroot/var/lib
umount /proc
exec switch_root /newroot /stage2
SH
cat > "$tree/stage2" <<'SH'
#!/bin/sh
export PATH=/usr/local/sbin:/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts && mount -t devpts -o ptmxmode=0666 devpts /dev/pts
mount -t cgroup2 cgroup2 /sys/fs/cgroup
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
hostname vm-host
fail=0
check() {
    if eval "$2"; then echo "VM-CHECK ok $1"; else echo "VM-CHECK FAIL $1"; fail=1; fi
}
echo "VM-CONTROLLERS $(cat /sys/fs/cgroup/cgroup.controllers)"
vroot start bb || fail=1
limits=/sys/fs/cgroup/vroot/bb
check memory.max '[ "$(cat $limits/memory.max)" = 67108864 ]'
check pids.max '[ "$(cat $limits/pids.max)" = 40 ]'
check cpu.max '[ "$(cat $limits/cpu.max)" = "50000 100000" ]'
check namespace-root '[ "$(vroot exec bb -- cat /proc/self/cgroup)" = "0::/" ]'
check payload-has-controllers 'grep -qw memory $limits/payload/cgroup.controllers'
vroot exec bb -- sh -c 'echo max > /sys/fs/cgroup/pids.max; echo max > /sys/fs/cgroup/memory.max' || true
check root-inside-cannot-lift '[ "$(cat $limits/pids.max)" = 40 ] && [ "$(cat $limits/memory.max)" = 67108864 ]'
vroot exec bb -- sh -c 'for i in $(seq 60); do sleep 600 >/dev/null 2>&1 & done' >/dev/null 2>&1 || true
running=$(cat $limits/pids.current)
check "pids-limit-holds($running)" '[ "$running" -le 40 ] && [ "$running" -ge 30 ]'
vroot stop bb
check cgroup-removed '[ ! -e $limits ]'
echo "VM-RESULT $fail"
poweroff -f
SH
chmod +x "$tree/init" "$tree/stage2"
(cd "$tree" && find . | cpio -o -H newc --quiet) | gzip -1 > "$work/initramfs.gz"

# Boot it: no network, no disk, serial console to a file.
timeout 300 qemu-system-x86_64 -accel tcg -cpu max -m 512 -smp 1 \
    -nodefaults -no-user-config -display none -no-reboot \
    -kernel "$kernel" -initrd "$work/initramfs.gz" \
    -append "console=ttyS0 cgroup_no_v1=all panic=-1 quiet" \
    -serial "file:$work/console.log" </dev/null || true
grep -E '^VM-' "$work/console.log" | tr -d '\r'
if grep -q '^VM-RESULT 0' "$work/console.log"; then
    echo "pure cgroup v2 limits: all checks passed"
else
    echo "pure cgroup v2 limits: FAILED; guest console:" >&2
    tail -40 "$work/console.log" >&2
    exit 1
fi
