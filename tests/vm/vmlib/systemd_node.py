"""A node whose bootstrap OS runs systemd as PID 1, booted from a disk: the
Debian root the integration tests build (debootstrap, systemd), with the
static vroot in /usr/local/sbin and the same storage.toml and container
config as the busybox nodes. Nothing of vroot's is enabled in the image:
the scenario runs the operations guide's "Start at boot" commands itself.

A small initramfs loads the modules (the root has none: they stay loaded
after switch_root), mounts the disk and hands over to /sbin/init. The root
has no udev, so the NIC keeps its kernel name (net.ifnames=0) and the
serial getty, which would wait for a device unit that never comes, is
masked. A unit serves the harness's control shell on ttyS1 and prints the
READY marker on the console."""
import shutil
import subprocess
from pathlib import Path

from . import guests
from .initramfs import Initramfs, ext4_image

READY = "VROOT-SYSTEMD-NODE-READY"
HOSTNAME = "node-s"

STAGE1 = f"""#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t devtmpfs devtmpfs /dev
{guests.load_modules('        */nfs.ko) insmod "/lib/modules/$module" nfs4_unique_id=vroot-node-s ;;')}
mkdir -p /newroot
mount -t ext4 -o rw /dev/vda /newroot
umount /dev /proc
exec switch_root /newroot /sbin/init
"""

NETWORK_UNIT = """[Unit]
Description=The test network (eth0 on the storage VM's bridge)
Before=network-online.target
Wants=network.target
After=network-pre.target

[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/sbin/ip link set lo up
ExecStart=/sbin/ip link set eth0 up
ExecStart=/sbin/ip addr add {address}/24 dev eth0

[Install]
WantedBy=network-online.target multi-user.target
"""

CONTROL_UNIT = f"""[Unit]
Description=The VM suite's control shell on ttyS1
DefaultDependencies=no
After=local-fs.target

[Service]
ExecStartPre=/bin/sh -c 'echo {READY} {HOSTNAME} >/dev/ttyS0'
ExecStart=/usr/local/bin/vm-control
StandardInput=null
Restart=always

[Install]
WantedBy=multi-user.target
"""


def _enable(tree: Path, unit: str, target: str):
    wants = tree / "etc/systemd/system" / f"{target}.wants"
    wants.mkdir(parents=True, exist_ok=True)
    link = wants / unit
    if link.is_symlink():
        link.unlink()
    link.symlink_to(f"/etc/systemd/system/{unit}")


def boot_image(kernel, staging: Path, output: Path) -> Path:
    image = Initramfs(staging)
    image.busybox()
    image.script("/init", STAGE1)
    image.modules(kernel, guests.NODE_MODULES)
    return image.pack(output)


def disk_image(debian_root: Path, work: Path, vroot: Path, address: str) -> Path:
    """The node's only disk: its root, its vroot state and per-host layers."""
    tree = work / "systemd-node-tree"
    shutil.rmtree(tree, ignore_errors=True)
    subprocess.run(["cp", "-a", str(debian_root), str(tree)], check=True)
    (tree / ".vroot-test-complete").unlink(missing_ok=True)
    shutil.copy2(vroot, tree / "usr/local/sbin/vroot")
    (tree / "usr/local/sbin/vroot").chmod(0o755)
    (tree / "etc/vroot").mkdir(exist_ok=True)
    (tree / "etc/vroot/storage.toml").write_text(guests.NODE_STORAGE_TOML)
    (tree / "etc/vroot/web.toml").write_text(guests.CONTAINER_TOML)
    (tree / "vz/private").mkdir(parents=True, exist_ok=True)
    (tree / "etc/hostname").write_text(f"{HOSTNAME}\n")
    control = tree / "usr/local/bin/vm-control"
    control.write_text(guests.CONTROL_SHELL)
    control.chmod(0o755)
    units = tree / "etc/systemd/system"
    (units / "vm-network.service").write_text(NETWORK_UNIT.format(address=address))
    (units / "vm-control.service").write_text(CONTROL_UNIT)
    # The node's network is up at boot, as on any node: before the guide's
    # commands, nothing wants network-online.target yet.
    _enable(tree, "vm-network.service", "network-online.target")
    _enable(tree, "vm-network.service", "multi-user.target")
    _enable(tree, "vm-control.service", "multi-user.target")
    # No udev: dev-ttyS0.device never appears, so the getty would only fail.
    masked = units / "serial-getty@ttyS0.service"
    masked.unlink(missing_ok=True)
    masked.symlink_to("/dev/null")
    disk = ext4_image(work / "systemd-node.img", 1024, source=tree, label="systemd-node")
    shutil.rmtree(tree)
    return disk
