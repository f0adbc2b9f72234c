"""Live observers through the journal (issue 29, item 1), on the SQLite journal (shared file, polling).

A driving cockpit runs in a process of its own (tests/view_driver.py) against the loopback fleet and
publishes its view every round; the observer is the real TUI (Textual pilot) on the same journal. It
shows the driver's fleet, a host going down and the driver's action result within a generous bound,
opens no SSH connection (counted at the test sshds), and says DRIVER SILENT when the driver is frozen
(SIGSTOP) within two of its rounds, then recovers when it resumes (SIGCONT). On PostgreSQL the observer is told
of each view by LISTEN/NOTIFY, and catches up when every connection to the database is cut.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from cockpitcfg import write_config
from fleet import Fleet
from textual.widgets import Static
from view_driver import Driver, accepted

from cockpit.config import load_config
from cockpit.journal import Journal, encode_view, latest_view
from cockpit.model import FleetSnapshot, HostState
from cockpit.session import Session
from screens.app import CockpitApp
from screens.widgets.fleet_table import FleetTable

INTERVAL = 1.0
BOUND = 5.0  # generous: the measured lag goes to docs/performance.md (bench/b10_observer_lag.py)

SERVICES = """
[journal]
path = "journal.sqlite"
lease_ttl = "6s"

[services.agent]
on = ["all"]
systemd = "fleet-agent"
"""


@pytest.fixture
def driver_config(request: pytest.FixtureRequest, tmp_path: Path, fleet: Fleet) -> Path:
    """The config, on a SQLite journal file, or (``indirect`` param "postgresql") a fresh test database."""
    for h in fleet:
        fleet.set_systemd(h, "fleet-agent", "active running")
    services = SERVICES
    if getattr(request, "param", "sqlite") == "postgresql":
        services = SERVICES.replace('path = "journal.sqlite"', f'path = "{request.getfixturevalue("postgres")}"')
    return write_config(tmp_path, fleet, services, cockpit={"interval": f"{INTERVAL}s"})


@pytest.fixture
def driver(driver_config: Path) -> Iterator[Driver]:
    d = Driver(driver_config)
    try:
        assert d.line() == "DRIVER"
        yield d
    finally:
        d.stop()


def banner(app: CockpitApp) -> str:
    return str(app.dashboard.query_one("#banner", Static).render())


def row(app: CockpitApp, host: str) -> str:
    table = app.dashboard.query_one("#fleet", FleetTable)
    return " ".join(str(c) for c in table.get_row(host))


async def until(pilot, cond, timeout: float = BOUND) -> float:  # type: ignore[no-untyped-def]
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if cond():
            return time.monotonic() - start
        await pilot.pause(0.05)
    raise AssertionError(f"not within {timeout}s")


@pytest.mark.slow
@pytest.mark.parametrize("driver_config", ["sqlite", "postgresql"], indirect=True)
async def test_observer_renders_the_drivers_view_without_ssh(request: pytest.FixtureRequest, driver: Driver,
                                                             driver_config: Path, fleet: Fleet) -> None:
    config = load_config(driver_config)
    before = accepted(fleet)  # the driver has logged in everywhere (it said DRIVER after a full round)
    session = Session(config, "bob")
    assert session.observer and session.follows
    app = CockpitApp(session.engine, session=session, quiet=True, operator="bob")
    async with app.run_test(size=(140, 40)) as pilot:
        await until(pilot, lambda: "DRIVER'S VIEW: alice on" in banner(app), timeout=15)
        await until(pilot, lambda: all(f"{h.name}" in row(app, h.name) and "ok" in row(app, h.name) for h in fleet))
        assert "s old" in banner(app)

        fleet.set_systemd("h2", "fleet-agent", "inactive dead")  # a host going down, seen by the driver
        took = await until(pilot, lambda: "down" in row(app, "h2"))
        print(f"h2 down on the observer's screen {took:.2f}s after the change")

        driver.send("action")
        assert driver.line().startswith("ACTION h1=ok")
        await until(pilot, lambda: any("driver's action mark (by alice): h1 ok" in n.message
                                       for n in app._notifications))

        os.kill(driver.proc.pid, signal.SIGSTOP)  # the driver freezes: it publishes nothing more
        frozen = time.monotonic()
        try:
            await until(pilot, lambda: "DRIVER SILENT" in banner(app), timeout=2 * INTERVAL + 3)
            silent_after = time.monotonic() - frozen
            print(f"DRIVER SILENT {silent_after:.2f}s after SIGSTOP (2 rounds: {2 * INTERVAL:.0f}s)")
        finally:
            os.kill(driver.proc.pid, signal.SIGCONT)
        await until(pilot, lambda: "DRIVER'S VIEW: alice on" in banner(app), timeout=10)
        assert "DRIVER SILENT" not in banner(app)
        if "postgresql" in request.node.name:  # every connection to the database is cut: the observer catches up
            notifier = app.follower.notifier  # type: ignore[union-attr]
            assert notifier is not None and notifier.received > 0, "no NOTIFY reached the observer"
            cluster = request.getfixturevalue("pg_cluster")
            db = load_config(driver_config).journal.target.rsplit("/", 1)[1]
            cut = cluster.admin(f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{db}' "
                                "AND pid <> pg_backend_pid()")
            assert cut, "no connection to cut"
            fleet.set_systemd("h2", "fleet-agent", "active running")
            assert "down" in row(app, "h2")
            took = await until(pilot, lambda: "down" not in row(app, "h2") and "DRIVER'S VIEW: alice" in banner(app),
                               timeout=15)
            print(f"caught up {took:.2f}s after its connection was cut")
            assert notifier.connects >= 2  # its LISTEN connection was cut too, and came back
        mine = [c for c in psutil.Process().net_connections("tcp")
                if c.raddr and c.raddr.port in {h.port for h in fleet}]
        assert mine == [], f"the observer connected to the fleet: {mine}"
    assert accepted(fleet) == before, "an SSH login happened while only the observer started"


def test_a_view_reads_back_as_published_and_untrusted_text_is_stripped(tmp_path: Path) -> None:
    host = HostState(name="web\x1b]0;pwned\x071", reach="ok", error="", tags=("a",))
    snap = FleetSnapshot(title="T", at=100.0, hosts=(host,), round=7)
    body = json.loads(encode_view(snap, every=2.0, plan="abc"))
    body["snapshot"]["hosts"][0]["reach"] = "rm -rf"  # not a reachability this cockpit knows
    with Journal(tmp_path / "j.sqlite", "alice") as j:
        j.acquire_lease("alice", "m1", 1, 100.0)
        from cockpit.journal import publish_view

        publish_view(j, json.dumps(body), at=101.0, host="m1", round_no=7)
        v = latest_view(j)
    assert v is not None and v.round == 7 and v.every == 2.0 and v.driver == "alice on m1"
    assert v.snapshot.hosts[0].name == "web1" and v.snapshot.hosts[0].reach == "unknown"


@pytest.mark.slow
async def test_a_driver_that_publishes_no_view_leaves_the_observer_probing(driver_config: Path, fleet: Fleet) -> None:
    """A headless driver (``cockpit step run``) holds the lease but never polls, so publishes nothing: the
    observer says so and probes the fleet itself rather than show an empty table."""
    headless = Session(load_config(driver_config), "alice")  # holds the lease, never started: no view
    try:
        observer = Session(load_config(driver_config), "bob")
        assert observer.follows
        app = CockpitApp(observer.engine, session=observer, quiet=True, operator="bob")
        async with app.run_test(size=(140, 40)) as pilot:
            await until(pilot, lambda: "OWN PROBES: the driver publishes no view" in banner(app), timeout=15)
            await until(pilot, lambda: all("ok" in row(app, h.name) for h in fleet), timeout=15)
    finally:
        await headless.close()
