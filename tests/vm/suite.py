#!/usr/bin/env python3
"""vroot's VM suite: an NFS storage VM and two node VMs under QEMU software
emulation, each node's bootstrap OS a busybox initramfs with a static vroot.

    tests/vm/run.sh          # installs, builds, then runs this

Scenarios, in order, on one cluster:
1. a shared root over NFS: a reboot typed inside comes back, `vroot restart`
   works, and the node's own OS keeps running throughout;
2. two nodes, one root: writes cross, identities differ, per-host files stay
   on each node's local disk and never reach the export;
3. container networking on the node's NIC: ipvlan and macvlan containers
   reach the storage VM (the host kernel of the other tests has no ipvlan);
   a real NIC lent to a container (mode "phys") comes back to the node, under
   its name and with its MAC, on a stop, and on a fence, and is lent again
   after a reboot inside;
4. the storage dies under a writing container: the node stays responsive,
   fence_vroot fences within its bound, the storage comes back, and the
   container starts again;
5. /proc/kcore and sysrq, which the host kernel of the other tests lacks:
   both work on the node and do nothing from its container;
6. on pure cgroup v2, the BPF device program keeps the node's disk out of
   the container's reach: mknod and open of a node for it fail inside;
7. a user-namespace container on NFS: the root is shifted over NFS, the
   init runs as an unprivileged host user, fusectl is refused, and its
   cgroup2 subtree is delegated;
8. the node's OS shuts down: containers stop before the NFS mount is
   released, and the VM powers off without hanging;
9. a node whose OS runs systemd, booted from a disk in node A's place:
   the operations guide's "Start at boot" commands, run as written, start
   the container through its unit; it logs to the journal, runs again by
   itself after a reboot, and every shutdown stops it before the storage.
"""
import argparse
import json
import shutil
import signal
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from vmlib.cluster import Cluster  # noqa: E402
from vmlib.guests import EXPORT, STORAGE_IP  # noqa: E402
from vmlib.machine import CommandTimeout  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
VROOT = REPO / "target/static/x86_64-unknown-linux-gnu/release/vroot"

# What the fence must take at most, as documented for `fence_vroot`
# (its default timeout), plus the agent's own start.
FENCE_BOUND_S = 12.0


def wait_for(what, predicate, timeout):
    """Polls PREDICATE until it returns a true value. A guest command that
    times out inside it counts as "not yet": the next one reads past its
    late output."""
    deadline = time.monotonic() + timeout
    last_timeout = None
    while True:
        try:
            value = predicate()
        except CommandTimeout as error:
            value, last_timeout = False, error
        if value:
            return value
        if time.monotonic() > deadline:
            detail = f" (last: {last_timeout})" if last_timeout else ""
            raise AssertionError(f"timed out after {timeout}s waiting for {what}{detail}")
        time.sleep(0.5)


def try_quietly(node, command, timeout=60):
    """Cleanup on a failure path: runs COMMAND, ignores how it ends."""
    try:
        node.run(command, timeout)
    except Exception:  # noqa: BLE001 - the scenario's own error is the one to report
        pass


def status(node, name="web"):
    code, output = node.run(f"vroot status {name} --json", timeout=20)
    try:
        return json.loads(output)
    except json.JSONDecodeError:
        raise AssertionError(f"{node.name}: vroot status {name} said ({code}): {output}")


def uptime(node):
    return float(node.ok("cut -d' ' -f1 /proc/uptime"))


def timed(node, command, timeout):
    """Runs COMMAND; returns (status, output, seconds measured in the guest)."""
    code, output = node.run(
        f"t0=$(cut -d' ' -f1 /proc/uptime); {{ {command}; }}; rc=$?; "
        f"t1=$(cut -d' ' -f1 /proc/uptime); "
        f"echo; echo \"@elapsed $(awk \"BEGIN {{ print $t1 - $t0 }}\")\"; (exit $rc)",
        timeout)
    body, _, tail = output.rpartition("@elapsed ")
    return code, body.strip(), float(tail.strip())


def set_up_node(node):
    """The guide's "Set up each node", as written: the storage is mounted
    and answers, and the per-host layer is made on the node's own disk."""
    outputs = [node.ok(command, 120) for command in guide_commands("Set up each node")]
    print("  " + outputs[0])
    assert outputs[1].startswith("answers"), f"{node.name}: storage status: {outputs[1]}"
    assert "per-host layer /var/lib/vroot/hosts/web ready" in outputs[2], outputs[2]
    layer = [line.split() for line in outputs[3].splitlines() if line.startswith("/etc/")]
    assert ["/etc/machine-id", "gen"] in [entry[:2] for entry in layer], outputs[3]
    assert all(entry[-1] == "ok" for entry in layer), f"{node.name}: {outputs[3]}"


def shared_root_over_nfs_reboots_without_the_host(cluster, facts):
    a = cluster.nodes["a"]
    set_up_node(a)
    mount = a.ok("grep ' /vz/private ' /proc/self/mountinfo")
    assert " - nfs4 " in mount and f"{STORAGE_IP}:{EXPORT}" in mount, mount
    assert ",hard," in mount and "nosharecache" in mount, f"not hard, nosharecache: {mount}"
    a.ok("vroot start web", 60)
    first = status(a)
    assert first["state"] == "running", first
    host_boot = a.ok("cat /proc/sys/kernel/random/boot_id")
    qemu = a.process.pid
    before = uptime(a)
    a.ok("vroot exec web -- sh -c 'echo kept > /root/scenario-1'")

    # `reboot` typed inside: busybox's reboot signals the container's init.
    # Its own status does not count: the container's teardown may kill it.
    a.run("vroot exec web -- reboot")
    rebooted = wait_for(
        "the container to boot again",
        lambda: (lambda s: s if s["boot_count"] == first["boot_count"] + 1
                 and s["state"] == "running" else None)(status(a)),
        90)
    assert rebooted["init_pid"] != first["init_pid"], rebooted
    assert a.ok("vroot exec web -- cat /root/scenario-1") == "kept"
    log = a.ok("cat /var/log/vroot/web.log")
    assert f"boot {rebooted['boot_count']} started" in log, log

    restarted_from = status(a)
    a.ok("vroot restart web", 120)
    restarted = status(a)
    assert restarted["state"] == "running", restarted
    assert restarted["init_pid"] != restarted_from["init_pid"], restarted

    # The node's own OS never went down.
    assert a.alive() and a.process.pid == qemu
    assert a.ok("cat /proc/sys/kernel/random/boot_id") == host_boot, "the node rebooted"
    assert uptime(a) > before
    facts["reboot"] = f"boot_count {first['boot_count']} -> {rebooted['boot_count']}, node boot id kept"


def two_nodes_share_one_root(cluster, facts):
    a, b, storage = cluster.nodes["a"], cluster.nodes["b"], cluster.storage
    set_up_node(b)
    for node in (a, b):
        code, report = node.run("vroot doctor", 60)
        assert code == 0, f"{node.name}: vroot doctor failed on a set-up node:\n{report}"
    b.ok("vroot start web", 60)
    token = f"written-on-node-a-{int(time.time())}"
    a.ok(f"vroot exec web -- sh -c 'echo {token} > /root/cluster-note'")
    wait_for("node B's container to read node A's write",
             lambda: b.run("vroot exec web -- cat /root/cluster-note")[1].strip() == token, 20)

    assert a.ok("vroot exec web -- hostname") == "node-a"
    assert b.ok("vroot exec web -- hostname") == "node-b"
    ids = {}
    for node in (a, b):
        ids[node.name] = node.ok("vroot exec web -- cat /etc/machine-id")
        assert len(ids[node.name]) == 32, ids
        # Per-host files live under /var/lib/vroot, which is the node's own
        # disk, and the container's machine-id is the layer's file.
        local = node.ok("grep ' /var/lib/vroot ' /proc/self/mountinfo")
        assert " - ext4 /dev/vda " in local, local
        layer_file = node.ok("find /var/lib/vroot/hosts/web/root -name machine-id | head -1")
        assert layer_file, "no machine-id in the per-host layer"
        assert node.ok(f"cat {layer_file}") == ids[node.name]
    assert ids["node-a"] != ids["node-b"], ids

    # The export holds no node's identity and no per-host layer.
    for machine_id in ids.values():
        # Regular files only: the shared root has device nodes.
        code, found = storage.run(
            f"find {EXPORT} -type f -size -4096k | xargs grep -l {machine_id}", timeout=120)
        # grep lists the files that match; xargs exits 123 when none does.
        assert code == 123 and found.strip() == "", \
            f"a node's machine-id is on the export ({code}): {found}"
    assert storage.run(f"find {EXPORT} -name hosts -path '*vroot*'")[1].strip() == ""
    facts["two nodes"] = "write crossed; hostnames node-a/node-b; machine-ids differ; layers on /dev/vda"


def containers_reach_the_cluster_network_through_the_node_nic(cluster, facts):
    b, storage = cluster.nodes["b"], cluster.storage
    links_before = b.ok("ip -o link | cut -d: -f2 | sort")
    started = []
    try:
        for name, mode, address in [("ipv", "ipvlan", "192.0.2.21"),
                                    ("macv", "macvlan", "192.0.2.22")]:
            b.ok(f"cat > /etc/vroot/{name}.toml <<'EOF'\n"
                 f"root = \"/vz/private/bb\"\nstop_timeout = 10\n"
                 f"[network]\nmode = \"{mode}\"\nparent = \"eth0\"\naddress = \"{address}/24\"\n"
                 f"EOF")
            started.append(name)
            b.ok(f"vroot start {name}", 60)
            b.ok(f"vroot exec {name} -- ping -c1 -W5 {STORAGE_IP}", 30)
            storage.ok(f"ping -c1 -W5 {address}", 30)
            b.ok(f"vroot stop {name}", 60)
            started.remove(name)
        assert b.ok("ip -o link | cut -d: -f2 | sort") == links_before, "a link is left on node B"
    finally:
        for name in started:
            try_quietly(b, f"vroot stop --kill {name}")
    facts["networking"] = "ipvlan and macvlan on eth0 reach the storage VM both ways"


LENT_ADDRESS = "192.0.2.31"


def node_links(node):
    """The node's link names (`eth0`, not `eth0@if2`)."""
    return {line.split(":")[1].strip().split("@")[0]
            for line in node.ok("ip -o link").splitlines() if ":" in line}


def assert_nic_home(node, mac, when):
    """NODE has eth1 back, under its own name, with MAC, and no alias left."""
    links = node_links(node)
    assert "eth1" in links, f"{when}: eth1 is not back on the node: {sorted(links)}"
    assert node.ok("cat /sys/class/net/eth1/address") == mac, f"{when}: eth1 has another MAC"
    alias = node.ok("cat /sys/class/net/eth1/ifalias")
    assert alias == "", f"{when}: eth1 kept an alias: {alias!r}"


def assert_nic_lent(node, storage, mac, when):
    """NODE's eth1 is inside `lend` as net0, with MAC, and reaches STORAGE
    both ways."""
    assert "eth1" not in node_links(node), f"{when}: eth1 is still on the node"
    inside = node.ok("vroot exec lend -- ip -o link show net0")
    assert mac in inside.lower(), f"{when}: net0 in the container is not eth1 ({mac}): {inside}"
    node.ok(f"vroot exec lend -- ping -c1 -W5 {STORAGE_IP}", 30)
    storage.ok(f"ping -c1 -W5 {LENT_ADDRESS}", 30)


def a_lent_nic_comes_back_on_stop_reboot_and_fence(cluster, facts):
    b, storage = cluster.nodes["b"], cluster.storage
    b.ok("cat > /etc/vroot/lend.toml <<'EOF'\n"
         "root = \"/vz/private/bb\"\nstop_timeout = 10\n"
         "[network]\nmode = \"phys\"\ndevice = \"eth1\"\nname = \"net0\"\n"
         f"address = \"{LENT_ADDRESS}/24\"\n"
         "EOF")
    mac = b.ok("cat /sys/class/net/eth1/address").lower()
    clean = False
    try:
        b.ok("vroot start lend", 60)
        assert_nic_lent(b, storage, mac, "after start")

        # A reboot inside: the supervisor takes the NIC back at the init's
        # end and lends it again for the next boot.
        first = status(b, "lend")
        b.run("vroot exec lend -- reboot")
        wait_for("`lend` to boot again",
                 lambda: (lambda s: s["boot_count"] == first["boot_count"] + 1
                          and s["state"] == "running")(status(b, "lend")),
                 90)
        assert_nic_lent(b, storage, mac, "after a reboot inside")
        log = b.ok("cat /var/log/vroot/lend.log")
        released = [line for line in log.splitlines() if "network released" in line]
        assert released, f"no `network released` in lend.log:\n{log}"

        b.ok("vroot stop lend", 60)
        assert_nic_home(b, mac, "after stop")

        b.ok("vroot start lend", 60)
        assert_nic_lent(b, storage, mac, "after the second start")
        code, output, seconds = timed(b, "fence_vroot -o off -n lend", 60)
        assert code == 0, f"fence_vroot failed ({code}): {output}"
        assert_nic_home(b, mac, "after the fence")
        b.ok("vroot unfence lend")
        code, output = b.run("vroot status lend", 20)
        assert code == 3, f"`vroot status lend` says {code}, not 3 (not running): {output}"
        clean = True
    finally:
        if not clean:
            try_quietly(b, "vroot stop --kill lend")
            try_quietly(b, "vroot unfence lend")
    facts["lent NIC"] = (f"eth1 ({mac}) lent as net0; back with its name, MAC and no alias "
                         f"on stop and after a {seconds:.2f}s fence; on reboot: "
                         f"{released[-1].split('network released: ', 1)[-1]}")


# The writer's tasks in node A's container (every cgroup below web's, e.g.
# `payload`) that sleep waiting for page writeback: "PID COMM" lines. That
# wait is uninterruptible (state D alone would also match the killable RPC
# waits, which a kill ends by itself). Reads only cgroupfs and /proc, never
# the NFS mount.
WRITEBACK_WAITERS = (
    "find /sys/fs/cgroup/vroot/web -name cgroup.procs | xargs cat | while read -r pid; do "
    "grep -qE 'wait_writeback|fdatawait|wait_on_page_writeback' /proc/$pid/stack 2>/dev/null "
    "&& echo \"$pid $(cat /proc/$pid/comm 2>/dev/null)\"; done; true"
)


# The host pid of the container's held writer once its pages are dirty
# (tests/vm/guest/held_writer.c renames itself then); read from cgroupfs and
# /proc only.
HELD_WRITER = (
    "find /sys/fs/cgroup/vroot/web -name cgroup.procs | xargs cat | while read -r pid; do "
    "[ \"$(cat /proc/$pid/comm 2>/dev/null)\" = writer-holding ] && echo $pid; done; true"
)


def storage_death_is_fenced_and_recovers(cluster, facts):
    a, b = cluster.nodes["a"], cluster.nodes["b"]
    # The container keeps writing while the storage dies: three loops of
    # 4 MiB written and synced.
    for writer in range(3):
        a.ok(f"vroot exec web -- sh -c 'while :; do dd if=/dev/zero of=/root/writer{writer} "
             f"bs=256k count=16 conv=fsync; done >/dev/null 2>&1 &'")
    # Those may be caught in a killable RPC wait. The held writer makes
    # certain a task sleeps in page writeback, out of a kill's reach: it
    # dirties 4 MiB, and fsyncs only when signalled after the storage died.
    a.ok("vroot exec web -- sh -c '/usr/local/bin/held-writer /root/held >/dev/null 2>&1 &'")
    held = wait_for("the held writer to dirty its pages", lambda: a.ok(HELD_WRITER, 10), 30)
    time.sleep(1)
    cluster.storage.kill()
    a.ok(f"kill -USR1 {held.split()[0]}")
    # The fence must meet a task stuck in NFS writeback, on two looks in a row.
    looks = []

    def stuck():
        looks.append(set(a.ok(WRITEBACK_WAITERS, 10).splitlines()))
        return len(looks) >= 2 and looks[-1] & looks[-2]

    stuck_tasks = wait_for("a task of `web` waiting on NFS writeback", stuck, 30)

    # The bootstrap OS answers, and so does vroot's status, from the host side.
    code, _, seconds = timed(a, "echo alive", 10)
    assert code == 0 and seconds < 5, seconds
    code, output, seconds = timed(a, "vroot status web", 15)
    assert seconds < 3, f"status took {seconds}s: {output}"

    code, output, seconds = timed(a, "fence_vroot -o off -n web", 60)
    assert code == 0, f"fence_vroot failed ({code}): {output}"
    assert seconds <= FENCE_BOUND_S, f"the fence took {seconds}s"
    fenced = status(a)
    assert fenced["state"] == "fenced", fenced
    outcome = fenced["fenced"].get("outcome", "")
    assert outcome.startswith("fenced in ") and "NOT verified" not in outcome, outcome
    # The writer slept in writeback, out of a kill's reach: only the forced
    # unmount of a private clone of the NFS mount freed it, and the host's
    # own mount is still there.
    assert f"storage released: nfs4 {STORAGE_IP}:{EXPORT}" in outcome, outcome
    assert a.ok("grep -c ' /vz/private ' /proc/self/mountinfo") == "1"
    assert a.ok("cat /sys/fs/cgroup/vroot/web/cgroup.procs 2>/dev/null | wc -l") == "0"
    assert a.ok("echo still-here") == "still-here" and a.alive()
    facts["fence"] = (f"fence_vroot -o off took {seconds:.2f}s with "
                      f"{', '.join(sorted(stuck_tasks))} in writeback; {outcome}")
    code, _ = a.run("fence_vroot -o status -n web", 30)
    assert code == 2, f"fence_vroot status says {code}, not off (2)"

    # The storage comes back: the node's mount answers again, and the
    # container can be started.
    cluster.start_storage()
    wait_for("node A's storage to answer", lambda: a.run("vroot storage status", 30)[0] == 0, 120)
    a.ok("fence_vroot -o on -n web", 120)
    assert status(a)["state"] == "running"
    assert a.ok("vroot exec web -- cat /root/cluster-note").startswith("written-on-node-a")
    # Node B, never fenced, carries on once its hard mount recovers.
    wait_for("node B's container to answer again",
             lambda: b.run("vroot exec web -- cat /root/cluster-note", 60)[0] == 0, 120)


def kcore_and_sysrq_stay_out_of_reach(cluster, facts):
    """Two escape attempts the other tests' host kernel cannot show (it has
    neither /proc/kcore nor sysrq): each works on the node and does nothing
    from inside its container."""
    b = cluster.nodes["b"]
    # The node's root reads the kernel's memory image; the container's gets
    # nothing from it.
    assert b.ok("head -c 16 /proc/kcore | wc -c") == "16"
    inside = b.run("vroot exec web -- sh -c 'head -c 16 /proc/kcore | wc -c'")[1].strip()
    assert inside.splitlines()[-1].strip() == "0", f"the container read /proc/kcore: {inside}"

    # sysrq `h` (help: harmless) prints to the kernel log on the node; from
    # inside, the write may seem to succeed, but nothing reaches the kernel.
    helps = lambda: int(b.ok("dmesg | grep -c 'sysrq: HELP' || true") or 0)  # noqa: E731
    before = helps()
    b.ok("echo h > /proc/sysrq-trigger")
    wait_for("the node's own sysrq to reach its kernel log", lambda: helps() == before + 1, 10)
    b.run("vroot exec web -- sh -c 'echo h > /proc/sysrq-trigger'")
    time.sleep(1)
    assert helps() == before + 1, "a sysrq written inside the container reached the kernel"
    facts["kcore, sysrq"] = "readable and effective on the node, not from its container"


def the_node_disk_stays_out_of_reach_on_cgroup_v2(cluster, facts):
    """Node B's cgroups are pure v2, which has no devices controller: only
    vroot's BPF device program keeps the container (whose root keeps
    CAP_MKNOD) from making or opening a node for the node's disk."""
    b = cluster.nodes["b"]
    assert b.ok("test -e /sys/fs/cgroup/cgroup.controllers && echo v2") == "v2"
    assert b.ok("grep -c ' - cgroup ' /proc/self/mountinfo || true") == "0", "node B has v1 cgroups"
    major, minor = b.ok("cat /sys/block/vda/dev").split(":")
    # On the node, root makes a node for its disk and reads through it.
    b.ok(f"rm -f /tmp/vroot-blk && mknod /tmp/vroot-blk b {major} {minor}")
    try:
        assert b.ok("head -c 512 /tmp/vroot-blk | wc -c") == "512"
    finally:
        try_quietly(b, "rm -f /tmp/vroot-blk")

    code, output = b.run(f"vroot exec web -- mknod /dev/vroot-blk b {major} {minor}")
    if code == 0:
        try_quietly(b, "vroot exec web -- rm -f /dev/vroot-blk")
    assert code != 0 and "Operation not permitted" in output, \
        f"mknod of the node's disk inside the container ({code}): {output}"
    # A node planted from the node (through the init's root, in the
    # container's own /dev) exists inside but does not open.
    planted = f"/proc/{status(b)['init_pid']}/root/dev/vroot-planted"
    b.ok(f"mknod {planted} b {major} {minor}")
    try:
        code, output = b.run("vroot exec web -- head -c 512 /dev/vroot-planted")
        assert code != 0 and "Operation not permitted" in output, \
            f"the container read the node's disk ({code}): {output[:200]!r}"
    finally:
        try_quietly(b, f"rm -f {planted}")
    facts["devices on cgroup v2"] = (f"vda ({major}:{minor}) made and read on node B; "
                                     "from its container, mknod and open get EPERM")


def a_user_namespace_container_runs_on_the_nfs_root(cluster, facts):
    """[security] userns = true on NFS, which has no idmapped mounts: the
    root is shifted over NFS (owners 100000.. on the server too), and the
    container's root is an unprivileged host user on a pure cgroup v2 node."""
    b, storage = cluster.nodes["b"], cluster.storage
    b.ok("cp -a /vz/private/bb /vz/private/ub", 120)
    b.ok("cat > /etc/vroot/uweb.toml <<'EOF'\n"
         "root = \"/vz/private/ub\"\nstop_timeout = 10\n[security]\nuserns = true\nEOF")
    code, output = b.run("vroot start uweb", 60)
    assert code != 0 and "vroot userns shift uweb" in output, \
        f"an unshifted root was not refused ({code}): {output}"
    shifted = b.ok("vroot userns shift uweb", 120)
    assert "uweb: root: " in shifted, shifted
    assert storage.ok(f"stat -c %u {EXPORT}/ub/bin") == "100000", "the server sees other owners"
    started = False
    try:
        b.ok("vroot start uweb", 60)
        started = True
        init_uid = b.ok(f"grep ^Uid: /proc/{status(b, 'uweb')['init_pid']}/status").split()[1]
        assert init_uid == "100000", f"the init runs as host uid {init_uid}"
        b.ok("vroot exec uweb -- sh -c 'echo userns > /root/userns-note'")
        assert storage.ok(f"stat -c %u:%g {EXPORT}/ub/root/userns-note") == "100000:100000"
        code, output = b.run("vroot exec uweb -- sh -c "
                             "'mkdir -p /tmp/m && mount -t fusectl none /tmp/m'")
        assert code != 0, f"fusectl mounted inside a user namespace: {output}"
        # Its cgroup is delegated: it makes children of its own.
        b.ok("vroot exec uweb -- mkdir /sys/fs/cgroup/userns-child")
        b.ok("vroot stop uweb", 60)
        started = False
    finally:
        if started:
            try_quietly(b, "vroot stop --kill uweb")
    facts["user namespace"] = ("root shifted over NFS (server sees 100000); init is host uid "
                               "100000; fusectl refused; cgroup2 subtree delegated")


def shutdown_stops_containers_before_the_storage(cluster, facts):
    a = cluster.nodes["a"]
    assert status(a)["state"] == "running"
    a.send("poweroff")
    if not a.wait_exit(120):
        raise AssertionError(f"node A did not power off within 120s:\n{a.tail(40)}")
    lines = [line.split() for line in a.console_text().splitlines()
             if line.startswith("VROOT-SHUTDOWN ")]
    steps = [line[1] for line in lines]
    assert steps == ["begin", "containers-stopped", "storage-unmounted"], lines
    assert lines[1][2] == "0", f"vroot stop --all failed: {lines}"
    assert lines[2][2] == "0", f"vroot storage umount failed: {lines}"
    assert float(lines[1][3]) <= float(lines[2][3])
    stopped_line = next((l for l in a.console_text().splitlines() if "web: stopped" in l), None)
    assert stopped_line, "no `web: stopped` on the console"
    facts["shutdown"] = (f"containers stopped at {lines[1][3]}s, storage unmounted at "
                         f"{lines[2][3]}s of uptime, then powered off")


def guide_commands(section):
    """The commands of the first ```sh block under SECTION in
    docs/operations.md, without their comments: the guide's own text is what
    runs, so that it cannot drift from what works."""
    text = (REPO / "docs/operations.md").read_text()
    body = text.split(f"\n## {section}\n", 1)[1]
    block = body.split("```sh\n", 1)[1].split("```", 1)[0]
    commands = [line.split(" #", 1)[0].strip() for line in block.splitlines()]
    return [command for command in commands if command]


def stop_lines(machine, units):
    """Where on the console systemd reported each of UNITS stopped."""
    lines = machine.console_text().splitlines()
    found = {}
    for unit in units:
        found[unit] = next((number for number, line in enumerate(lines)
                            if "Stopped" in line and unit in line), None)
        assert found[unit] is not None, \
            f"{machine.name}: no `Stopped {unit}` on the console:\n{machine.tail(60)}"
    return found


def shut_down_in_order(machine, command, what):
    """Runs COMMAND (a reboot or a poweroff); the VM must end in bounded
    time, with the container stopped before the storage."""
    machine.send(command)
    if not machine.wait_exit(120):
        raise AssertionError(f"{machine.name}: `{command}` did not end within 120s:\n"
                             f"{machine.tail(40)}")
    order = stop_lines(machine, ["vroot@web.service", "vroot-storage.service"])
    assert order["vroot@web.service"] < order["vroot-storage.service"], \
        f"{what}: the storage stopped before the container: {order}"


def the_units_start_the_container_at_boot_on_a_systemd_node(cluster, facts):
    """The guide's "Start at boot", run as written on a node whose OS runs
    systemd (the busybox nodes cannot run units): the container runs
    through vroot@web.service, logs to the journal, and starts again by
    itself when the node boots; a reboot and a poweroff stop it before the
    storage. The node takes node A's place (A powered off above)."""
    for machine in cluster.nodes.values():
        machine.kill()
    node = cluster.systemd_node
    node.start()
    node.wait_ready("^VROOT-SYSTEMD-NODE-READY", timeout=180)
    assert node.ok("systemctl is-system-running --wait", 120) == "running"
    set_up_node(node)
    commands = guide_commands("Start at boot")
    enable = next(command for command in commands if "enable --now" in command)
    assert commands[-1] == "vroot doctor", commands
    for command in commands:
        # `node.ok`: doctor exits 0 only when every check passes.
        node.ok(command, 120)
    wait_for("web to run", lambda: status(node)["state"] == "running", 60)
    node.ok("systemctl is-active vroot-storage.service vroot@web.service")
    storage = json.loads(node.ok("vroot storage status --json", 30))
    assert storage["mounted"] and storage["health"] == "healthy", storage
    main_pid = int(node.ok("systemctl show -P MainPID vroot@web.service"))
    assert status(node)["supervisor_pid"] == main_pid, "the unit's main process supervises"
    journal = node.ok("journalctl VROOT_CONTAINER=web -o cat --no-pager", 30)
    assert "boot 1 started" in journal, f"the supervisor's log is not in the journal:\n{journal}"
    assert node.ok("vroot exec web -- hostname") == "node-s"

    shut_down_in_order(node, "systemctl reboot", "reboot")
    node.start()
    node.wait_ready("^VROOT-SYSTEMD-NODE-READY", timeout=180)
    # Nothing is started by hand this time: the units do it at boot.
    began = time.monotonic()
    wait_for("web to run after the boot", lambda: status(node)["state"] == "running", 120)
    at_boot = time.monotonic() - began
    assert node.ok("vroot exec web -- hostname") == "node-s"
    assert node.ok("systemctl is-active vroot@web.service") == "active"
    shut_down_in_order(node, "systemctl poweroff", "poweroff")
    facts["systemd node"] = (f"guide's `{enable}` ran web; doctor passed; journal has its log; after a "
                             f"reboot it ran again by itself ({at_boot:.1f}s after the node was "
                             "ready); reboot and poweroff stopped it before the storage")


SCENARIOS = [
    shared_root_over_nfs_reboots_without_the_host,
    two_nodes_share_one_root,
    containers_reach_the_cluster_network_through_the_node_nic,
    a_lent_nic_comes_back_on_stop_reboot_and_fence,
    storage_death_is_fenced_and_recovers,
    kcore_and_sysrq_stay_out_of_reach,
    the_node_disk_stays_out_of_reach_on_cgroup_v2,
    a_user_namespace_container_runs_on_the_nfs_root,
    shutdown_stops_containers_before_the_storage,
    the_units_start_the_container_at_boot_on_a_systemd_node,
]


def exit_on_signal(signum, _frame):
    """SIGTERM, SIGHUP and SIGINT end the suite through its `finally`, which
    kills every QEMU. Later ones are ignored, so that the cleanup finishes."""
    for other in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(other, signal.SIG_IGN)
    print(f"\nsignal {signal.Signals(signum).name}: stopping every machine", flush=True)
    raise SystemExit(128 + signum)


def main():
    for signum in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT):
        signal.signal(signum, exit_on_signal)
    parser = argparse.ArgumentParser()
    parser.add_argument("--work", default="/tmp/vroot-vm-suite")
    parser.add_argument("--cache", default="/var/cache/vroot-vm")
    parser.add_argument("--keep", action="store_true",
                        help="keep --work (images and logs) even when every scenario passes")
    arguments = parser.parse_args()
    started = time.monotonic()
    cluster = Cluster(REPO, Path(arguments.cache), Path(arguments.work), VROOT)
    print(f"images ready in {time.monotonic() - started:.1f}s")
    failures = []
    facts = {}
    try:
        cluster.storage.start()
        for node in cluster.nodes.values():
            node.start()
        cluster.storage.wait_ready("^VROOT-STORAGE-READY", timeout=120)
        for name, node in cluster.nodes.items():
            node.wait_ready(f"^VROOT-NODE-READY node-{name}", timeout=120)
        print(f"cluster up in {time.monotonic() - started:.1f}s")
        for scenario in SCENARIOS:
            began = time.monotonic()
            try:
                scenario(cluster, facts)
                print(f"PASS {scenario.__name__} ({time.monotonic() - began:.1f}s)")
            except Exception as error:  # noqa: BLE001 - every failure is reported
                failures.append(scenario.__name__)
                print(f"FAIL {scenario.__name__} ({time.monotonic() - began:.1f}s): {error}")
                traceback.print_exc()
                for machine in [*cluster.nodes.values(), cluster.systemd_node,
                                cluster.storage]:
                    print(f"--- {machine.name} console tail ---\n{machine.tail(25)}")
    except SystemExit:
        print(f"interrupted; consoles, QEMU output and images: {arguments.work}", flush=True)
        raise
    finally:
        cluster.stop_all()
    for key, value in facts.items():
        print(f"  {key}: {value}")
    print(f"VM suite: {len(SCENARIOS) - len(failures)}/{len(SCENARIOS)} passed "
          f"in {time.monotonic() - started:.1f}s")
    if failures or arguments.keep:
        print(f"consoles, QEMU output and images: {arguments.work}")
    else:
        shutil.rmtree(arguments.work, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
