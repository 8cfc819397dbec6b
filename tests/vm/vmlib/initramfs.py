"""Building a gzip'd cpio initramfs from a staging tree: files, host
binaries with the libraries they load, and kernel modules with their
load order."""
import os
import shutil
import stat
import subprocess
from pathlib import Path


class Initramfs:
    def __init__(self, staging: Path):
        shutil.rmtree(staging, ignore_errors=True)
        self.tree = staging
        for directory in ["bin", "sbin", "usr/bin", "usr/sbin", "usr/local/sbin", "etc",
                          "lib/modules", "proc", "sys", "dev", "run", "tmp", "var", "mnt"]:
            (self.tree / directory).mkdir(parents=True, exist_ok=True)

    def write(self, path: str, text: str, mode: int = 0o644):
        target = self.tree / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
        target.chmod(mode)

    def script(self, path: str, text: str):
        self.write(path, text, 0o755)

    def copy(self, source: Path, path: str, mode=None):
        target = self.tree / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)
        if mode is not None:
            target.chmod(mode)

    def copy_tree(self, source: Path, path: str):
        target = self.tree / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(["cp", "-a", str(source), str(target)], check=True)

    def symlink(self, target: str, path: str):
        link = self.tree / path.lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        if link.is_symlink() or link.exists():
            link.unlink()
        os.symlink(target, link)

    def busybox(self):
        self.copy(Path(shutil.which("busybox")), "/bin/busybox", 0o755)

    def host_binary(self, name: str):
        """A dynamically linked host program and every library it loads, at
        their host paths."""
        program = Path(shutil.which(name) or name)
        self.copy(program, str(program))
        listing = subprocess.run(["ldd", str(program)], capture_output=True, text=True).stdout
        for line in listing.splitlines():
            parts = line.split()
            library = next((p for p in parts if p.startswith("/")), None)
            if library and not (self.tree / library.lstrip("/")).exists():
                self.copy(Path(library), library)

    def modules(self, kernel, names):
        """Copies NAMES and their dependencies; /etc/modules.order lists
        them in load order."""
        order = kernel.closure(names)
        for relative in order:
            self.copy(kernel.modules / relative, f"/lib/modules/{relative}")
        self.write("/etc/modules.order", "\n".join(order) + "\n")

    def pack(self, output: Path):
        files = subprocess.run(["find", "."], cwd=self.tree, check=True,
                               capture_output=True).stdout
        cpio = subprocess.run(["cpio", "-o", "-H", "newc", "--quiet"], cwd=self.tree,
                              input=files, check=True, capture_output=True).stdout
        gzip = subprocess.run(["gzip", "-1"], input=cpio, check=True,
                              capture_output=True).stdout
        output.write_bytes(gzip)
        return output


def ext4_image(path: Path, size_mb: int, source: Path = None, label: str = "disk"):
    """An ext4 image, filled from SOURCE if given; no root or loop device needed."""
    if path.exists():
        path.unlink()
    command = ["mke2fs", "-q", "-F", "-t", "ext4", "-L", label]
    if source is not None:
        command += ["-d", str(source)]
    command += [str(path), f"{size_mb}M"]
    subprocess.run(command, check=True)
    return path
