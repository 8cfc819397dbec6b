"""Debian's kernel for the guests: downloaded once, unpacked (never installed
on the host), with modules.dep generated so that module sets can be closed
over their dependencies."""
import shutil
import subprocess
from pathlib import Path


class Kernel:
    def __init__(self, cache: Path):
        self.root = cache / "kernel"
        if not list(self.root.glob("boot/vmlinuz-*")):
            self._download(cache)
        self.image = sorted(self.root.glob("boot/vmlinuz-*"))[-1]
        # The version comes from the unpacked tree, not from `uname -r`:
        # the host runs another kernel.
        self.version = sorted(p.name for p in (self.root / "lib/modules").iterdir())[-1]
        self.modules = self.root / "lib/modules" / self.version
        if not (self.modules / "modules.dep").exists():
            subprocess.run(["depmod", "-b", str(self.root), self.version], check=True)
        self._deps = self._read_deps()

    def _download(self, cache: Path):
        depends = subprocess.run(
            ["apt-cache", "depends", "linux-image-amd64"],
            check=True, capture_output=True, text=True,
        ).stdout
        package = next(
            line.split()[-1] for line in depends.splitlines()
            if "Depends: linux-image-" in line
        )
        download = cache / "download"
        shutil.rmtree(download, ignore_errors=True)
        download.mkdir(parents=True)
        subprocess.run(["apt-get", "download", package], cwd=download, check=True,
                       stdout=subprocess.DEVNULL)
        deb = next(download.glob("*.deb"))
        subprocess.run(["dpkg-deb", "-x", str(deb), str(self.root)], check=True)
        shutil.rmtree(download)

    def _read_deps(self):
        deps = {}
        for line in (self.modules / "modules.dep").read_text().splitlines():
            path, _, rest = line.partition(":")
            deps[path] = rest.split()
        return deps

    def module_path(self, name: str) -> str:
        """The path (relative to the modules dir) of module NAME."""
        wanted = {f"{name}.ko", f"{name.replace('_', '-')}.ko"}
        for path in self._deps:
            if Path(path).name in wanted:
                return path
        raise KeyError(f"module {name} is not in kernel {self.version}")

    def closure(self, names):
        """Module paths for NAMES, each after the modules it depends on."""
        ordered = []

        def visit(path):
            if path in ordered:
                return
            for dependency in reversed(self._deps.get(path, [])):
                visit(dependency)
            ordered.append(path)

        for name in names:
            visit(self.module_path(name))
        return ordered
