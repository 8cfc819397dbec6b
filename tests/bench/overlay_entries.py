#!/usr/bin/env python3
"""Start-time cost of per-host layer entries: boot -> poweroff of the busybox
root with 0, 10, 100 and 1000 declared `empty` directory entries (one bind
mount each, the costliest kind), interleaved rounds, median per count.

    python3 tests/bench/overlay_entries.py [--rounds N]

Prints a Markdown table (paste it into docs/BENCHMARKS.md).
"""
import argparse
import os
import random
import shutil
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/vroot-bench-overlay")
CACHE = Path("/var/cache/vroot-bench")
VROOT = REPO / "target/release/vroot"
COUNTS = [0, 10, 100, 1000]


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def build_root():
    """The poweroff-at-once busybox root with /srv/e0000 … /srv/e0999."""
    CACHE.mkdir(parents=True, exist_ok=True)
    root = CACHE / "overlay-entries-root"
    if not (root / "srv/e0999").is_dir():
        shutil.rmtree(root, ignore_errors=True)
        sh("bash", str(REPO / "examples/build-busybox-root.sh"), str(root), "--poweroff-at-once")
        for index in range(max(COUNTS)):
            (root / f"srv/e{index:04d}").mkdir(parents=True)
    return root


def environment():
    env = dict(os.environ)
    shutil.rmtree(WORK, ignore_errors=True)
    for key, sub in [("VROOT_CONFIG_DIR", "etc"), ("VROOT_LOG_DIR", "log"), ("VROOT_LIB_DIR", "lib")]:
        (WORK / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(WORK / sub)
    env["VROOT_STATE_DIR"] = "/run/vroot-bench-overlay"
    return env


def write_configs(root):
    for count in COUNTS:
        lines = [
            f'root = "{root}"',
            'init = ["/sbin/vroot-bench-init"]',
            'hostname = "bench"',
            "[overlay]",
            "defaults = false",
        ]
        for index in range(count):
            lines += ["[[overlay.path]]", f'path = "/srv/e{index:04d}"', 'mode = "empty"']
        (WORK / f"etc/entries{count}.toml").write_text("\n".join(lines) + "\n")


def run_once(count, env):
    started = time.perf_counter()
    sh(str(VROOT), "start", "--foreground", f"entries{count}", env=env,
       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - started


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()
    sh("cargo", "build", "--release", "--quiet", cwd=REPO)
    root = build_root()
    env = environment()
    write_configs(root)
    for count in COUNTS:  # the first start creates the layer; later ones reuse it
        run_once(count, env)
    samples = {count: [] for count in COUNTS}
    for _ in range(args.rounds):
        order = list(COUNTS)
        random.shuffle(order)
        for count in order:
            samples[count].append(run_once(count, env))
    median = {count: statistics.median(values) * 1000 for count, values in samples.items()}
    print(f"Boot -> poweroff of the busybox root, median of {args.rounds} interleaved rounds:\n")
    print("| per-host entries | boot -> poweroff | extra over 0 | per entry |")
    print("|---:|---:|---:|---:|")
    for count in COUNTS:
        extra = median[count] - median[0]
        per_entry = f"{extra / count * 1000:.1f} µs" if count else "–"
        print(f"| {count} | {median[count]:.1f} ms | {extra:.1f} ms | {per_entry} |")


if __name__ == "__main__":
    main()
