"""A steady fleet in a real terminal, for the byte count of tests/test_quiet_wire.py (issue 22, item 7).

``python tests/quiet_driver.py DIR [HOSTS] [INTERVAL]``: the real CockpitApp on a config of HOSTS hosts
(TEST-NET addresses, never contacted: ``live=False``), fed one round every INTERVAL seconds the way the
engine's subscription feeds it: every host's state is new (new round times, new samples) and every value
the same, which is what a quiet fleet looks like. What reaches the terminal is then the screen's own
doing: redrawn rows, ticking ages, animations.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ui_fixtures import BIG_SERVICES, write_big_config  # noqa: E402

from cockpit.config import load_config  # noqa: E402
from cockpit.engine import Engine  # noqa: E402
from cockpit.model import CheckResult, FleetSnapshot, HostState, Load  # noqa: E402
from screens.app import CockpitApp  # noqa: E402
from screens.messages import SnapshotReady  # noqa: E402

HISTORY = 30


def steady_round(names: list[str], at: float, interval: float) -> FleetSnapshot:
    """Every host measured at ``at`` with the values it always has (a full history of them)."""
    hosts = []
    for i, name in enumerate(names):
        hist = tuple(Load(at=at - interval * (HISTORY - 1 - k), cpu=10.0 + i % 50, mem=40.0, mem_total_kb=8_000_000,
                          load1=0.5, load5=0.5, load15=0.4, disks=(("/", 41.0),), ncpu=2) for k in range(HISTORY))
        results = tuple(CheckResult(service=s, host=name, kind="command", status="up", detail="", latency=None, at=at,
                                    since=at - 3600) for s in BIG_SERVICES)
        hosts.append(HostState(name=name, reach="ok", load=hist[-1], history=hist, results=results,
                               round_started=at - 0.2, round_ended=at, tags=("fleet",)))
    return FleetSnapshot(title="Steady fleet", at=at, hosts=tuple(hosts), round=int(at), changed=tuple(names))


class SteadyApp(CockpitApp):
    CSS_PATH = str(Path(__file__).resolve().parents[1] / "screens" / "cockpit.tcss")  # relative: to this file
    def __init__(self, engine: Engine, names: list[str], interval: float) -> None:
        super().__init__(engine, live=False, operator="quiet-test")
        self.names, self.interval = names, interval

    def on_ready(self) -> None:
        self._feed()
        self.set_interval(self.interval, self._feed)

    def _feed(self) -> None:
        self.post_message(SnapshotReady(steady_round(self.names, time.time(), self.interval)))


def main() -> int:
    directory = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    config = load_config(write_big_config(directory, n))
    names = [h.name for h in config.hosts]
    return SteadyApp(Engine(config), names, interval).run() or 0


if __name__ == "__main__":
    sys.exit(main())
