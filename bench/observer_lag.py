"""B10 observer lag (issue 29): from the driver's round to the observer's screen, on a loopback fleet.

Usage: .venv/bin/python bench/observer_lag.py [--flips 40] [--interval 1] [--postgres]

A driving cockpit (tests/view_driver.py, its own process) polls a 3-host sshd fleet and publishes its
view to the SQLite journal every round; the observer is the real TUI (Textual's run_test, 140x40) following
that journal with no SSH connection. The bench flips one host's service up/down ``--flips`` times, a
random 0–1 s apart (so a flip lands anywhere in a round), and for each flip records

  lag = when the observer's fleet table first shows the new status (its row read every 10 ms)
        - when the driver's round that saw it ended (``HostState.round_ended`` in the view shown)

split at the view's publication time: the driver's wait to publish, then the way to the observer's screen.

Both clocks are this machine's. The lag is the publication wait (at most once per round), the observer's
poll (every 0.25 s; on PostgreSQL a NOTIFY wakes it at once), reading and decoding the view, and the table's
update. ``--postgres``: the journal in a throwaway PostgreSQL cluster (tests/pg.py, fsync off) instead of a
SQLite file. Writes bench/results/b10_observer_lag[_pg].json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from common import ROOT, log, pct, versions, write_result

sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from cockpitcfg import write_config  # noqa: E402
from fleet import Fleet  # noqa: E402

from cockpit.config import load_config  # noqa: E402
from cockpit.session import Session  # noqa: E402
from screens.app import CockpitApp  # noqa: E402
from screens.widgets.fleet_table import FleetTable  # noqa: E402

SERVICES = """
[journal]
path = "journal.sqlite"

[services.agent]
on = ["all"]
systemd = "fleet-agent"
"""


def _row(app: CockpitApp, host: str) -> str:
    return " ".join(str(c) for c in app.dashboard.query_one("#fleet", FleetTable).get_row(host))


async def _measure(config: Path, fleet: Fleet, flips: int) -> tuple[list[float], list[tuple[float, float]]]:
    session = Session(load_config(config), "observer")
    if not session.follows:
        raise SystemExit("the observer does not follow a driver: is the driver running?")
    app = CockpitApp(session.engine, session=session, quiet=True, operator="observer")
    lags: list[float] = []
    parts: list[tuple[float, float]] = []
    async with app.run_test(size=(140, 40)) as pilot:
        deadline = time.monotonic() + 30
        while app.snapshot is None or "ok" not in _row(app, "h2"):
            if time.monotonic() > deadline:
                raise SystemExit("the observer never showed the driver's view")
            await pilot.pause(0.05)
        up = True
        for i in range(flips):
            await pilot.pause(random.uniform(0.0, 1.0))
            up = not up
            fleet.set_systemd("h2", "fleet-agent", "active running" if up else "inactive dead")
            want = "ok" if up else "down"
            deadline = time.monotonic() + 20
            while want not in _row(app, "h2"):
                if time.monotonic() > deadline:
                    raise SystemExit(f"flip {i}: the observer never showed {want}")
                await pilot.pause(0.01)
            shown = time.time()
            assert app.snapshot is not None and app.follower is not None
            ended = app.snapshot.host("h2").round_ended
            published = app.follower.view.at  # type: ignore[attr-defined]
            lags.append(shown - ended)
            parts.append((published - ended, shown - published))
            log(f"flip {i + 1}/{flips}: {want} shown {lags[-1]:.3f}s after the driver's round "
                f"(published after {parts[-1][0]:.3f}s, on screen {parts[-1][1]:.3f}s later)")
    return lags, parts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--flips", type=int, default=40)
    ap.add_argument("--interval", type=float, default=1.0)
    ap.add_argument("--postgres", action="store_true", help="the journal in PostgreSQL (LISTEN/NOTIFY)")
    args = ap.parse_args()
    cluster = None
    services = SERVICES
    if args.postgres:
        from pg import PgCluster

        cluster = PgCluster().start()
        services = SERVICES.replace('path = "journal.sqlite"', f'path = "{cluster.new_database()}"')
    with tempfile.TemporaryDirectory(prefix="b10-") as tmp, Fleet(3) as fleet:
        fleet.start()
        for h in fleet:
            fleet.set_systemd(h, "fleet-agent", "active running")
        config = write_config(Path(tmp), fleet, services, cockpit={"interval": f"{args.interval}s"})
        env = {**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"}
        driver = subprocess.Popen([sys.executable, str(ROOT / "tests" / "view_driver.py"), str(config), "driver"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env)
        try:
            assert driver.stdout is not None
            if driver.stdout.readline().strip() != "DRIVER":
                raise SystemExit("the driver did not take the lease")
            lags, parts = asyncio.run(_measure(config, fleet, args.flips))
        finally:
            driver.terminate()
            driver.wait(timeout=15)
            if cluster is not None:
                cluster.close()
    result = {"journal": "postgresql" if args.postgres else "sqlite", "interval_s": args.interval, "flips": len(lags), "lag_p50_s": round(pct(lags, 50), 3),
              "lag_p99_s": round(pct(lags, 99), 3), "lag_max_s": round(max(lags), 3),
              "publish_wait_p50_s": round(pct([a for a, _ in parts], 50), 3),
              "publish_wait_p99_s": round(pct([a for a, _ in parts], 99), 3),
              "to_screen_p50_s": round(pct([b for _, b in parts], 50), 3),
              "to_screen_p99_s": round(pct([b for _, b in parts], 99), 3),
              "lags_s": [round(x, 3) for x in lags], "cpus": os.cpu_count(), "load1": os.getloadavg()[0],
              "versions": versions(peers=False)}
    log(f"observer lag p50 {result['lag_p50_s']} s, p99 {result['lag_p99_s']} s over {len(lags)} flips")
    write_result("b10_observer_lag_pg" if args.postgres else "b10_observer_lag", result)


if __name__ == "__main__":
    main()
