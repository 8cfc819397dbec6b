#!/usr/bin/env bash
# The Debian package, for real: build it, dpkg -i it on this machine, use
# what it installed (the static binary, man pages, completions, the agents,
# a container started through the vroot@.service unit), then dpkg -r and
# --purge it and check that nothing it brought is left. Needs root; leaves
# the machine as it found it (a vroot package installed before is refused).
#
#   tests/package/run.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
cd "$repo"

if [ "$(id -u)" -ne 0 ]; then
    echo "tests/package/run.sh must run as root (dpkg -i)" >&2
    exit 1
fi
if dpkg -s vroot >/dev/null 2>&1; then
    echo "a vroot package is already installed here; remove it first (dpkg -r vroot)" >&2
    exit 1
fi

fail() {
    echo "FAIL: $*" >&2
    exit 1
}
step() { echo "-- $*"; }

bash scripts/package.sh >/tmp/vroot-package.out
deb=$(tail -1 /tmp/vroot-package.out)
[ -f "$deb" ] || fail "no package built: $(cat /tmp/vroot-package.out)"
version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)

name=pkgtest
work=$(mktemp -d /tmp/vroot-package-test.XXXXXX)
supervisor=
cleanup() {
    set +e
    if [ -x /usr/sbin/vroot ]; then
        /usr/sbin/vroot stop --kill "$name" >/dev/null 2>&1
    fi
    [ -n "$supervisor" ] && kill "$supervisor" 2>/dev/null
    dpkg --purge vroot >/dev/null 2>&1
    rm -f "/etc/vroot/$name.toml"
    rmdir /etc/vroot 2>/dev/null
    rm -rf "$work"
}
trap cleanup EXIT

step "dpkg -i $(basename "$deb")"
dpkg -i "$deb" >/dev/null
dpkg -L vroot | sort >"$work/files"

step "the binary: version, statically linked, no NSS lookups"
[ "$(vroot --version)" = "vroot $version" ] || fail "vroot --version says $(vroot --version)"
[ "$(command -v vroot)" = /usr/sbin/vroot ] || fail "vroot is not /usr/sbin/vroot"
if readelf -d /usr/sbin/vroot | grep -q NEEDED; then fail "/usr/sbin/vroot needs shared libraries"; fi
if readelf -l /usr/sbin/vroot | grep -q INTERP; then fail "/usr/sbin/vroot has a dynamic loader"; fi
# A static glibc program that calls getpwnam or getaddrinfo still loads NSS
# modules at run time (from whatever root it runs in): none may be linked.
# The symbols are read from the unstripped build the package was made of.
symbols=$(nm target/static/x86_64-unknown-linux-gnu/release/vroot)
printf '%s\n' "$symbols" | grep -qw main || fail "the static build has no symbol table to check"
if printf '%s\n' "$symbols" | grep -qwE 'getpwnam|getpwuid|getgrnam|getgrgid|getaddrinfo|gethostbyname'; then
    fail "vroot links an NSS lookup"
fi
cmp -s /usr/sbin/vroot target/static/x86_64-unknown-linux-gnu/release/vroot \
    || fail "/usr/sbin/vroot is not the static build"

step "the man pages render"
for page in vroot vroot-start vroot.toml; do
    out=$(MANPAGER=cat MANWIDTH=80 man "$page" 2>&1) || fail "man $page: $out"
    [ "$(printf '%s\n' "$out" | wc -l)" -gt 5 ] || fail "man $page is empty: $out"
done
MANPAGER=cat man vroot-start | grep -q -- "--foreground" || fail "man vroot-start lacks --foreground"
MANPAGER=cat man 5 vroot.toml | grep -q "stop_timeout" || fail "man vroot.toml lacks stop_timeout"

step "the bash completion loads"
bash -c 'source /usr/share/bash-completion/completions/vroot && complete -p vroot' >/dev/null \
    || fail "the bash completion does not load"
[ -f /usr/share/zsh/vendor-completions/_vroot ] || fail "no zsh completion"
[ -f /usr/share/fish/vendor_completions.d/vroot.fish ] || fail "no fish completion"

step "the agents at their Debian paths"
fence_vroot -o metadata | grep -q '<resource-agent name="fence_vroot"' \
    || fail "fence_vroot -o metadata"
/usr/lib/ocf/resource.d/vroot/container meta-data | grep -q '<resource-agent' \
    || fail "the OCF agent's meta-data"

step "Pacemaker: the operations guide's commands, against an offline CIB"
# The commands of docs/operations.md's Pacemaker section, run as written
# but with `pcs -f` on a CIB file (no cluster runs here), after the two
# nodes they name are added to it.
cib="$work/cib.xml"
cibadmin --empty >"$cib"
for node in 1 2; do
    CIB_file="$cib" cibadmin --create -o nodes -X "<node id=\"$node\" uname=\"node$node\"/>"
done
guide_pcs=$(awk '/^## Pacemaker/ {in_section = 1} /^## / && !/^## Pacemaker/ {in_section = 0}
    in_section && /^```sh/ {in_block = 1; next} in_block && /^```/ {in_block = 0}
    in_section && in_block && /^pcs / {print}' docs/operations.md)
[ "$(printf '%s\n' "$guide_pcs" | wc -l)" -ge 8 ] || fail "no pcs commands found in the guide"
while read -r line; do
    eval "pcs -f \"\$cib\" ${line#pcs }" >/dev/null || fail "the guide's \`$line\` failed"
done <<<"$guide_pcs"
levels=$(pcs -f "$cib" stonith level)
for node in node1 node2; do
    printf '%s\n' "$levels" | grep -A2 "Target: $node" | grep -q "Level 1 - fence-vroot" \
        || fail "fence_vroot is not level 1 for $node: $levels"
done
pcs -f "$cib" stonith level | grep -q "Level 2 - fence-ipmi-node1" || fail "no level 2 for node1"
if crm_verify -x "$cib" 2>&1 | grep -qi "error"; then
    fail "crm_verify: $(crm_verify -V -x "$cib" 2>&1)"
fi
# What Pacemaker's fencer reads: off and reboot run on the target only.
crm_resource --show-metadata stonith:fence_vroot | grep -q '<action name="off" on_target="1"' \
    || fail "Pacemaker does not see on_target in fence_vroot's metadata"

step "the examples parse"
for example in web storage; do
    [ -f "/usr/share/doc/vroot/examples/$example.toml" ] || fail "no example $example.toml"
done

step "a container through vroot@.service"
unit=/lib/systemd/system/vroot@.service
[ -f /lib/systemd/system/vroot-storage.service ] || fail "no vroot-storage.service"
bash examples/build-busybox-root.sh "$work/root" >/dev/null
mkdir -p /etc/vroot
printf 'root = "%s"\nstop_timeout = 10\n' "$work/root" >"/etc/vroot/$name.toml"
if [ -d /run/systemd/system ]; then
    systemctl start "vroot@$name.service"
else
    # No systemd here: run the unit's own ExecStart line, as systemd would.
    exec_start=$(sed -n 's/^ExecStart=//p' "$unit")
    [ -n "$exec_start" ] || fail "no ExecStart= in $unit"
    ${exec_start//%i/$name} >"$work/supervisor.log" 2>&1 &
    supervisor=$!
fi
for _ in $(seq 100); do
    vroot status "$name" >/dev/null 2>&1 && break
    sleep 0.1
done
vroot status "$name" >/dev/null || fail "the container did not start: $(cat "$work/supervisor.log" 2>/dev/null)"
[ "$(vroot exec "$name" -- hostname)" = "$(hostname)" ] || fail "exec in the container"
if [ -d /run/systemd/system ]; then
    systemctl stop "vroot@$name.service"
else
    vroot stop "$name" >/dev/null
    wait "$supervisor" || fail "ExecStart exited with $? after a clean stop"
    supervisor=
fi
rm -f "/etc/vroot/$name.toml"
rmdir /etc/vroot 2>/dev/null || true

step "dpkg -r, then --purge: nothing of the package is left"
dpkg -r vroot >/dev/null
left=$(while read -r path; do
    # Directories other packages share (/usr/share/man, /lib → usr/lib, …) stay.
    if [ -d "$path" ]; then continue; fi
    if [ -e "$path" ] || [ -L "$path" ]; then echo "$path"; fi
done <"$work/files")
[ -z "$left" ] || fail "dpkg -r left: $left"
for dir in /usr/share/doc/vroot /usr/lib/ocf/resource.d/vroot; do
    [ ! -e "$dir" ] || fail "dpkg -r left $dir"
done
dpkg --purge vroot >/dev/null
for dir in /var/lib/vroot /var/log/vroot; do
    [ ! -e "$dir" ] || fail "dpkg --purge left $dir"
done
dpkg -s vroot >/dev/null 2>&1 && fail "dpkg still knows vroot"
echo "package: installed, used and removed cleanly ($(basename "$deb"))"
