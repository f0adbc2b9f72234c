"""Debian's ``prometheus-alertmanager`` on loopback, one per test session (``alertmanager`` fixture).

Its own config (one route, one receiver that goes nowhere), storage in a temporary directory, no
clustering (``--cluster.listen-address=``). Tests read silences back through ``/api/v2/silences``; each
test tells its own silences apart by a matcher value of its own. Stopped by its pid at the end of the
session, and the test checks it is gone.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from services import binary

CONFIG = """\
route:
  receiver: nowhere
receivers:
  - name: nowhere
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Alertmanager:
    def __init__(self, proc: subprocess.Popen[bytes], url: str, log: Path) -> None:
        self.proc = proc
        self.url = url
        self.log = log

    def silences(self, **matchers: str) -> list[dict[str, Any]]:
        """Silences whose matchers include every NAME=VALUE given (equality matchers as the cockpit sends)."""
        with urllib.request.urlopen(f"{self.url}/api/v2/silences", timeout=5) as res:
            every = json.load(res)
        out = []
        for s in every:
            have = {m["name"]: m["value"] for m in s["matchers"]}
            if all(have.get(k) == v for k, v in matchers.items()):
                out.append(s)
        return out


def _ready(url: str, proc: subprocess.Popen[bytes], log: Path, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"alertmanager exited {proc.returncode}: {log.read_text()[-2000:]}")
        try:
            with urllib.request.urlopen(f"{url}/-/ready", timeout=1) as res:
                if res.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"alertmanager not ready within {timeout:g} s: {log.read_text()[-2000:]}")


@pytest.fixture(scope="session")
def alertmanager() -> Iterator[Alertmanager]:
    exe = binary("prometheus-alertmanager", "prometheus-alertmanager")
    with tempfile.TemporaryDirectory(prefix="cockpit-am-") as d:
        cfg = Path(d) / "alertmanager.yml"
        cfg.write_text(CONFIG)
        log = Path(d) / "log"
        port = _free_port()
        url = f"http://127.0.0.1:{port}"
        with log.open("wb") as out:
            proc = subprocess.Popen([exe, f"--config.file={cfg}", f"--storage.path={d}/data",
                                     f"--web.listen-address=127.0.0.1:{port}", "--cluster.listen-address="],
                                    stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            _ready(url, proc, log)
            yield Alertmanager(proc, url, log)
        finally:
            if proc.poll() is None:
                os.kill(proc.pid, signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.kill(proc.pid, signal.SIGKILL)
                    proc.wait(timeout=5)
            assert proc.poll() is not None
