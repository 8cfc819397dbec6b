#!/usr/bin/env bash
# Builds vroot's Debian package, target/debian/vroot_VERSION-1_amd64.deb:
# the static binary, fence_vroot and the OCF agent at their Debian paths,
# the systemd units, man pages, bash/zsh/fish completions, the docs and
# example configs. Every file is staged under target/package/stage first,
# then cargo-deb (pinned) packs them as [package.metadata.deb] lists.
#
#   scripts/package.sh
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"

CARGO_DEB_VERSION=3.6.4
if [ "$(cargo deb --version 2>/dev/null)" != "$CARGO_DEB_VERSION" ]; then
    echo "installing cargo-deb $CARGO_DEB_VERSION"
    cargo install cargo-deb --version "$CARGO_DEB_VERSION" --locked --quiet
fi

# Static: the bootstrap OS must not depend on any library (and never on the
# shared root's). The gnu target with crt-static gives a static-pie binary.
RUSTFLAGS='-C target-feature=+crt-static' cargo build --quiet --release \
    --target x86_64-unknown-linux-gnu --target-dir target/static
binary=target/static/x86_64-unknown-linux-gnu/release/vroot
if readelf -d "$binary" | grep -q NEEDED || readelf -l "$binary" | grep -q INTERP; then
    echo "$binary is not statically linked" >&2
    exit 1
fi

stage=target/package/stage
generated=target/package/generated
rm -rf "$stage" "$generated"
install -D -m 0755 "$binary" "$stage/usr/sbin/vroot"
# The agents are the same program, told apart by the name they run under.
ln -s vroot "$stage/usr/sbin/fence_vroot"
mkdir -p "$stage/usr/lib/ocf/resource.d/vroot"
ln -s /usr/sbin/vroot "$stage/usr/lib/ocf/resource.d/vroot/container"
"$binary" install-units --packaged --dir "$stage/lib/systemd/system" \
    --binary /usr/sbin/vroot >/dev/null

"$binary" generate-docs --out "$generated"
for section in 1 5; do
    mkdir -p "$stage/usr/share/man/man$section"
    for page in "$generated/man/man$section"/*; do
        gzip -9n -c "$page" >"$stage/usr/share/man/man$section/$(basename "$page").gz"
    done
done
install -D -m 0644 "$generated/completions/vroot.bash" \
    "$stage/usr/share/bash-completion/completions/vroot"
install -D -m 0644 "$generated/completions/_vroot" \
    "$stage/usr/share/zsh/vendor-completions/_vroot"
install -D -m 0644 "$generated/completions/vroot.fish" \
    "$stage/usr/share/fish/vendor_completions.d/vroot.fish"

doc="$stage/usr/share/doc/vroot"
install -D -m 0644 README.md "$doc/README.md"
install -D -m 0644 docs/operations.md "$doc/operations.md"
install -D -m 0644 docs/architecture.md "$doc/architecture.md"
install -D -m 0644 packaging/examples/web.toml "$doc/examples/web.toml"
install -D -m 0644 packaging/examples/storage.toml "$doc/examples/storage.toml"

mkdir -p target/debian
cargo deb --no-build --output target/debian/ >/dev/null
ls target/debian/vroot_*.deb
