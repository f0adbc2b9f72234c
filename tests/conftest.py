"""Shared fixtures: the real loopback fleet, an HTTP server, helper processes.

Fixtures (every process they start is stopped by pid in their finalizers):

- ``fleet`` (session): a :class:`fleet.Fleet` of 3 sshd hosts h1..h3 with
  sshd's default limits. It is shared, so after each test that used it an
  autouse finalizer resumes paused hosts, restarts stopped ones, clears the
  shim state and rewrites known_hosts with the current host keys.
- ``fleet_factory`` (function): ``make(n=3, extra_config="", env=None) -> Fleet`` for
  tests that need their own fleet or other sshd settings.
- ``httpd`` (function): a running :class:`httpd.HttpServer`.
- ``dummy_process`` (function): ``start(marker=None) -> procs.DummyProcess``.
- ``tcp_listener`` (function): ``start(port=0, address="127.0.0.1") -> procs.TcpListener``.
- ``dockerd`` (session): a private :class:`dockerd.DockerDaemon` with a local busybox image;
  tests isolate themselves by container names and compose project names of their own.
- ``pg_cluster`` (session): a private PostgreSQL cluster (:class:`pg.PgCluster`), stopped at the end.
- ``postgres`` (function): the URL of a fresh database in it, owned by the cockpit's unprivileged role.
- ``prometheus`` (session): a :class:`prom.Prometheus` on a free loopback port with its own data
  directory; ``prometheus.backfill(prometheus.om().counter(...))`` loads known series (OpenMetrics with
  timestamps relative to ``prometheus.now``) and restarts over the blocks; tests keep apart with a label
  ``ns=prom.namespace()``. ``prometheus.scrape(job, target)`` adds a live target (``prom.Exporter``).
- ``prom_exporter`` (function): ``prom.Exporter`` (prometheus-client on loopback), stopped after the test.

Tests needing sshd are skipped with the reason when it is missing
(``make test`` installs it when run as root). Tests needing another real server
(Docker, Prometheus, PostgreSQL, Chromium) call ``services.need()``: a skip with the
reason on a developer's machine, a failure under CI (``COCKPIT_REQUIRE_SERVICES=1``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from dockerd import DockerDaemon
from fleet import Fleet, fleet_unavailable_reason
from httpd import HttpServer
from pg import PgCluster
from procs import DummyProcess, TcpListener
from prom import Exporter, Prometheus

_session_fleet: Fleet | None = None


def _skip_without_sshd() -> None:
    reason = fleet_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)


@pytest.fixture(scope="session")
def fleet() -> Iterator[Fleet]:
    """Three loopback sshd hosts shared by the session (reset after each test)."""
    global _session_fleet
    _skip_without_sshd()
    shared = Fleet(3).start()
    _session_fleet = shared
    try:
        yield shared
    finally:
        _session_fleet = None
        shared.close()


@pytest.fixture(autouse=True)
def _reset_shared_fleet(request: pytest.FixtureRequest) -> Iterator[None]:
    yield
    if _session_fleet is not None and "fleet" in request.fixturenames:
        _session_fleet.reset()


@pytest.fixture
def fleet_factory() -> Iterator[Callable[..., Fleet]]:
    """``make(n=3, extra_config="", env=None)``: a fleet of one's own, closed after the test; ``env`` adds
    variables to every session (sshd reads only its first SetEnv: one in ``extra_config`` drops the fleet's)."""
    _skip_without_sshd()
    made: list[Fleet] = []

    def make(n: int = 3, extra_config: str = "", env: dict[str, str] | None = None) -> Fleet:
        own = Fleet(n, extra_config=extra_config, env=env)
        made.append(own)
        return own.start()

    try:
        yield make
    finally:
        for own in reversed(made):
            own.close()


@pytest.fixture
def httpd() -> Iterator[HttpServer]:
    server = HttpServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def dummy_process() -> Iterator[Callable[..., DummyProcess]]:
    """``start(marker=None)``: a sleeping process named ``marker`` (random if None)."""
    started: list[DummyProcess] = []

    def start(marker: str | None = None) -> DummyProcess:
        proc = DummyProcess(marker)
        started.append(proc)
        return proc

    try:
        yield start
    finally:
        for proc in started:
            proc.stop()


@pytest.fixture
def tcp_listener() -> Iterator[Callable[..., TcpListener]]:
    """``start(port=0, address="127.0.0.1")``: a process listening there."""
    started: list[TcpListener] = []

    def start(port: int = 0, address: str = "127.0.0.1") -> TcpListener:
        listener = TcpListener(port, address)
        started.append(listener)
        return listener

    try:
        yield start
    finally:
        for listener in started:
            listener.stop()


@pytest.fixture(scope="session")
def dockerd() -> Iterator[DockerDaemon]:
    """One private Docker daemon per test session (per xdist worker), stopped by pid at the end."""
    daemon = DockerDaemon()
    try:
        yield daemon.start()
    finally:
        daemon.close()



@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    """One PostgreSQL cluster per test session (per xdist worker), stopped and removed at the end."""
    cluster = PgCluster()
    try:
        yield cluster.start()
    finally:
        cluster.close()


@pytest.fixture
def postgres(pg_cluster: PgCluster) -> str:
    """A fresh database per test, as ``postgresql://cockpit@127.0.0.1:PORT/NAME``."""
    return pg_cluster.new_database()


@pytest.fixture(scope="session")
def prometheus() -> Iterator[Prometheus]:
    """One Prometheus per test session (per xdist worker), fed by backfill; stopped by pid at the end."""
    server = Prometheus()
    try:
        yield server.start()
    finally:
        server.close()


@pytest.fixture
def prom_exporter() -> Iterator[Exporter]:
    """A prometheus-client exporter on a loopback port, for the one live-scrape test."""
    exporter = Exporter()
    try:
        yield exporter
    finally:
        exporter.stop()
