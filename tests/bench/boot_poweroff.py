#!/usr/bin/env python3
"""Boot -> poweroff of the busybox root: vroot beside lxc, crun, systemd-nspawn
and the `unshare ... chroot` floor, runs interleaved; then the supervisor's
resident memory, and systemd boot -> running beside systemd-nspawn -b.

    python3 tests/bench/boot_poweroff.py [--rounds N] [--skip-systemd]

Prints a Markdown report (paste it into docs/BENCHMARKS.md).
"""
import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
WORK = Path("/tmp/vroot-bench")
CACHE = Path("/var/cache/vroot-bench")
VROOT = REPO / "target/release/vroot"


def sh(*args, **kwargs):
    return subprocess.run(args, check=True, **kwargs)


def build_roots():
    CACHE.mkdir(parents=True, exist_ok=True)
    poweroff = CACHE / "busybox-poweroff"
    if not (poweroff / "sbin/vroot-bench-init").exists():
        sh("bash", str(REPO / "examples/build-busybox-root.sh"), str(poweroff), "--poweroff-at-once")
    return poweroff


def vroot_env():
    env = dict(os.environ)
    for key, sub in [("VROOT_CONFIG_DIR", "etc"), ("VROOT_LOG_DIR", "log"), ("VROOT_LIB_DIR", "lib")]:
        (WORK / sub).mkdir(parents=True, exist_ok=True)
        env[key] = str(WORK / sub)
    # State lives on a tmpfs, as /run/vroot does in production.
    env["VROOT_STATE_DIR"] = "/run/vroot-bench"
    return env


def prepare_commands(root):
    """Each tool runs the same root with /sbin/vroot-bench-init as PID 1."""
    init = "/sbin/vroot-bench-init"
    (WORK / "etc").mkdir(parents=True, exist_ok=True)
    (WORK / "etc/bench.toml").write_text(f'root = "{root}"\ninit = ["{init}"]\nhostname = "bench"\n')
    commands = {"vroot": [str(VROOT), "start", "--foreground", "bench"]}

    if shutil.which("lxc-start"):
        lxc_dir = WORK / "lxc/bench"
        lxc_dir.mkdir(parents=True, exist_ok=True)
        (lxc_dir / "config").write_text(
            f"lxc.rootfs.path = dir:{root}\n"
            f"lxc.init.cmd = {init}\n"
            "lxc.uts.name = bench\n"
            "lxc.net.0.type = empty\n"
            "lxc.mount.auto = proc:mixed sys:ro cgroup:mixed\n"
            "lxc.autodev = 1\n"
            "lxc.apparmor.profile = unconfined\n"
            "lxc.log.level = 4\n"
        )
        commands["lxc"] = ["lxc-start", "-P", str(WORK / "lxc"), "-n", "bench", "-F", "-q"]

    if shutil.which("crun"):
        bundle = WORK / "crun"
        bundle.mkdir(parents=True, exist_ok=True)
        config = bundle / "config.json"
        if config.exists():
            config.unlink()
        sh("crun", "spec", cwd=bundle)
        spec = json.loads(config.read_text())
        spec["root"] = {"path": str(root), "readonly": False}
        spec["process"]["args"] = [init]
        spec["process"]["terminal"] = False
        # Powering off is a reboot(2) call: it needs CAP_SYS_BOOT, which crun's default spec drops.
        for kind in ("bounding", "effective", "permitted"):
            spec["process"]["capabilities"].setdefault(kind, []).append("CAP_SYS_BOOT")
        spec["hostname"] = "bench"
        config.write_text(json.dumps(spec))
        # crun refuses hybrid cgroup hosts (ANCHORS 6); give it a pure cgroup2 view
        # in a mount namespace of its own. That costs it an unshare; the floor shows how much.
        crun = f"crun --cgroup-manager=disabled run --bundle {bundle} vroot-bench"
        commands["crun (own cgroup2 view)"] = [
            "unshare", "--mount", "--propagation", "private", "sh", "-c",
            f"umount -l /sys/fs/cgroup && mount -t cgroup2 cgroup2 /sys/fs/cgroup && exec {crun}",
        ]

    if shutil.which("systemd-nspawn"):
        commands["nspawn"] = ["systemd-nspawn", "-q", "--register=no", "--keep-unit", "-D", str(root), init]

    commands["unshare floor"] = [
        "unshare", "--pid", "--fork", "--mount", "--uts", "--ipc", "--net",
        f"--mount-proc={root}/proc", "chroot", str(root), init,
    ]
    return commands


def time_once(command, env):
    start = time.perf_counter_ns()
    result = subprocess.run(command, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = (time.perf_counter_ns() - start) / 1e6
    return elapsed, result


def check_works(commands, env):
    usable = {}
    for name, command in commands.items():
        _, result = time_once(command, env)
        # A PID 1 that powers off dies by SIGINT; tools without a supervisor
        # that classifies it (crun, the unshare floor) report 128 + SIGINT.
        if result.returncode in (0, 128 + 2) or name == "unshare floor":
            usable[name] = command
        else:
            print(f"note: {name} does not run here ({result.returncode}): {result.stderr.decode()[-300:].strip()}", file=sys.stderr)
    return usable


def supervisor_rss(env, root_config):
    (WORK / "etc/rss.toml").write_text(root_config)
    sh(str(VROOT), "start", "rss", env=env, stdout=subprocess.DEVNULL)
    time.sleep(1)
    status = json.loads(subprocess.run([str(VROOT), "status", "rss", "--json"], env=env, capture_output=True).stdout)
    pid = status["supervisor_pid"]
    fields = dict(line.split(":", 1) for line in Path(f"/proc/{pid}/status").read_text().splitlines() if ":" in line)
    sh(str(VROOT), "stop", "rss", "--kill", env=env, stdout=subprocess.DEVNULL)
    return fields["VmRSS"].strip(), fields.get("RssAnon", "").strip()


def poll_running(command_prefix, env=None, deadline_s=60):
    deadline = time.time() + deadline_s
    while time.time() < deadline:
        out = subprocess.run(command_prefix + ["systemctl", "is-system-running", "--wait"], capture_output=True, text=True, env=env).stdout.strip()
        if out in ("running", "degraded"):
            return out
        time.sleep(0.01)
    return "timeout"


def comm(pid):
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return None


def descendants(pid):
    children = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
                ppid = int(stat[stat.rfind(")") + 2:].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid:
                children.append(int(entry.name))
                children.extend(descendants(int(entry.name)))
    return children


def systemd_boot(env, root, runs):
    """Start command -> `systemctl is-system-running --wait` answers inside."""
    (WORK / "etc/sd.toml").write_text(f'root = "{root}"\nhostname = "bench-sd"\n')
    results = {"vroot": [], "nspawn -b": []}
    stops = {"vroot": [], "nspawn -b": []}
    for _ in range(runs):
        start = time.perf_counter()
        sh(str(VROOT), "start", "sd", env=env, stdout=subprocess.DEVNULL)
        state = poll_running([str(VROOT), "exec", "sd", "--"], env)
        results["vroot"].append(((time.perf_counter() - start) * 1000, state))
        start = time.perf_counter()
        stopped = subprocess.run([str(VROOT), "stop", "sd"], env=env, capture_output=True, text=True, check=True).stdout
        stops["vroot"].append(((time.perf_counter() - start) * 1000, "killed" if "killed" in stopped else "clean"))

        if shutil.which("systemd-nspawn"):
            start = time.perf_counter()
            nspawn = subprocess.Popen(["systemd-nspawn", "-q", "-b", "--register=no", "--keep-unit", "-D", str(root)],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            leader = None
            while leader is None and nspawn.poll() is None and time.perf_counter() - start < 30:
                leader = next((p for p in descendants(nspawn.pid) if comm(p) == "systemd"), None)
            state = poll_running(["nsenter", "-t", str(leader), "-m", "-u", "-i", "-n", "-p"]) if leader else "no leader"
            results["nspawn -b"].append(((time.perf_counter() - start) * 1000, state))
            start = time.perf_counter()
            if leader:
                os.kill(leader, 34 + 4)  # SIGRTMIN+4: poweroff
            try:
                nspawn.wait(timeout=30)
                stops["nspawn -b"].append(((time.perf_counter() - start) * 1000, "clean"))
            except subprocess.TimeoutExpired:
                nspawn.kill()
                nspawn.wait()
    # nspawn lets systemd write the machine-id into the root; a shared root keeps it empty.
    (root / "etc/machine-id").write_text("")
    return results, stops


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--systemd-runs", type=int, default=5)
    parser.add_argument("--skip-systemd", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root")
    sh("bash", str(REPO / "scripts/install-deps.sh"), "--bench")
    sh("cargo", "build", "--release", "--quiet", cwd=REPO)
    shutil.rmtree(WORK, ignore_errors=True)
    env = vroot_env()
    root = build_roots()
    commands = check_works(prepare_commands(root), env)

    # Each round runs every tool once, in a fresh random order: a run pays for
    # the asynchronous teardown (network namespace cleanup) of the container
    # before it, so a fixed order would always bill the same tool.
    samples = {name: [] for name in commands}
    rng = random.Random(args.seed)
    for _ in range(args.rounds):
        order = list(commands.items())
        rng.shuffle(order)
        for name, command in order:
            elapsed, _ = time_once(command, env)
            samples[name].append(elapsed)
    medians = {name: statistics.median(values) for name, values in samples.items()}
    lxc = medians.get("lxc")

    uname = os.uname()
    print(f"Machine: {os.cpu_count()} vCPU, kernel {uname.release}; {args.rounds} rounds, each tool once per round in a shuffled order (seed {args.seed}).\n")
    print("| tool | median boot -> poweroff | ratio to lxc |")
    print("|---|---|---|")
    for name, median in sorted(medians.items(), key=lambda item: item[1]):
        ratio = f"{median / lxc:.2f}" if lxc else "n/a"
        print(f"| {name} | {median:.1f} ms | {ratio} |")

    busybox = build_busybox_root()
    rss, anon = supervisor_rss(env, f'root = "{busybox}"\n')
    print(f"\nSupervisor resident memory (busybox root running): VmRSS {rss} (RssAnon {anon}).")

    if not args.skip_systemd:
        debian = CACHE / "debian"
        if not (debian / "sbin/init").exists():
            sh("bash", str(REPO / "examples/build-debian-root.sh"), str(debian))
        results, stops = systemd_boot(env, debian, args.systemd_runs)
        print_runs(f"Systemd root, start -> `systemctl is-system-running --wait` answers (median of {args.systemd_runs})", "answers", results)
        print_runs(f"Systemd root, graceful stop: `vroot stop` returns / nspawn exits after SIGRTMIN+4 (median of {args.systemd_runs})", "how", stops)


def print_runs(title, outcome, runs_by_tool):
    """A Markdown table of (milliseconds, outcome) runs per tool: median and outcomes seen."""
    print(f"\n{title}:\n")
    print(f"| tool | median | {outcome} |")
    print("|---|---|---|")
    for name, runs in runs_by_tool.items():
        if runs:
            print(f"| {name} | {statistics.median(r[0] for r in runs):.0f} ms | {', '.join(sorted(set(r[1] for r in runs)))} |")

def build_busybox_root():
    root = CACHE / "busybox"
    if not (root / "sbin/init").exists():
        sh("bash", str(REPO / "examples/build-busybox-root.sh"), str(root))
    return root


if __name__ == "__main__":
    main()
