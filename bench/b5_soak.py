"""B5 soak: many rounds over a loopback fleet with the journal on; RSS, CPU and journal size sampled.

Usage: .venv/bin/python bench/b5_soak.py --hosts 100 --rounds 3600 [--interval 0.5] [--out b5_soak]

A Session (engine + journal + lease, as the cockpit runs it) over N hosts with three checks each; rounds
with Engine.run_round() back to back, one starting at most every ``--interval`` seconds. Every
``--flip-every`` rounds the docker check of ``--flip-hosts`` hosts flips (down, then up again), so the
journal records status changes as it would during a cutover. Sampled every ``--sample-every`` rounds:
process RSS, CPU, journal size (file + WAL), rows, and the engine's History (samples kept, their bytes).
Growth is reported from the first sample after warm-up (the load sparklines hold 120 samples, so the
first 120 rounds grow legitimately) to the end, and as a least-squares slope per 1,000 rounds.
``--history-cap N`` replaces the engine's History with one keeping N samples per check, to show what
the rest of the process does without it.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import psutil

from common import ROOT, BenchFleet, log, raise_nofile, versions, write_result
from peers import SERVICES_B2

sys.path.insert(0, str(ROOT))

from cockpit.config import load_config  # noqa: E402
from cockpit.history import History  # noqa: E402
from cockpit.session import Session  # noqa: E402

SERVICES = SERVICES_B2  # the same three checks per host as B2's warm round


def history_stats(history: History) -> dict[str, float]:
    n = len(history)
    nbytes = history.nbytes()
    return {"history_samples": n, "history_bytes_per_sample": round(nbytes / n) if n else 0,
            "history_mb_est": round(nbytes / 2**20, 2)}


def slope(xs: list[float], ys: list[float]) -> float:
    n = len(xs)
    if n < 2:
        return 0.0
    mx, my = sum(xs) / n, sum(ys) / n
    den = sum((x - mx) ** 2 for x in xs)
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys)) / den if den else 0.0


def journal_bytes(path: Path) -> int:
    """On disk: the database file and its WAL (which SQLite checkpoints at ~4 MB and does not shrink)."""
    return sum(p.stat().st_size for p in (path, path.with_name(path.name + "-wal")) if p.exists())


def journal_logical(conn: Any) -> int:
    """The database's size as SQLite sees it (pages in use, WAL frames included)."""
    pages = conn.execute("PRAGMA page_count").fetchone()[0] - conn.execute("PRAGMA freelist_count").fetchone()[0]
    return int(pages * conn.execute("PRAGMA page_size").fetchone()[0])


async def soak(n: int, rounds: int, interval: float, flip_every: int, flip_hosts: int, sample_every: int,
               history_cap: int | None, warmup: int) -> dict[str, Any]:
    from cockpitcfg import write_config

    with BenchFleet(n) as fleet, tempfile.TemporaryDirectory(prefix="bench-b5-") as tmp:
        for h in fleet.hosts:
            fleet.set_systemd(h, "fleet-agent", "active running")
            fleet.set_docker(h, "web", "running healthy 0")
        journal = Path(tmp) / "journal.db"
        path = write_config(Path(tmp), fleet, SERVICES, cockpit={"interval": f"{max(interval, 0.1)}s", "journal": str(journal)},
                            ssh={"connect_timeout": "10s", "max_startups": 16, "keepalive": "0s"})
        session = Session(load_config(path), "bench-soak")
        assert session.journal is not None and session.lease is not None and session.lease.ours, session.journal_problem
        engine = session.engine
        if history_cap is not None:
            engine.history = History(max_samples=history_cap)
        await session.start(poll=False)
        proc = psutil.Process()
        samples: list[dict[str, Any]] = []
        flipped = False
        round_times: list[float] = []
        t_start = time.monotonic()
        try:
            for r in range(1, rounds + 1):
                began = time.monotonic()
                if flip_every and r % flip_every == 0:
                    flipped = not flipped
                    for h in fleet.hosts[:flip_hosts]:
                        fleet.set_docker(h, "web", "exited unhealthy 1" if flipped else "running healthy 0")
                snap = await engine.run_round()
                round_times.append(time.monotonic() - began)
                if r % sample_every == 0 or r == rounds:
                    gc.collect()
                    cpu = proc.cpu_times()
                    samples.append({
                        "round": r, "t_s": round(time.monotonic() - t_start, 1),
                        "rss_mb": round(proc.memory_info().rss / 2**20, 2),
                        "cpu_s": round(cpu.user + cpu.system, 2),
                        "journal_bytes": journal_logical(session.journal._conn),  # type: ignore[union-attr]
                        "journal_disk_bytes": journal_bytes(journal),
                        "journal_status_rows": session.journal._conn.execute(  # type: ignore[union-attr]
                            "SELECT count(*) FROM status_changes").fetchone()[0],
                        "reachable": sum(1 for h in snap.hosts if h.reachable),
                        **history_stats(engine.history),
                    })
                    s = samples[-1]
                    log(f"  round {r}: rss {s['rss_mb']} MB, cpu {s['cpu_s']} s, journal {s['journal_bytes']} B "
                        f"({s['journal_status_rows']} changes), history {s['history_samples']} samples "
                        f"~{s['history_mb_est']} MB, last round {round_times[-1]:.3f}s")
                wait = interval - (time.monotonic() - began)
                if wait > 0:
                    await asyncio.sleep(wait)
        finally:
            await session.close()
    elapsed = time.monotonic() - t_start
    base = next((s for s in samples if s["round"] >= warmup), samples[0])
    end = samples[-1]
    after = [s for s in samples if s["round"] >= base["round"]]
    xs = [s["round"] for s in after]
    rss_slope = slope(xs, [s["rss_mb"] for s in after]) * 1000
    hist_slope = slope(xs, [s["history_mb_est"] for s in after]) * 1000
    j_slope = slope(xs, [float(s["journal_bytes"]) for s in after])  # bytes per round
    rows = end["journal_status_rows"] - base["journal_status_rows"]
    jbytes = end["journal_bytes"] - base["journal_bytes"]
    rounds_per_day_5s = 86400 / 5
    return {
        "hosts": n, "rounds": rounds, "elapsed_s": round(elapsed, 1), "interval_s": interval,
        "round_s_median": round(sorted(round_times)[len(round_times) // 2], 3),
        "flip_every": flip_every, "flip_hosts": flip_hosts, "history_cap": history_cap,
        "baseline_round": base["round"],
        "rss_mb_baseline": base["rss_mb"], "rss_mb_end": end["rss_mb"],
        "rss_growth_mb": round(end["rss_mb"] - base["rss_mb"], 2),
        "rss_slope_mb_per_1000_rounds": round(rss_slope, 2),
        "history_mb_growth_est": round(end["history_mb_est"] - base["history_mb_est"], 2),
        "history_slope_mb_per_1000_rounds": round(hist_slope, 2),
        "rss_growth_without_history_mb": round((end["rss_mb"] - base["rss_mb"])
                                               - (end["history_mb_est"] - base["history_mb_est"]), 2),
        "cpu_pct_of_one_core": round((end["cpu_s"] - samples[0]["cpu_s"]) / max(1e-9, end["t_s"] - samples[0]["t_s"]) * 100, 1),
        "journal_bytes_end": end["journal_bytes"], "journal_disk_bytes_end": end["journal_disk_bytes"],
        "journal_status_rows_end": end["journal_status_rows"],
        "journal_bytes_per_status_change": round(jbytes / rows) if rows else None,
        "journal_bytes_per_round": round(j_slope, 1),
        "journal_mb_per_day_at_5s_rounds": round(j_slope * rounds_per_day_5s / 2**20, 2),
        **held_window(samples),
        "samples": samples,
    }


def held_window(samples: list[dict[str, Any]]) -> dict[str, Any]:
    """Growth once the History holds a whole window (its rings stop growing): what a pinned cockpit keeps doing."""
    end = samples[-1]
    full = next((s for s in samples if s["history_mb_est"] >= end["history_mb_est"]), end)
    return {"history_full_round": full["round"], "rss_mb_history_full": full["rss_mb"],
            "rss_growth_after_history_full_mb": round(end["rss_mb"] - full["rss_mb"], 2)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--hosts", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3600)
    ap.add_argument("--interval", type=float, default=0.5, help="seconds from one round's start to the next's, at least")
    ap.add_argument("--flip-every", type=int, default=50)
    ap.add_argument("--flip-hosts", type=int, default=5)
    ap.add_argument("--sample-every", type=int, default=100)
    ap.add_argument("--warmup", type=int, default=200, help="growth is measured from the first sample at or after this round")
    ap.add_argument("--history-cap", type=int, default=None)
    ap.add_argument("--out", default="b5_soak")
    a = ap.parse_args()
    raise_nofile()
    res = asyncio.run(soak(a.hosts, a.rounds, a.interval, a.flip_every, a.flip_hosts, a.sample_every,
                           a.history_cap, a.warmup))
    log({k: v for k, v in res.items() if k != "samples"})
    write_result(a.out, {"versions": versions(peers=False), **res})


if __name__ == "__main__":
    main()
