"""The suite's cluster: one storage VM and its nodes, wired as a star of
point-to-point links on 127.0.0.1, with every image built (or reused) first."""
import os
import shutil
import subprocess
from pathlib import Path

from . import guests, systemd_node
from .initramfs import ext4_image
from .kernel import Kernel
from .machine import Link, Machine

NODES = {"a": "192.0.2.11", "b": "192.0.2.12"}
# How many NICs each node has, every one linked to its own port on the
# storage VM's bridge. Only eth0 is configured on a node: node B's eth1 is
# left down, without an address, for a container to borrow (mode "phys").
NICS = {"a": 1, "b": 2}
# Ports per run, below 32768 where the ephemeral range starts: two per link.
PORTS_PER_RUN = 8


class Cluster:
    def __init__(self, repo: Path, cache: Path, work: Path, vroot: Path):
        self.repo = repo
        self.work = work
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.kernel = Kernel(cache)
        # Links in a stable order: every node's eth0 first, then the second
        # NICs. The storage VM's ethN is link N; MACs follow from the order.
        wiring = [(index, node, nic) for nic in range(max(NICS.values()))
                  for index, node in enumerate(NODES) if nic < NICS[node]]
        assert 2 * len(wiring) <= PORTS_PER_RUN, wiring
        self.storage_initrd = guests.storage_image(
            self.kernel, work / "staging-storage", work / "storage.cpio.gz", len(wiring))
        self.node_initrd = guests.node_image(
            self.kernel, work / "staging-node", work / "node.cpio.gz", vroot)
        self.export_disk = self._export_disk(cache)
        base = 20000 + (os.getpid() % 1000) * PORTS_PER_RUN
        storage_links, node_links = [], {node: [] for node in NODES}
        for link, (index, node, nic) in enumerate(wiring):
            storage_port, node_port = base + 2 * link, base + 2 * link + 1
            storage_links.append(Link(storage_port, node_port, f"52:54:00:00:01:{link:02x}"))
            node_links[node].append(
                Link(node_port, storage_port, f"52:54:00:00:{2 + nic:02x}:{index:02x}"))
        self.nodes = {}
        for node, address in NODES.items():
            disk = ext4_image(work / f"node-{node}.img", 256, label=f"node-{node}")
            self.nodes[node] = Machine(
                f"node-{node}", work, self.kernel.image, self.node_initrd,
                f"vroot_node={node} vroot_ip={address}", memory_mb=384, disks=[disk],
                links=node_links[node])
        self.storage = Machine("storage", work, self.kernel.image, self.storage_initrd,
                               "", memory_mb=320, disks=[self.export_disk],
                               links=storage_links)
        # The systemd node boots once node A has powered off, on node A's
        # links and address.
        self.systemd_node = Machine(
            "node-s", work, self.kernel.image,
            systemd_node.boot_image(self.kernel, work / "staging-systemd",
                                    work / "systemd-boot.cpio.gz"),
            "net.ifnames=0 systemd.status_unit_format=name", memory_mb=512,
            disks=[systemd_node.disk_image(debian_root(repo, cache), work, vroot,
                                           NODES["a"])],
            links=node_links["a"])

    def _export_disk(self, cache: Path) -> Path:
        """The storage VM's disk: an ext4 image whose export holds the busybox
        shared root (built once, cached), copied afresh for every run, with
        the suite's guest helpers added."""
        root = cache / "shared-root-bb"
        if not (root / ".complete").exists():
            shutil.rmtree(root, ignore_errors=True)
            subprocess.run(["bash", str(self.repo / "examples/build-busybox-root.sh"), str(root)],
                           check=True, stdout=subprocess.DEVNULL)
            (root / ".complete").write_text("")
        tree = self.work / "export-tree"
        (tree / "export").mkdir(parents=True)
        subprocess.run(["cp", "-a", str(root), str(tree / "export/bb")], check=True)
        (tree / "export/bb/.complete").unlink()
        # The storage-death scenario's writer, static like everything the
        # busybox root runs.
        writer = tree / "export/bb/usr/local/bin/held-writer"
        writer.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cc", "-static", "-O1", "-o", str(writer),
                        str(self.repo / "tests/vm/guest/held_writer.c")], check=True)
        return ext4_image(self.work / "export.img", 512, source=tree, label="export")

    def start_storage(self):
        self.storage.start()
        self.storage.wait_ready("^VROOT-STORAGE-READY", timeout=90)

    def start_node(self, node: str) -> Machine:
        machine = self.nodes[node]
        machine.start()
        machine.wait_ready(f"^VROOT-NODE-READY node-{node}", timeout=90)
        return machine

    def stop_all(self):
        """Kills every machine, even when killing one fails (or a signal
        interrupts it); then raises the first failure."""
        failure = None
        for machine in [*self.nodes.values(), self.systemd_node, self.storage]:
            try:
                machine.kill()
            except BaseException as error:  # noqa: BLE001 - the others still go
                failure = failure or error
        if failure is not None:
            raise failure


def fnv1a(data: bytes) -> int:
    """The integration tests' cache key (tests/integration/harness.rs)."""
    value = 0xCBF29CE484222325
    for byte in data:
        value = ((value ^ byte) * 0x100000001B3) % (1 << 64)
    return value


def debian_root(repo: Path, cache: Path) -> Path:
    """The Debian systemd root of examples/build-debian-root.sh. The
    integration tests build the same one first (CI runs them before this
    suite): their copy is reused when it is there, keyed as they key it."""
    script = repo / "examples/build-debian-root.sh"
    key = f"{fnv1a(script.read_bytes()):016x}"
    roots = Path(os.environ.get("VROOT_TEST_ROOTS", "/var/cache/vroot-test/roots"))
    for root in [roots / f"debian-{key}", cache / f"debian-{key}"]:
        if (root / ".vroot-test-complete").exists():
            return root
    root = cache / f"debian-{key}"
    subprocess.run(["bash", str(script), str(root)], check=True, stdout=subprocess.DEVNULL)
    (root / ".vroot-test-complete").write_text("")
    return root
