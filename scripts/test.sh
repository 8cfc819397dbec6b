#!/usr/bin/env bash
# Installs what the tests need and runs all of them: formatting, lints,
# unit tests, the integration tests on real namespaces (needs root), the man
# pages and completions, a short fuzz pass (docs/FUZZING.md), the Debian
# package installed and removed on this machine, and the VM suite.
#
#   scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -ne 0 ]; then
    echo "scripts/test.sh must run as root: the integration tests create real namespaces, mounts and cgroups" >&2
    exit 1
fi

bash scripts/install-deps.sh

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy -D warnings"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test (unit and integration)"
# The integration tests mostly wait on containers booting: more threads than cores is fine.
cargo test --workspace -- --test-threads=4
echo "== man pages and completions"
bash tests/docs/check.sh
echo "== fuzz (30 s per target)"
bash scripts/fuzz.sh 30
echo "== Debian package (built, installed, used, removed)"
bash tests/package/run.sh
echo "== VM suite (NFS shared root, two nodes, storage failure, shutdown)"
bash tests/vm/run.sh
