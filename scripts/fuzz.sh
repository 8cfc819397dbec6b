#!/usr/bin/env bash
# Runs the cargo-fuzz targets in fuzz/ (the container config parser and the
# fence agent's input), each for a bounded time, and fails on any crash,
# panic, leak or hang. See docs/FUZZING.md.
#
#   scripts/fuzz.sh                 # 30 s per target, every target
#   scripts/fuzz.sh 600             # 10 minutes per target
#   scripts/fuzz.sh 60 fence_args   # only the named targets
#
# Each target starts from its seeds in fuzz/corpus/TARGET, which it only
# reads: what the run discovers goes to a temporary directory, out of git
# (set FUZZ_CORPUS_DIR=DIR to keep it in DIR/TARGET across runs). Crash inputs
# land in fuzz/artifacts/TARGET/ and libFuzzer's logs in fuzz/artifacts/logs/
# (both ignored by git). Needs a C++ compiler (libfuzzer-sys builds libFuzzer).
set -euo pipefail
cd "$(dirname "$0")/.."

seconds="${1:-30}"
shift || true
if ! [[ "$seconds" =~ ^[1-9][0-9]*$ ]]; then
    echo "usage: scripts/fuzz.sh [SECONDS_PER_TARGET] [TARGET...]" >&2
    exit 2
fi

# Pinned, so that CI and the documented runs use the same fuzzer driver.
CARGO_FUZZ_VERSION=0.13.2
if [ "$(cargo fuzz --version 2>/dev/null)" != "cargo-fuzz $CARGO_FUZZ_VERSION" ]; then
    echo "installing cargo-fuzz $CARGO_FUZZ_VERSION"
    cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --locked --quiet
fi

# cargo fuzz passes nightly-only flags (-Zsanitizer=address and friends);
# the machine has only stable Rust, whose compiler accepts them under
# RUSTC_BOOTSTRAP=1. Only these fuzz builds see it: the product is never
# built this way.
export RUSTC_BOOTSTRAP=1
# Debug assertions (and with them overflow checks) on, as in the tests.
flags=(--debug-assertions)

if [ "$#" -gt 0 ]; then
    targets=("$@")
else
    mapfile -t targets < <(cargo fuzz list)
fi

echo "building the fuzz targets (address sanitizer, debug assertions)"
build_start=$SECONDS
cargo fuzz build "${flags[@]}"
echo "built in $((SECONDS - build_start)) s"

logs=fuzz/artifacts/logs
mkdir -p "$logs"
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT

failed=()
for target in "${targets[@]}"; do
    if [ ! -d "fuzz/corpus/$target" ]; then
        echo "no seed corpus fuzz/corpus/$target" >&2
        exit 2
    fi
    if [ -n "${FUZZ_CORPUS_DIR:-}" ]; then
        corpus="$FUZZ_CORPUS_DIR/$target"
    else
        corpus="$scratch/$target"
    fi
    mkdir -p "$corpus"
    log="$logs/$target.log"
    echo "== fuzz $target: $seconds s (log: $log)"
    # -timeout: one input running 10 s is a hang, reported like a crash.
    # The seeds stay read-only: new inputs go to the first directory only.
    if cargo fuzz run "${flags[@]}" "$target" "$corpus" "fuzz/corpus/$target" -- \
        -max_total_time="$seconds" -timeout=10 -print_final_stats=1 >"$log" 2>&1; then
        grep -E '^#[0-9]+[[:space:]]+(INITED|DONE)' "$log" || true
        grep -E '^stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$log" || true
    else
        echo "FAILED: fuzz target $target; what went wrong:" >&2
        # The panic (message and location) or the sanitizer's report.
        grep -m 1 -A 1 -E "panicked at" "$log" >&2 || true
        grep -E '^(==[0-9]+==ERROR|SUMMARY|ERROR: libFuzzer|Error: )' "$log" >&2 || true
        artifact="$(grep -o -E '(Test unit|artifact) written to [^ ]+' "$log" | awk '{print $NF}' | tail -n 1)"
        if [ -n "$artifact" ]; then
            echo "crash input: $artifact (reproduce: RUSTC_BOOTSTRAP=1 cargo fuzz run ${flags[*]} $target $artifact)" >&2
        fi
        failed+=("$target")
    fi
done

if [ "${#failed[@]}" -gt 0 ]; then
    echo "fuzzing failed: ${failed[*]}" >&2
    exit 1
fi
echo "fuzzing: ${#targets[@]} targets, $seconds s each, no crash"
