#!/usr/bin/env python3
"""Fence latency with the storage hung: a busybox container whose root is
served through the FUSE test storage runs 1000 processes (960 sleepers and
40 readers of the root); the storage is made to hang under the readers, and
`vroot fence` is timed: from the command's start to its verified exit, and
the fence's own measure (`elapsed_ms` in its JSON report).

    python3 tests/bench/fence_latency.py [--rounds N]

Prints a Markdown table (paste it into docs/BENCHMARKS.md).
"""
import argparse
import json
import os
import shutil
import socket
import statistics
import subprocess
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/vroot-bench-fence")
VROOT = REPO / "target/release/vroot"
TESTFS = REPO / "target/release/vroot-testfs"
PROCESSES = 1000
READERS = 40


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def storage_command(control, command):
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
        conn.connect(str(control))
        conn.sendall(command.encode() + b"\n")
        reply = conn.makefile().readline().strip()
    assert reply.startswith("ok"), reply
    return reply


def wait_for(what, condition, timeout=30):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(0.05)


def cgroup_tasks(name):
    """Processes in the container's cgroup and below it (the pids hierarchy)."""
    total = 0
    for procs in Path(f"/sys/fs/cgroup/pids/vroot/{name}").rglob("cgroup.procs"):
        try:
            total += len(procs.read_text().split())
        except OSError:
            pass
    return total


def one_round(env, export, index):
    mountpoint = WORK / f"private{index}"
    control = WORK / f"storage{index}.sock"
    ready = WORK / f"storage{index}.ready"
    mountpoint.mkdir(parents=True, exist_ok=True)
    daemon = subprocess.Popen([TESTFS, "--source", export, "--mountpoint", mountpoint,
                               "--control", control, "--ready-file", ready])
    try:
        wait_for("the test storage", ready.exists)
        name = f"fence{index}"
        (WORK / "etc" / f"{name}.toml").write_text(f'root = "{mountpoint}/busybox"\n')
        sh(VROOT, "start", name, env=env, stdout=subprocess.DEVNULL)
        sleepers = PROCESSES - READERS - 2
        script = (f"for i in $(seq {sleepers}); do sleep 100000 & done; "
                  f"for i in $(seq {READERS}); do (while true; do cat /etc/hostname /no-such-$i; ls /bin; done) >/dev/null 2>&1 & done; echo ok")
        sh(VROOT, "exec", name, "--", "sh", "-c", script, env=env, stdout=subprocess.DEVNULL)
        wait_for("1000 processes", lambda: cgroup_tasks(name) >= PROCESSES)
        storage_command(control, "hang")
        wait_for("parked requests", lambda: int(storage_command(control, "status").split("parked=")[1]) >= 3)
        started = time.monotonic()
        result = subprocess.run([VROOT, "fence", name, "--json"], env=env, capture_output=True, text=True)
        wall = time.monotonic() - started
        report = json.loads(result.stdout)
        assert result.returncode == 0 and report["verified"], result.stderr
        assert report["tasks_killed"] >= PROCESSES, report
        storage_command(control, "release")
        sh(VROOT, "unfence", name, env=env, stdout=subprocess.DEVNULL)
        return wall * 1000, report["elapsed_ms"], report["tasks_killed"]
    finally:
        daemon.terminate()
        daemon.wait()
        subprocess.run(["umount", "-l", str(mountpoint)], stderr=subprocess.DEVNULL)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sh("cargo", "build", "--release", "-q", "-p", "vroot", "-p", "vroot-testfs", cwd=REPO)
    root = subprocess.run(["bash", "-c", "ls -d /var/cache/vroot-test/roots/busybox-* | grep -v poweroff | head -1"],
                          capture_output=True, text=True).stdout.strip()
    if not root:
        root = "/var/cache/vroot-bench/busybox-root"
        if not Path(root, "bin/busybox").exists():
            sh("bash", str(REPO / "examples/build-busybox-root.sh"), root)
    shutil.rmtree(WORK, ignore_errors=True)
    env = dict(os.environ)
    for key, sub in [("VROOT_CONFIG_DIR", "etc"), ("VROOT_STATE_DIR", "run"),
                     ("VROOT_LOG_DIR", "log"), ("VROOT_LIB_DIR", "lib")]:
        (WORK / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(WORK / sub)
    export = WORK / "export"
    export.mkdir()
    sh("cp", "-a", root, str(export / "busybox"))
    walls, own, killed = [], [], []
    for index in range(args.rounds):
        wall, elapsed, tasks = one_round(env, export, index)
        walls.append(wall)
        own.append(elapsed)
        killed.append(tasks)
    print("| processes | storage | `vroot fence` wall time (median) | fence's own elapsed (median) | max wall |")
    print("|---:|---|---:|---:|---:|")
    print(f"| {min(killed)} | hung (FUSE, {READERS} readers parked) | {statistics.median(walls):.0f} ms | "
          f"{statistics.median(own):.0f} ms | {max(walls):.0f} ms |")
    shutil.rmtree(WORK, ignore_errors=True)


if __name__ == "__main__":
    main()
