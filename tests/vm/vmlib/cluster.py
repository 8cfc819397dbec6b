"""The suite's cluster: one storage VM and its nodes, wired as a star of
point-to-point links on 127.0.0.1, with every image built (or reused) first."""
import os
import shutil
import subprocess
from pathlib import Path

from . import guests
from .initramfs import ext4_image
from .kernel import Kernel
from .machine import Link, Machine

NODES = {"a": "192.0.2.11", "b": "192.0.2.12"}


class Cluster:
    def __init__(self, repo: Path, cache: Path, work: Path, vroot: Path):
        self.repo = repo
        self.work = work
        shutil.rmtree(work, ignore_errors=True)
        work.mkdir(parents=True)
        self.kernel = Kernel(cache)
        self.storage_initrd = guests.storage_image(
            self.kernel, work / "staging-storage", work / "storage.cpio.gz", len(NODES))
        self.node_initrd = guests.node_image(
            self.kernel, work / "staging-node", work / "node.cpio.gz", vroot)
        self.export_disk = self._export_disk(cache)
        base = 20000 + (os.getpid() % 2000) * 8
        storage_links, self.nodes = [], {}
        for index, (node, address) in enumerate(NODES.items()):
            storage_port, node_port = base + 2 * index, base + 2 * index + 1
            storage_links.append(Link(storage_port, node_port, f"52:54:00:00:01:{index:02x}"))
            disk = ext4_image(work / f"node-{node}.img", 256, label=f"node-{node}")
            self.nodes[node] = Machine(
                f"node-{node}", work, self.kernel.image, self.node_initrd,
                f"vroot_node={node} vroot_ip={address}", memory_mb=384, disks=[disk],
                links=[Link(node_port, storage_port, f"52:54:00:00:02:{index:02x}")])
        self.storage = Machine("storage", work, self.kernel.image, self.storage_initrd,
                               "", memory_mb=320, disks=[self.export_disk],
                               links=storage_links)

    def _export_disk(self, cache: Path) -> Path:
        """The storage VM's disk: an ext4 image whose export holds the busybox
        shared root (built once, cached), copied afresh for every run."""
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
        for machine in [*self.nodes.values(), self.storage]:
            machine.kill()
