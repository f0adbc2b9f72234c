"""Local helper processes for integration tests: a dummy long-running process
with a distinctive name, and a TCP listener for ``port`` checks.

The fleet's hosts all live on this machine, so a process or listening port
started here is "on" every fleet host. Each helper is stopped by its own pid.
"""

from __future__ import annotations

import secrets
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

_LISTENER = r"""
import socket, sys
sock = socket.socket()
sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
sock.bind((sys.argv[1], int(sys.argv[2])))
sock.listen(128)
print(sock.getsockname()[1], flush=True)
while True:
    conn, _ = sock.accept()
    conn.close()
"""


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], timeout: float = 5.0) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=timeout)


class DummyProcess:
    """A ``sleep`` whose process name (comm) and cmdline both are ``marker``.

    ``pgrep -x MARKER`` (markers of at most 15 characters) and
    ``pgrep -f MARKER`` both find it.
    """

    def __init__(self, marker: str | None = None, seconds: int = 3600) -> None:
        self.marker = marker or f"ck-dummy-{secrets.token_hex(3)}"
        if "/" in self.marker or not self.marker:
            raise ValueError(f"bad marker {self.marker!r}")
        self._dir = Path(tempfile.mkdtemp(prefix="cockpit-dummy-"))
        link = self._dir / self.marker
        # comm is taken from the executed file's name, hence a symlink named marker.
        link.symlink_to(shutil.which("sleep") or "/bin/sleep")
        self.argv = [self.marker, str(seconds)]
        self._proc = subprocess.Popen(
            self.argv, executable=str(link), stdin=subprocess.DEVNULL, start_new_session=True
        )
        self.pid = self._proc.pid

    def __repr__(self) -> str:
        return f"<DummyProcess {self.marker} pid={self.pid}>"

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def stop(self) -> None:
        _stop(self._proc)
        shutil.rmtree(self._dir, ignore_errors=True)


class TcpListener:
    """A process listening on ``address:port`` that accepts and closes connections."""

    def __init__(self, port: int = 0, address: str = "127.0.0.1") -> None:
        self.address = address
        self._proc = subprocess.Popen(
            [sys.executable, "-c", _LISTENER, address, str(port)],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()  # the port, once listening
        if not line.strip():
            err = self._proc.stderr.read() if self._proc.stderr else ""
            _stop(self._proc)
            raise OSError(f"TCP listener on {address}:{port} failed: {err.strip()}")
        self.port = int(line)
        self.pid = self._proc.pid

    def __repr__(self) -> str:
        return f"<TcpListener {self.address}:{self.port} pid={self.pid}>"

    @property
    def running(self) -> bool:
        return self._proc.poll() is None

    def stop(self) -> None:
        _stop(self._proc)
        for stream in (self._proc.stdout, self._proc.stderr):
            if stream is not None:
                stream.close()


__all__ = ["DummyProcess", "TcpListener"]
