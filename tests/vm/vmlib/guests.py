"""The two guest roles, as initramfs images:

- storage: the kernel NFS server exporting an ext4 disk, one NIC per link
  to a node (a node may have several) on a bridge with 192.0.2.1/24;
- node: a bootstrap OS (busybox init) with a static vroot, the NFS client
  and the container's modules, a local ext4 disk for vroot's own state and
  per-host layers, and shutdown ordering in its inittab.

Both print a READY marker on the console and serve a control shell on
ttyS1. A node learns its identity from the kernel command line
(vroot_node=a vroot_ip=192.0.2.11)."""
from pathlib import Path

from .initramfs import Initramfs

STORAGE_IP = "192.0.2.1"
EXPORT = "/srv/export"

COMMON_MODULES = ["virtio_pci", "virtio_net", "virtio_blk", "crc32c_generic", "ext4"]
STORAGE_MODULES = COMMON_MODULES + ["bridge", "nfsd"]
NODE_MODULES = COMMON_MODULES + [
    "nfsv4", "nfsv3", "overlay", "veth", "bridge", "macvlan", "ipvlan", "fuse",
]

CONTROL_SHELL = """#!/bin/sh
# The harness's control channel: commands in from ttyS1, output back out.
export PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin
stty -F /dev/ttyS1 raw -echo -opost -isig -iexten -ixon 2>/dev/null
exec sh /dev/ttyS1 >/dev/ttyS1 2>&1
"""

# Leaves the initramfs for a tmpfs (pivot_root, which vroot uses, cannot
# move away from rootfs), then runs busybox init.
STAGE1 = """#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t tmpfs -o size=400m,mode=0755 tmpfs /mnt
for entry in /*; do
    case "$entry" in /proc|/mnt|/sys|/dev) ;; *) cp -a "$entry" /mnt/ ;; esac
done
mkdir -p /mnt/proc /mnt/sys /mnt/dev
umount /proc
exec switch_root /mnt /sbin/init
"""

BASE_MOUNTS = """
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o ptmxmode=0666,gid=5,mode=0620 devpts /dev/pts
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /tmp
"""


def load_modules(parameters=""):
    return f"""
while read -r module; do
    case "$module" in
{parameters}
        *) insmod "/lib/modules/$module" ;;
    esac
done < /etc/modules.order
"""


def _common(image: Initramfs, kernel, modules):
    image.busybox()
    image.script("/init", STAGE1)
    image.symlink("/bin/busybox", "/sbin/init")
    image.script("/bin/control", CONTROL_SHELL)
    image.modules(kernel, modules)
    image.write("/etc/passwd", "root:x:0:0:root:/root:/bin/sh\n_rpc:x:100:65534::/run:/bin/false\n")
    image.write("/etc/group", "root:x:0:\ntty:x:5:\nnogroup:x:65534:\n")


def storage_image(kernel, staging: Path, output: Path, ports: int) -> Path:
    """PORTS NICs, eth0 to eth<PORTS-1>, all on the bridge br0."""
    image = Initramfs(staging)
    _common(image, kernel, STORAGE_MODULES)
    for program in ["rpcbind", "exportfs", "rpc.mountd", "rpc.nfsd", "nfsdcld"]:
        image.host_binary(program)
    for path in ["/etc/netconfig", "/etc/services", "/etc/protocols", "/etc/rpc"]:
        image.copy(Path(path), path)
    image.symlink("/run", "/var/run")
    port_names = " ".join(f"eth{index}" for index in range(ports))
    image.write("/etc/inittab", "::sysinit:/etc/rc.storage\n::respawn:/bin/control\n")
    image.script("/etc/rc.storage", f"""#!/bin/sh
export PATH=/usr/sbin:/sbin:/usr/bin:/bin
{BASE_MOUNTS}
{load_modules()}
hostname storage
mkdir -p /srv
mount -t ext4 -o sync /dev/vda /srv
ip link set lo up
ip link add br0 type bridge
for port in {port_names}; do ip link set "$port" master br0 up; done
ip addr add {STORAGE_IP}/24 dev br0
ip link set br0 up
# NFS state on the disk, so that a restarted server knows its clients.
mkdir -p /srv/nfs-state/v4recovery /var/lib/nfs
mount --bind /srv/nfs-state /var/lib/nfs
touch /var/lib/nfs/etab /var/lib/nfs/rmtab
mount -t nfsd nfsd /proc/fs/nfsd
mkdir -p /run/rpc_pipefs
mount -t rpc_pipefs rpc_pipefs /run/rpc_pipefs
echo "{EXPORT} 192.0.2.0/24(rw,sync,no_subtree_check,no_root_squash,insecure,fsid=1)" > /etc/exports
nfsdcld
rpcbind
exportfs -ra
rpc.mountd
rpc.nfsd -G 10 -L 10 4
echo VROOT-STORAGE-READY
""")
    return image.pack(output)


NODE_STORAGE_TOML = f"""[storage]
type = "nfs"
source = "{STORAGE_IP}:{EXPORT}"
options = ["vers=4.2"]
mount_timeout = 60
"""

CONTAINER_TOML = """root = "/vz/private/bb"
stop_timeout = 20
"""

# busybox init runs ::shutdown actions on poweroff: the containers stop
# before the storage is unmounted, which is the ordering under test.
NODE_SHUTDOWN = """#!/bin/sh
export PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin
echo "VROOT-SHUTDOWN begin $(cut -d' ' -f1 /proc/uptime)"
vroot stop --all
echo "VROOT-SHUTDOWN containers-stopped $? $(cut -d' ' -f1 /proc/uptime)"
vroot storage umount
echo "VROOT-SHUTDOWN storage-unmounted $? $(cut -d' ' -f1 /proc/uptime)"
"""


def node_image(kernel, staging: Path, output: Path, vroot: Path) -> Path:
    image = Initramfs(staging)
    _common(image, kernel, NODE_MODULES)
    image.copy(vroot, "/usr/local/sbin/vroot", 0o755)
    image.symlink("/usr/local/sbin/vroot", "/usr/sbin/fence_vroot")
    image.write("/etc/vroot/storage.toml", NODE_STORAGE_TOML)
    image.write("/etc/vroot/web.toml", CONTAINER_TOML)
    image.write("/etc/inittab",
                "::sysinit:/etc/rc.node\n::respawn:/bin/control\n::shutdown:/etc/rc.shutdown\n")
    image.script("/etc/rc.shutdown", NODE_SHUTDOWN)
    image.script("/etc/rc.node", f"""#!/bin/sh
export PATH=/usr/local/sbin:/usr/sbin:/sbin:/usr/bin:/bin
{BASE_MOUNTS}
mount -t cgroup2 cgroup2 /sys/fs/cgroup
node=$(sed -n 's/.*vroot_node=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
address=$(sed -n 's/.*vroot_ip=\\([^ ]*\\).*/\\1/p' /proc/cmdline)
# Each node must be its own NFSv4 client, or the server mixes them up.
{load_modules('        */nfs.ko) insmod "/lib/modules/$module" nfs4_unique_id="vroot-node-$node" ;;')}
hostname "node-$node"
# A fence aborts hung FUSE storage through fusectl (the fuse module is loaded).
mount -t fusectl fusectl /sys/fs/fuse/connections
ip link set lo up
# eth0 only: any other NIC stays down, without an address, to be lent.
ip link set eth0 up
ip addr add "$address/24" dev eth0
# vroot's own state and the per-host layers live on the node's local disk.
mkdir -p /var/lib/vroot /vz/private
mount -t ext4 /dev/vda /var/lib/vroot
echo "VROOT-NODE-READY node-$node"
""")
    return image.pack(output)
