"""The demo's world: real local processes (v1, v2, a load balancer, a database port, a worker), an
optional throwaway sshd on a loopback address, and the config that points the cockpit at them.

Everything it starts dies with it: children are in their own process groups, killed on exit,
and also asked by the kernel (PR_SET_PDEATHSIG) to die if the demo itself is killed.
"""

from __future__ import annotations

import ctypes
import getpass
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cockpit.demo.config import demo_config

PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child before exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


def _wait_port(address: str, port: int, deadline: float) -> bool:
    while time.monotonic() < deadline:
        try:
            with socket.create_connection((address, port), timeout=0.2):
                return True
        except OSError:
            time.sleep(0.05)
    return False


class DemoEnvironment:
    """``with DemoEnvironment() as env:`` starts the demo world; leaving the block removes every trace."""

    def __init__(self, ssh: bool = True) -> None:
        self.want_ssh = ssh
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-demo-"))
        self.state = self.dir / "state"
        self.procs: list[subprocess.Popen[bytes]] = []
        self.ssh_note = ""
        self.ssh_host: tuple[str, int, str] | None = None  # address, port, user
        self.ports: dict[str, int] = {}
        self.config_path = self.dir / "demo.toml"

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> DemoEnvironment:
        try:
            self.start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _spawn(self, argv: list[str], **kw: object) -> subprocess.Popen[bytes]:
        env = {**os.environ, "COCKPIT_DEMO_STATE": str(self.state)}
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=kw.pop("stderr", subprocess.DEVNULL), env=env,  # type: ignore[arg-type]
                                start_new_session=True, preexec_fn=_die_with_parent, **kw)  # type: ignore[call-overload]
        self.procs.append(proc)
        return proc

    def start(self) -> None:
        self.state.mkdir(mode=0o755)
        self.dir.chmod(0o755)
        (self.state / "split").write_text("0\n")
        for name in ("lb", "v1", "v2", "db"):
            self.ports[name] = free_port()
        py = sys.executable
        svc = [py, "-m", "cockpit.demo.httpsvc"]
        self._spawn([*svc, "v1", "--port", str(self.ports["v1"]), "--state", str(self.state)])
        self._spawn([*svc, "v2", "--port", str(self.ports["v2"]), "--state", str(self.state)])
        self._spawn([*svc, "lb", "--port", str(self.ports["lb"]), "--state", str(self.state),
                     "--backends", f"{self.ports['v1']},{self.ports['v2']}"])
        self._spawn([py, "-c", _DB, str(self.ports["db"])])
        self._spawn([py, "-c", "import time\nwhile True: time.sleep(3600)", "cockpit-demo-worker"])
        deadline = time.monotonic() + 10
        for name in ("v1", "v2", "lb", "db"):
            if not _wait_port("127.0.0.1", self.ports[name], deadline):
                raise RuntimeError(f"the demo's {name} process did not start on port {self.ports[name]}")
        if self.want_ssh:
            self._start_sshd()
        self.config_path.write_text(demo_config(self))

    def close(self) -> None:
        """Stop every process the demo started (by its own pid and group), then remove its files."""
        for proc in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except (ProcessLookupError, PermissionError):
                    pass
        deadline = time.monotonic() + 3
        for proc in self.procs:
            try:
                proc.wait(max(0.05, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
                proc.wait(2)
        self.procs.clear()
        shutil.rmtree(self.dir, ignore_errors=True)

    # -- the optional SSH host ----------------------------------------------------------------

    def _start_sshd(self) -> None:
        sshd = shutil.which("sshd") or ("/usr/sbin/sshd" if Path("/usr/sbin/sshd").exists() else None)
        keygen = shutil.which("ssh-keygen")
        if sshd is None or keygen is None:
            self.ssh_note = "sshd is not installed: the demo uses the local transport only"
            return
        user = getpass.getuser()
        address = f"127.{os.getpid() % 200 + 20}.{os.getpid() // 200 % 250}.7"
        try:
            port = free_port(address)
        except OSError:
            self.ssh_note = f"cannot bind {address}: the demo uses the local transport only"
            return
        for key in ("hostkey", "client_key"):
            subprocess.run([keygen, "-q", "-t", "ed25519", "-N", "", "-f", str(self.dir / key), "-C", "cockpit-demo"],
                           check=True, stdin=subprocess.DEVNULL)
        (self.dir / "authorized_keys").write_text((self.dir / "client_key.pub").read_text())
        (self.dir / "authorized_keys").chmod(0o644)
        cfg = self.dir / "sshd_config"
        cfg.write_text(
            f"ListenAddress {address}\nPort {port}\nHostKey {self.dir / 'hostkey'}\n"
            f"AuthorizedKeysFile {self.dir / 'authorized_keys'}\nPidFile {self.dir / 'sshd.pid'}\n"
            f"AllowUsers {user}\nPasswordAuthentication no\nKbdInteractiveAuthentication no\nUsePAM no\n"
            "StrictModes no\nPrintMotd no\nPrintLastLog no\nUseDNS no\nPermitRootLogin prohibit-password\n"
            f"SetEnv COCKPIT_DEMO_STATE={self.state}\n")
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
        log = open(self.dir / "sshd.log", "wb")  # noqa: SIM115 (closed with the process group)
        proc = self._spawn([sshd, "-D", "-e", "-f", str(cfg)], stderr=log)
        if not _wait_port(address, port, time.monotonic() + 5) or proc.poll() is not None:
            self.ssh_note = "the throwaway sshd did not start: the demo uses the local transport only"
            return
        pub = (self.dir / "hostkey.pub").read_text().split()
        (self.dir / "known_hosts").write_text(f"[{address}]:{port} {pub[0]} {pub[1]}\n")
        (self.dir / "ssh_config").write_text("# the demo's own: your ~/.ssh/config plays no part\n")
        self.ssh_host = (address, port, user)
        self.ssh_note = f"a throwaway sshd on {address}:{port} plays the host 'edge' (real SSH)"


_DB = """
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(64)
while True:
    c, _ = s.accept()
    c.close()
"""
