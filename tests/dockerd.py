"""A private Docker daemon on a Unix socket for the session, and a local busybox image.

No registry is reachable from these machines, so the image is Debian's static busybox imported
with ``docker import``. ``--bridge=none`` makes no network: containers run with ``--network host``
so their traffic stays on loopback. Stopped by its pid file; containers are removed by id.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from services import binary, need

IMAGE = "cockpit-busybox:local"
APPLETS = ("sh", "sleep", "cat", "echo", "httpd", "nc", "dd", "yes", "head", "true", "false", "ls", "wget")


class DockerDaemon:
    """``host`` is the DOCKER_HOST value; ``docker(*args)`` runs the client against this daemon."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-dockerd-"))
        self.socket = self.dir / "docker.sock"
        self.host = f"unix://{self.socket}"
        self.pidfile = self.dir / "pid"
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def env(self) -> dict[str, str]:
        return {**os.environ, "DOCKER_HOST": self.host}

    def start(self) -> DockerDaemon:
        dockerd = binary("dockerd", "docker.io")
        binary("docker", "docker.io")
        busybox = binary("busybox", "busybox-static", "/bin", "/usr/bin")
        if os.geteuid() != 0:
            need("dockerd", "a private Docker daemon needs root")
        log = (self.dir / "dockerd.log").open("wb")
        self.proc = subprocess.Popen(
            [dockerd, "--bridge=none", "--iptables=false", "--ip-masq=false",
             f"--data-root={self.dir / 'data'}", f"--exec-root={self.dir / 'exec'}", f"-H={self.host}",
             f"--pidfile={self.pidfile}"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                need("dockerd", f"exited {self.proc.returncode}: {self.log_tail()}")
            if self.socket.exists() and self.docker("info", check=False).returncode == 0:
                break
            time.sleep(0.1)
        else:
            self.close()
            need("dockerd", f"not ready in 30s: {self.log_tail()}")
        self._import_image(busybox)
        return self

    def log_tail(self) -> str:
        try:
            return (self.dir / "dockerd.log").read_text(errors="replace")[-400:]
        except OSError:
            return ""

    def _import_image(self, busybox: str) -> None:
        root = self.dir / "rootfs"
        (root / "bin").mkdir(parents=True)
        (root / "tmp").mkdir()
        shutil.copy2(busybox, root / "bin" / "busybox")
        for applet in APPLETS:
            (root / "bin" / applet).symlink_to("busybox")
        tar = subprocess.run(["tar", "-C", str(root), "-c", "."], capture_output=True, check=True)
        self.docker("import", "-", IMAGE, input=tar.stdout)

    def docker(self, *args: str, check: bool = True, input: bytes | None = None,
               timeout: float = 60) -> subprocess.CompletedProcess[bytes]:
        return subprocess.run(["docker", *args], env=self.env, capture_output=True, input=input,
                              check=check, timeout=timeout)

    def run(self, name: str, *command: str, labels: dict[str, str] | None = None,
            options: tuple[str, ...] = ()) -> str:
        """``docker run -d --network host`` of the busybox image; the full container id."""
        label_args = [a for k, v in (labels or {}).items() for a in ("--label", f"{k}={v}")]
        out = self.docker("run", "-d", "--network", "host", "--name", name, *label_args, *options, IMAGE, *command)
        return out.stdout.decode().strip()

    def remove(self, *names: str) -> None:
        if names:
            self.docker("rm", "-f", *names, check=False)

    def close(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            ids = self.docker("ps", "-aq", check=False, timeout=20).stdout.decode().split()
            if ids:
                self.docker("rm", "-f", *ids, check=False, timeout=60)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        shutil.rmtree(self.dir, ignore_errors=True)
