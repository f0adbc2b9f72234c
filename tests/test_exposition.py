"""`cockpit serve-metrics` and `--metrics-listen` (issue 27, item 3): the cockpit's view as Prometheus reads it.

A real `cockpit serve-metrics` process on the loopback fleet, scraped over HTTP and parsed with
prometheus-client's own parser; the token rule of cockpit/listen.py beyond loopback; the TUI's flag in tmux.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
from cockpitcfg import write_config
from prometheus_client.parser import text_string_to_metric_families
from test_notify import RUNBOOK as PLAN
from test_tmux import Tmux

ROOT = Path(__file__).resolve().parents[1]

def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _serve(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[str]:
    full = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "cockpit", "serve-metrics", *args], cwd=ROOT, env=full,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)


def _stop(proc: subprocess.Popen[str]) -> int:
    if proc.poll() is None:
        os.kill(proc.pid, signal.SIGTERM)
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        return proc.wait(timeout=5)


def _samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for fam in text_string_to_metric_families(text) for s in fam.samples}


def _scrape_until(url: str, ready, headers: dict[str, str] | None = None, timeout: float = 40.0) -> str:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        try:
            res = httpx.get(url, headers=headers, timeout=2)
            text = res.text
            if res.status_code == 200 and ready(text):
                return text
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise AssertionError(f"no ready exposition at {url} within {timeout:g} s; last:\n{text[:2000]}")


def test_serve_metrics_exports_what_the_cockpit_sees(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "failed failed")
    cfg = write_config(tmp_path, fleet, PLAN, hosts=["h1", "h2"], cockpit={"interval": "0.5s"})
    port = _port()
    proc = _serve("-c", str(cfg), "--listen", f"127.0.0.1:{port}")
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        text = _scrape_until(url, lambda t: 'cockpit_service_up{host="h2"' in t)
        got = _samples(text)

        def value(name: str, **labels: str) -> float | None:
            return got.get((name, frozenset(labels.items())))

        assert value("cockpit_service_up", host="h1", service="agent", kind="systemd") == 1.0
        assert value("cockpit_service_up", host="h2", service="agent", kind="systemd") == 0.0
        assert value("cockpit_service_status", host="h2", service="agent", status="down") == 1.0
        assert value("cockpit_service_status", host="h2", service="agent", status="up") == 0.0
        assert value("cockpit_host_reachable", host="h1", reach="ok") == 1.0
        assert value("cockpit_phase_state", phase="cut", state="open") == 1.0
        assert value("cockpit_phase_current", phase="cut") == 1.0
        assert value("cockpit_step_state", step="cut.noop", state="pending") == 1.0
        assert value("cockpit_rollback_running") == 0.0
        assert httpx.get(f"http://127.0.0.1:{port}/other", timeout=2).status_code == 404
        fleet.set_systemd("h2", "fleet-agent", "active running")  # what it exports follows the fleet
        _scrape_until(url, lambda t: _samples(t).get(
            ("cockpit_service_up", frozenset({"host": "h2", "service": "agent", "kind": "systemd"}.items()))) == 1.0)
    finally:
        rc = _stop(proc)
    assert rc == 128 + signal.SIGTERM, proc.stderr.read() if proc.stderr else ""


def test_beyond_loopback_a_token_is_required(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    cfg = write_config(tmp_path, fleet, PLAN, hosts=["h1"], cockpit={"interval": "0.5s"})
    port = _port()
    refused = _serve("-c", str(cfg), "--listen", f"0.0.0.0:{port}")
    _out, err = refused.communicate(timeout=60)
    assert refused.returncode == 2 and "needs a token" in err and "--token-env" in err and "Traceback" not in err
    argv = _serve("-c", str(cfg), "--listen", f"0.0.0.0:{port}", "--token", "abc")  # no such flag: never argv
    _out, err = argv.communicate(timeout=60)
    assert argv.returncode == 2 and "unrecognized option(s): --token (values are not shown)" in err and "abc" not in err
    loose = tmp_path / "token"
    loose.write_text("file-token\n")
    loose.chmod(0o644)
    bad = _serve("-c", str(cfg), "--listen", f"0.0.0.0:{port}", "--token-file", str(loose))
    _out, err = bad.communicate(timeout=60)
    assert bad.returncode == 2 and "readable by others" in err and "chmod 600" in err

    token = uuid.uuid4().hex
    proc = _serve("-c", str(cfg), "--listen", f"0.0.0.0:{port}", "--token-env", "COCKPIT_TEST_METRICS_TOKEN",
                  env={"COCKPIT_TEST_METRICS_TOKEN": token})
    try:
        url = f"http://127.0.0.1:{port}/metrics"
        _scrape_until(url, lambda t: "cockpit_service_up" in t, headers={"Authorization": f"Bearer {token}"})
        assert httpx.get(url, timeout=2).status_code == 401
        assert httpx.get(url, headers={"Authorization": "Bearer wrong"}, timeout=2).status_code == 401
        assert token not in " ".join(Path(f"/proc/{proc.pid}/cmdline").read_text().split("\0"))
    finally:
        rc = _stop(proc)
    assert rc == 128 + signal.SIGTERM


def test_the_cockpit_screen_serves_metrics_with_metrics_listen(fleet, tmp_path) -> None:  # type: ignore[no-untyped-def]
    fleet.set_systemd("h1", "fleet-agent", "active running")
    cfg = write_config(tmp_path, fleet, PLAN, hosts=["h1"], cockpit={"interval": "0.5s"})
    port = _port()
    tmux = Tmux(f"cockpit-metrics-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        tmux.start(f"cd {ROOT} && PYTHONPATH={ROOT} TERM=tmux-256color {sys.executable} -m cockpit -c {cfg} "
                   f"--read-only --quiet --metrics-listen 127.0.0.1:{port}")
        tmux.wait(lambda: "h1" in tmux.screen(), 40, "the cockpit screen")
        text = _scrape_until(f"http://127.0.0.1:{port}/metrics", lambda t: 'cockpit_service_up{host="h1"' in t)
        assert _samples(text)[("cockpit_service_up", frozenset(
            {"host": "h1", "service": "agent", "kind": "systemd"}.items()))] == 1.0
    finally:
        tmux.close()


def test_the_test_prometheus_scrapes_it_and_queries_it_back(fleet, tmp_path, prometheus) -> None:  # type: ignore[no-untyped-def]
    from prom import namespace

    fleet.set_systemd("h1", "fleet-agent", "active running")
    fleet.set_systemd("h2", "fleet-agent", "failed failed")
    cfg = write_config(tmp_path, fleet, PLAN, hosts=["h1", "h2"], cockpit={"interval": "0.5s"})
    port = _port()
    proc = _serve("-c", str(cfg), "--listen", f"127.0.0.1:{port}")
    job = namespace("cockpit")
    try:
        _scrape_until(f"http://127.0.0.1:{port}/metrics", lambda t: 'cockpit_service_up{host="h2"' in t)
        prometheus.scrape(job, f"127.0.0.1:{port}")
        deadline = time.monotonic() + 40
        got: dict[str, str] = {}
        while time.monotonic() < deadline and set(got) != {"h1", "h2"}:
            rows = prometheus.query(f'cockpit_service_up{{job="{job}",service="agent"}}', at=time.time())
            got = {r["metric"]["host"]: r["value"][1] for r in rows}  # type: ignore[index]
            time.sleep(0.5)
        assert got == {"h1": "1", "h2": "0"}, got
        rows = prometheus.query(f'cockpit_phase_current{{job="{job}"}}', at=time.time())
        assert [r["metric"]["phase"] for r in rows] == ["cut"]  # type: ignore[index]
    finally:
        prometheus.unscrape(job)
        rc = _stop(proc)
    assert rc == 128 + signal.SIGTERM


def test_an_analysis_runs_measurements_are_exported() -> None:
    """The gate's measurements (issue 26's analysis runs) as metrics: state, counts by result, latest values;
    a series with no finite value is absent, never a made-up number."""
    from types import SimpleNamespace

    from prometheus_client import generate_latest
    from prometheus_client.registry import CollectorRegistry

    from cockpit.cli.exposition import CockpitCollector
    from cockpit.conditions import SeriesValue
    from cockpit.runbook.analysis import AnalysisView, MeasurementView
    from cockpit.spec import AnalysisSpec

    series = (SeriesValue('{version="v2"}', 0.12, True), SeriesValue('{version="v3"}', float("nan"), None, "NaN"))
    run = AnalysisView(AnalysisSpec(count=3), 1000.0, "running", (
        MeasurementView(1, 1000.0, True, "ok"), MeasurementView(2, 1060.0, None, "NaN", series)))
    view = SimpleNamespace(phases=[SimpleNamespace(id="canary", analysis=run), SimpleNamespace(id="x", analysis=None)])
    collector = CockpitCollector(SimpleNamespace())
    class Analysis:
        def collect(self):  # type: ignore[no-untyped-def]
            return collector._analysis(view)

    registry = CollectorRegistry()
    registry.register(Analysis())  # type: ignore[arg-type]
    text = generate_latest(registry).decode()
    assert 'cockpit_analysis_state{phase="canary",state="running"} 1.0' in text
    assert 'cockpit_analysis_measurements{phase="canary",result="pass"} 1.0' in text
    assert 'cockpit_analysis_measurements{phase="canary",result="inconclusive"} 1.0' in text
    assert 'cockpit_analysis_measurements{phase="canary",result="fail"} 0.0' in text
    assert 'cockpit_analysis_last_value{phase="canary",series="{version=\\"v2\\"}"} 0.12' in text
    assert "v3" not in text and 'phase="x"' not in text
