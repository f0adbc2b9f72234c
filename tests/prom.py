"""A real Prometheus for the session, fed by backfill (no test waits for a scrape) and, once, by a scrape.

One :class:`Prometheus` per test session (per xdist worker): its own data directory, a free loopback
port, stopped by pid. Tests get data by :meth:`Prometheus.backfill`: OpenMetrics text with explicit
timestamps (build it with :class:`OpenMetrics`, timestamps relative to :attr:`Prometheus.now`) is turned
into blocks by ``promtool tsdb create-blocks-from openmetrics`` and Prometheus is restarted over them
(about half a second), so every value a test asserts is known exactly. Tests share the server: each puts
its series under a label namespace of its own (``ns="<unique>"``, :func:`namespace`). :meth:`scrape`
adds a live scrape target (a loopback exporter) for the one test that proves the scrape path; its first
samples arrive about 6 s later (Prometheus applies new targets on a 5 s tick), so only that test waits.

The anchor :attr:`Prometheus.now` is fixed when the session starts (rounded to a second), so a test can
ask for ``time=prometheus.now`` and read exactly the samples it wrote; samples lie in the last few hours
(inside retention, which is set to 30 days).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from services import binary, need

__all__ = ["Exporter", "OpenMetrics", "Prometheus", "namespace"]

_COUNTER = itertools.count(1)


def namespace(prefix: str = "t") -> str:
    """A label value no other test of this session uses (``ns="<it>"`` keeps tests apart)."""
    return f"{prefix}{os.getpid()}_{next(_COUNTER)}"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _fmt_value(v: float) -> str:
    if math.isnan(v):
        return "NaN"
    if math.isinf(v):
        return "+Inf" if v > 0 else "-Inf"
    return repr(float(v))


def _escape(value: str) -> str:
    """OpenMetrics label value escaping: only backslash, double quote and newline."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(labels: Mapping[str, str]) -> str:
    if not labels:
        return ""
    inner = ",".join(f'{k}="{_escape(str(v))}"' for k, v in labels.items())
    return "{" + inner + "}"


class OpenMetrics:
    """OpenMetrics text with explicit timestamps, ``at`` seconds relative to ``now`` (negative: the past).

    ``gauge``/``counter`` add samples of one series; ``histogram`` the ``_bucket``/``_sum``/``_count``
    series of a cumulative histogram. ``text()`` ends with ``# EOF`` as promtool wants.
    """

    def __init__(self, now: float) -> None:
        self.now = now
        self._families: dict[str, tuple[str, list[str]]] = {}

    def _add(self, family: str, kind: str, line: str) -> None:
        known = self._families.setdefault(family, (kind, []))
        if known[0] != kind:
            raise ValueError(f"{family} is a {known[0]}, not a {kind}")
        known[1].append(line)

    def gauge(self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> OpenMetrics:
        """``points``: (seconds relative to now, value)."""
        for at, value in points:
            self._add(name, "gauge", f"{name}{_labels(labels)} {_fmt_value(value)} {self.now + at:.3f}")
        return self

    def counter(self, name: str, labels: Mapping[str, str], points: Iterable[tuple[float, float]]) -> OpenMetrics:
        """``name`` without ``_total``; the samples are written as ``name_total``."""
        for at, value in points:
            self._add(name, "counter", f"{name}_total{_labels(labels)} {_fmt_value(value)} {self.now + at:.3f}")
        return self

    def histogram(self, name: str, labels: Mapping[str, str], buckets: Sequence[float],
                  points: Iterable[tuple[float, Sequence[float], float]]) -> OpenMetrics:
        """``points``: (seconds relative to now, cumulative counts per bucket then +Inf, sum)."""
        for at, counts, total in points:
            if len(counts) != len(buckets) + 1:
                raise ValueError("one count per bucket and one for +Inf")
            ts = f"{self.now + at:.3f}"
            for le, count in zip([*map(_fmt_value, buckets), "+Inf"], counts):
                self._add(name, "histogram", f"{name}_bucket{_labels({**labels, 'le': le})} {_fmt_value(count)} {ts}")
            self._add(name, "histogram", f"{name}_count{_labels(labels)} {_fmt_value(counts[-1])} {ts}")
            self._add(name, "histogram", f"{name}_sum{_labels(labels)} {_fmt_value(total)} {ts}")
        return self

    def text(self) -> str:
        out: list[str] = []
        for family, (kind, lines) in self._families.items():
            out.append(f"# TYPE {family} {kind}")
            out.extend(lines)
        out.append("# EOF")
        return "\n".join(out) + "\n"


class Prometheus:
    """``url`` of the HTTP API; ``now`` the anchor of backfilled timestamps; ``query()`` for assertions."""

    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="cockpit-prometheus-"))
        self.data = self.dir / "data"
        self.data.mkdir()
        self.config = self.dir / "prometheus.yml"
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.now = float(int(time.time()))
        self.scrape_interval = 1.0
        self.proc: subprocess.Popen[bytes] | None = None
        self._targets: list[tuple[str, str]] = []  # (job, host:port)
        self._log = self.dir / "prometheus.log"
        self._prometheus = ""
        self._promtool = ""

    # ---- lifecycle

    def start(self) -> Prometheus:
        self._prometheus = binary("prometheus", "prometheus")
        self._promtool = binary("promtool", "prometheus")
        self._write_config()
        self._spawn()
        return self

    def _write_config(self) -> None:
        lines = ["global:", f"  scrape_interval: {self.scrape_interval:g}s",
                 f"  evaluation_interval: {self.scrape_interval:g}s", "scrape_configs:"]
        for job, target in self._targets:
            lines += [f"  - job_name: {json.dumps(job)}", "    static_configs:",
                      f"      - targets: [{json.dumps(target)}]"]
        if not self._targets:
            lines[-1] = "scrape_configs: []"
        self.config.write_text("\n".join(lines) + "\n")

    def _spawn(self) -> None:
        log = self._log.open("ab")
        self.proc = subprocess.Popen(
            [self._prometheus, f"--config.file={self.config}", f"--storage.tsdb.path={self.data}",
             f"--web.listen-address=127.0.0.1:{self.port}", "--storage.tsdb.retention.time=30d",
             "--log.level=warn"],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                code = self.proc.returncode
                self.proc = None
                need("prometheus", f"exited {code}: {self.log_tail()}")
            try:
                with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as resp:
                    if resp.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        need("prometheus", f"not ready in 30s: {self.log_tail()}")

    def stop(self) -> None:
        """Stop the server by its pid (TERM, then KILL after 10 s)."""
        proc, self.proc = self.proc, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)

    def restart(self) -> None:
        self.stop()
        self._spawn()

    def close(self) -> None:
        self.stop()
        subprocess.run(["rm", "-rf", str(self.dir)], check=False)

    def log_tail(self) -> str:
        try:
            return self._log.read_text(errors="replace")[-600:]
        except OSError:
            return ""

    # ---- data

    def om(self) -> OpenMetrics:
        """A fresh :class:`OpenMetrics` builder anchored at this server's ``now``."""
        return OpenMetrics(self.now)

    def backfill(self, text: str | OpenMetrics) -> None:
        """Turn OpenMetrics text into blocks in the data directory and restart over them."""
        body = text.text() if isinstance(text, OpenMetrics) else text
        work = Path(tempfile.mkdtemp(prefix="om-", dir=self.dir))
        source = work / "input.om"
        source.write_text(body)
        out = work / "blocks"
        done = subprocess.run([self._promtool, "tsdb", "create-blocks-from", "openmetrics", str(source), str(out)],
                              capture_output=True, text=True, timeout=60)
        if done.returncode != 0:
            raise RuntimeError(f"promtool failed ({done.returncode}): {done.stderr[-800:]}")
        for block in out.iterdir():
            block.rename(self.data / block.name)
        subprocess.run(["rm", "-rf", str(work)], check=False)
        self.restart()

    def scrape(self, job: str, target: str) -> None:
        """Add a live scrape target (``host:port`` serving /metrics) and restart with it.

        A restart, not a reload: Prometheus applies reloaded targets on a 5 s tick, a fresh start at once.
        """
        self._targets.append((job, target))
        self._write_config()
        self.restart()

    def unscrape(self, job: str) -> None:
        """Drop a scrape job again (the live test's finalizer), reloading the config (SIGHUP)."""
        self._targets = [t for t in self._targets if t[0] != job]
        self._write_config()
        if self.proc is not None:
            self.proc.send_signal(signal.SIGHUP)

    def query(self, promql: str, at: float | None = None) -> list[dict[str, object]]:
        """The ``data.result`` of an instant query (for assertions; the cockpit has its own client)."""
        params = {"query": promql, "time": f"{self.now if at is None else at:.3f}"}
        url = f"{self.url}/api/v1/query?{urllib.parse.urlencode(params)}"
        with urllib.request.urlopen(url, timeout=10) as resp:
            body = json.load(resp)
        return list(body["data"]["result"])


class Exporter:
    """A loopback HTTP service exporting its own registry with prometheus-client (the live-scrape test).

    ``registry`` holds the metrics the test updates; ``target`` is the ``host:port`` to scrape.
    Stopped by :meth:`stop` (the HTTP server's shutdown, its thread joined).
    """

    def __init__(self) -> None:
        try:
            import prometheus_client
        except ImportError:
            need("prometheus-client", "not installed (pip install -e '.[test]')")
        self._client = prometheus_client
        self.registry = prometheus_client.CollectorRegistry()
        self._server, self._thread = prometheus_client.start_http_server(0, addr="127.0.0.1", registry=self.registry)
        self.target = f"127.0.0.1:{self._server.server_port}"

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)
