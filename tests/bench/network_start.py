#!/usr/bin/env python3
"""What veth interfaces cost `vroot start`: the wall time of `vroot start NAME`
(it returns once the container's init runs) for a busybox container with
N = 0, 1, 4, 8 veth interfaces on one bridge, each with a 192.0.2.x/24
address. The containers stop after each start; the stop is not timed.

    cargo build --release
    python3 tests/bench/network_start.py [--rounds R] [--counts 0,1,4,8]

Everything runs in a network namespace the script makes (with the bridge in
it), so the host's own links are never touched. Prints a Markdown report.
"""
import argparse
import ctypes
import os
import random
import shlex
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/vroot-bench-net")
CACHE = Path("/var/cache/vroot-bench")
VROOT = REPO / "target/release/vroot"
STATE = Path("/run/vroot-bench-net")
CLONE_NEWNET = 0x40000000


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def busybox_root():
    """The plain busybox root: its init stays up until it is stopped. (The
    --poweroff-at-once root only adds /sbin/vroot-bench-init, an init that
    powers off as soon as it runs; a container that must stay up until the
    stop has no use for it.)"""
    root = CACHE / "busybox"
    if not (root / "sbin/init").exists():
        CACHE.mkdir(parents=True, exist_ok=True)
        sh("bash", str(REPO / "examples/build-busybox-root.sh"), str(root), stdout=subprocess.DEVNULL)
    return root


def setns(path):
    libc = ctypes.CDLL(None, use_errno=True)
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"setns {path}: {os.strerror(err)}")
    finally:
        os.close(fd)


class Netns:
    """A network namespace of the benchmark's own with an up bridge `br0`.
    This process enters it (setns), so vroot and every tool it runs start
    in it without an nsenter in the timed path."""

    def __init__(self):
        self.name = f"vrt-bench-{os.getpid()}"
        self.home = os.open("/proc/self/ns/net", os.O_RDONLY)
        sh("ip", "netns", "add", self.name)
        setns(f"/run/netns/{self.name}")
        sh("ip", "link", "set", "lo", "up")
        sh("ip", "link", "add", "br0", "type", "bridge")
        sh("ip", "link", "set", "br0", "up")

    def links(self):
        out = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True, check=True).stdout
        return sorted(line.split(":")[1].strip().split("@")[0] for line in out.splitlines())

    def close(self):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.setns(self.home, CLONE_NEWNET)
        os.close(self.home)
        subprocess.run(["ip", "netns", "del", self.name])


def vroot_env():
    env = dict(os.environ)
    for key, sub in [("VROOT_CONFIG_DIR", "etc"), ("VROOT_LOG_DIR", "log"), ("VROOT_LIB_DIR", "lib")]:
        (WORK / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(WORK / sub)
    # State lives on a tmpfs, as /run/vroot does in production.
    env["VROOT_STATE_DIR"] = str(STATE)
    return env


def write_configs(root, counts):
    """One container per interface count: `nbN` with N veths on br0."""
    names = {}
    host = 10
    for count in counts:
        name = f"nb{count}"
        text = f'root = "{root}"\nhostname = "{name}"\n'
        if count == 0:
            text += '[network]\nmode = "none"\n'
        for _ in range(count):
            text += f'[[network.interface]]\nmode = "veth"\nbridge = "br0"\naddress = "192.0.2.{host}/24"\n'
            host += 1
        (WORK / "etc" / f"{name}.toml").write_text(text)
        names[count] = name
    if host > 255:
        sys.exit("too many interfaces for 192.0.2.0/24")
    return names


def run(args, env):
    return subprocess.run([str(VROOT), *args], env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True)


def start_timed(name, env):
    begin = time.perf_counter_ns()
    result = run(["start", name], env)
    elapsed = (time.perf_counter_ns() - begin) / 1e6
    if result.returncode != 0:
        sys.exit(f"vroot start {name} failed ({result.returncode}): {result.stderr.strip()}")
    return elapsed


def stop(name, env):
    result = run(["stop", name], env)
    if result.returncode != 0:
        sys.exit(f"vroot stop {name} failed ({result.returncode}): {result.stderr.strip()}")


def check_interfaces(names, env):
    """A warm-up start of each container that also checks its interfaces exist."""
    for count, name in names.items():
        start_timed(name, env)
        for index in range(count):
            result = run(["exec", name, "--", "cat", f"/sys/class/net/eth{index}/address"], env)
            if result.returncode != 0:
                stop(name, env)
                sys.exit(f"{name} has no eth{index}: {result.stderr.strip()}")
        stop(name, env)


def slope(points):
    """Least-squares fit y = a + b x; returns (a, b)."""
    xs = [x for x, _ in points]
    ys = [y for _, y in points]
    mean_x, mean_y = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mean_x) ** 2 for x in xs)
    sxy = sum((x - mean_x) * (y - mean_y) for x, y in points)
    b = sxy / sxx if sxx else float("nan")
    return mean_y - b * mean_x, b


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--counts", default="0,1,4,8", help="veth interface counts, comma-separated")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    if not VROOT.exists():
        sys.exit(f"{VROOT} is missing: run `cargo build --release` first")
    counts = sorted({int(c) for c in args.counts.split(",")})
    command_line = " ".join(shlex.quote(a) for a in ["python3", *sys.argv])

    shutil.rmtree(WORK, ignore_errors=True)
    env = vroot_env()
    root = busybox_root()
    names = write_configs(root, counts)
    netns = Netns()
    try:
        links_before = netns.links()
        check_interfaces(names, env)
        # Each round starts every container once, in a fresh random order:
        # a start may pay for the asynchronous teardown of the container
        # stopped before it, so a fixed order would always bill the same N.
        samples = {count: [] for count in counts}
        rng = random.Random(args.seed)
        for _ in range(args.rounds):
            order = list(names.items())
            rng.shuffle(order)
            for count, name in order:
                samples[count].append(start_timed(name, env))
                stop(name, env)
        links_after = netns.links()
    finally:
        for name in names.values():
            run(["stop", name, "--kill"], env)
        netns.close()

    medians = {count: statistics.median(values) for count, values in samples.items()}
    if len(counts) > 1:
        base, per_veth = slope(list(medians.items()))
        _, per_veth_all = slope([(count, value) for count, values in samples.items() for value in values])

    uname = os.uname()
    print(f"Command: `{command_line}`\n")
    print(f"Machine: {os.cpu_count()} vCPU, kernel {uname.release}; {args.rounds} rounds, each container once per "
          f"round in a shuffled order (seed {args.seed}); a warm-up start of each first, not counted.\n")
    print("Wall time of `vroot start NAME` (returns once the init runs), busybox root, N veth interfaces on one bridge:\n")
    print("| veth interfaces | median | min | max |")
    print("|---|---|---|---|")
    for count in counts:
        values = samples[count]
        print(f"| {count} | {medians[count]:.1f} ms | {min(values):.1f} ms | {max(values):.1f} ms |")
    if len(counts) > 1:
        print(f"\nLeast-squares fit over the medians: {base:.1f} ms + **{per_veth:.2f} ms per veth interface** "
              f"(over all samples: {per_veth_all:.2f} ms per interface).")
    if links_after != links_before:
        print(f"\n**Links left in the benchmark namespace:** {sorted(set(links_after) - set(links_before))}")


if __name__ == "__main__":
    main()
