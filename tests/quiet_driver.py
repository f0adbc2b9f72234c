"""A steady fleet in a real terminal, for the byte count of tests/test_quiet_wire.py (issue 22, item 7).

``python tests/quiet_driver.py DIR [HOSTS] [INTERVAL] [changing]``: the real CockpitApp on a config of HOSTS hosts
(TEST-NET addresses, never contacted: ``live=False``), fed one round every INTERVAL seconds the way the
engine's subscription feeds it: every host's state is new (new round times, new samples) and every value
the same, which is what a quiet fleet looks like. What reaches the terminal is then the screen's own
doing: redrawn rows, ticking ages, animations. ``changing`` (bench/b9_wire.py): every host's CPU moves
every round, as on a busy real fleet.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ui_fixtures import BIG_SERVICES, write_big_config

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.model import CheckResult, FleetSnapshot, HostState, Load
from screens.app import CockpitApp
from screens.messages import SnapshotReady

HISTORY = 30


def steady_round(names: list[str], at: float, interval: float, changing: bool = False) -> FleetSnapshot:
    """Every host measured at ``at`` with the values it always has (a full history of them).

    ``changing``: each host's CPU differs from round to round (a deterministic walk), history included.
    """
    hosts = []
    r = int(at / interval)
    for i, name in enumerate(names):
        def cpu(k: int, i: int = i) -> float:
            return float((i * 7 + (r - k) * 13) % 90 + 5) if changing else 10.0 + i % 50

        hist = tuple(Load(at=at - interval * (HISTORY - 1 - k), cpu=cpu(HISTORY - 1 - k), mem=40.0, mem_total_kb=8_000_000,
                          load1=0.5, load5=0.5, load15=0.4, disks=(("/", 41.0),), ncpu=2) for k in range(HISTORY))
        results = tuple(CheckResult(service=s, host=name, kind="command", status="up", detail="", latency=None, at=at,
                                    since=at - 3600) for s in BIG_SERVICES)
        hosts.append(HostState(name=name, reach="ok", load=hist[-1], history=hist, results=results,
                               round_started=at - 0.2, round_ended=at, tags=("fleet",)))
    return FleetSnapshot(title="Steady fleet", at=at, hosts=tuple(hosts), round=int(at), changed=tuple(names))


class SteadyApp(CockpitApp):
    CSS_PATH = str(Path(__file__).resolve().parents[1] / "screens" / "cockpit.tcss")  # relative: to this file
    def __init__(self, engine: Engine, names: list[str], interval: float, changing: bool = False) -> None:
        super().__init__(engine, live=False, operator="quiet-test")
        self.names, self.interval, self.changing = names, interval, changing

    def on_ready(self) -> None:
        self._feed()
        self.set_interval(self.interval, self._feed)

    def _feed(self) -> None:
        self.post_message(SnapshotReady(steady_round(self.names, time.time(), self.interval, self.changing)))


def main() -> int:
    directory = Path(sys.argv[1])
    n = int(sys.argv[2]) if len(sys.argv) > 2 else 40
    interval = float(sys.argv[3]) if len(sys.argv) > 3 else 2.0
    config = load_config(write_big_config(directory, n))
    names = [h.name for h in config.hosts]
    changing = len(sys.argv) > 4 and sys.argv[4] == "changing"
    return SteadyApp(Engine(config), names, interval, changing).run() or 0


if __name__ == "__main__":
    sys.exit(main())
