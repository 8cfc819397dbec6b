"""One QEMU guest under software emulation, with its console in a log file
and a shell on its second serial port as the control channel."""
import ctypes
import itertools
import os
import re
import signal
import socket
import subprocess
import time
from pathlib import Path

QEMU = "qemu-system-x86_64"
PR_SET_PDEATHSIG = 1
# Any command's end marker, `@@VROOT-RC-<serial>@@<status>`: a command that
# timed out still prints its own later, before the next command's output.
MARKER = re.compile(rb"@@VROOT-RC-(\d+)@@(\d+)\n")
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent(parent: int):
    """A preexec_fn: the child gets SIGKILL when the suite's process ends,
    however it ends (even by SIGKILL, where no `finally` runs)."""
    def preexec():
        if _libc.prctl(PR_SET_PDEATHSIG, int(signal.SIGKILL), 0, 0, 0) != 0:
            error = ctypes.get_errno()
            raise OSError(error, f"prctl(PR_SET_PDEATHSIG): {os.strerror(error)}")
        # The parent may have died before prctl: then nobody would kill us.
        if os.getppid() != parent:
            os._exit(127)
    return preexec


class CommandTimeout(Exception):
    pass


class Link:
    """One end of a point-to-point `dgram` link: UDP on 127.0.0.1 only. Both
    ends survive the other's restart, which the storage-death scenario needs."""

    def __init__(self, local_port: int, remote_port: int, mac: str):
        self.local_port = local_port
        self.remote_port = remote_port
        self.mac = mac

    def args(self, index: int):
        netdev = (f"dgram,id=n{index},local.type=inet,local.host=127.0.0.1,"
                  f"local.port={self.local_port},remote.type=inet,"
                  f"remote.host=127.0.0.1,remote.port={self.remote_port}")
        return ["-netdev", netdev,
                "-device", f"virtio-net-pci,netdev=n{index},mac={self.mac}"]


class Machine:
    def __init__(self, name, work: Path, kernel: Path, initrd: Path, append: str,
                 memory_mb=320, disks=(), links=()):
        self.name = name
        self.dir = work / name
        self.dir.mkdir(parents=True, exist_ok=True)
        self.kernel = kernel
        self.initrd = initrd
        self.append = append
        self.memory_mb = memory_mb
        self.disks = list(disks)
        self.links = list(links)
        self.console = self.dir / "console.log"
        self.control_path = self.dir / "control.sock"
        self.process = None
        self.control = None
        self.pending = b""
        self.serial = itertools.count()
        self.boots = 0

    def start(self):
        self.boots += 1
        # Each boot keeps its own console log; `console.log` is the latest.
        if self.console.exists():
            self.console.rename(self.dir / f"console.{self.boots - 1}.log")
        if self.control_path.exists():
            self.control_path.unlink()
        command = [
            QEMU, "-accel", "tcg", "-cpu", "max", "-m", str(self.memory_mb), "-smp", "1",
            "-nodefaults", "-no-user-config", "-display", "none", "-no-reboot",
            "-kernel", str(self.kernel), "-initrd", str(self.initrd),
            "-append", f"console=ttyS0 panic=-1 {self.append}",
            "-serial", f"file:{self.console}",
            "-chardev", f"socket,id=ctl,path={self.control_path},server=on,wait=off",
            "-serial", "chardev:ctl",
            "-pidfile", str(self.dir / "qemu.pid"),
        ]
        for index, disk in enumerate(self.disks):
            command += ["-drive", f"file={disk},format=raw,if=virtio,index={index}"]
        for index, link in enumerate(self.links):
            command += link.args(index)
        with open(self.dir / "qemu.out", "ab") as output:
            self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=output,
                                            stderr=subprocess.STDOUT,
                                            preexec_fn=_die_with_parent(os.getpid()))
        self.control = None
        self.pending = b""

    def console_text(self) -> str:
        try:
            return self.console.read_text(errors="replace").replace("\r", "")
        except FileNotFoundError:
            return ""

    def wait_console(self, pattern: str, timeout: float) -> re.Match:
        deadline = time.monotonic() + timeout
        regex = re.compile(pattern, re.MULTILINE)
        while True:
            match = regex.search(self.console_text())
            if match:
                return match
            if self.process.poll() is not None:
                raise AssertionError(
                    f"{self.name}: QEMU exited ({self.process.returncode}) before "
                    f"/{pattern}/ appeared; console tail:\n{self.tail()}")
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{self.name}: /{pattern}/ did not appear within {timeout}s; "
                    f"console tail:\n{self.tail()}")
            time.sleep(0.1)

    def tail(self, lines=30) -> str:
        return "\n".join(self.console_text().splitlines()[-lines:])

    def _connect(self, timeout):
        deadline = time.monotonic() + timeout
        while self.control is None:
            try:
                connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                connection.connect(str(self.control_path))
                self.control = connection
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError(f"{self.name}: no control socket")
                time.sleep(0.05)

    def run(self, command: str, timeout: float = 30):
        """Runs COMMAND in the guest's control shell; returns (status, output).
        Raises CommandTimeout if it has not finished in TIMEOUT seconds (the
        shell is then busy: further commands queue behind it, and the late
        output of the one that timed out is dropped when they read theirs)."""
        self._connect(10)
        serial = next(self.serial)
        marker = f"@@VROOT-RC-{serial}@@"
        # A subshell, so that `exit` or `cd` in a command cannot end or move
        # the control shell; stdin from /dev/null: it must never read the channel.
        text = f"(\n{command}\n) </dev/null 2>&1; echo \"{marker}$?\"\n"
        self.control.sendall(text.encode())
        deadline = time.monotonic() + timeout
        while True:
            match = MARKER.search(self.pending)
            if match:
                seen = int(match.group(1))
                if seen < serial:
                    # The end of a command that timed out: its output and
                    # marker are not this command's.
                    self.pending = self.pending[match.end():]
                    continue
                if seen > serial:
                    raise AssertionError(
                        f"{self.name}: marker {seen} came before {serial} for `{command}`")
                output = self.pending[:match.start()].decode(errors="replace")
                self.pending = self.pending[match.end():]
                return int(match.group(2)), output
            left = deadline - time.monotonic()
            if left <= 0:
                raise CommandTimeout(f"{self.name}: `{command}` still runs after {timeout}s")
            self.control.settimeout(min(left, 1.0))
            try:
                chunk = self.control.recv(65536)
            except socket.timeout:
                continue
            if not chunk:
                raise AssertionError(f"{self.name}: the control channel closed during `{command}`")
            self.pending += chunk

    def send(self, command: str):
        """Starts COMMAND without waiting for it (e.g. a poweroff, after which
        the control shell is gone)."""
        self._connect(10)
        self.control.sendall(f"(\n{command}\n) </dev/null >/dev/null 2>&1 &\n".encode())

    def ok(self, command: str, timeout: float = 30) -> str:
        status, output = self.run(command, timeout)
        if status != 0:
            raise AssertionError(f"{self.name}: `{command}` exited {status}:\n{output}")
        return output.strip()

    def wait_ready(self, marker: str, timeout: float = 60):
        self.wait_console(marker, timeout)
        # The control shell may start a moment after the marker.
        deadline = time.monotonic() + 15
        while True:
            try:
                self.control = None
                self.pending = b""
                if self.run("echo ready", timeout=3)[1].strip().endswith("ready"):
                    return
            except (CommandTimeout, AssertionError):
                if time.monotonic() > deadline:
                    raise
            time.sleep(0.2)

    def kill(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()
        if self.control:
            self.control.close()
            self.control = None

    def wait_exit(self, timeout: float) -> bool:
        try:
            self.process.wait(timeout)
            return True
        except subprocess.TimeoutExpired:
            return False

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None
