"""Intent-to-fire latency: how long ``action_intent`` takes to commit, SQLite file vs PostgreSQL (issue 28).

``python bench/pg_intent.py URL [N]``: N intents (default 300) on a fresh SQLite journal in a temp dir and on
the PostgreSQL database at URL (an empty database: it becomes a journal), each as the lease holder; prints
the median, p95 and max in milliseconds per backend. docs/performance.md cites it.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

from cockpit.journal import Journal, PgJournal


def measure(j: Journal, n: int) -> list[float]:
    j.acquire_lease("bench", "bench", 1, time.time())
    out = []
    for i in range(n):
        t = time.perf_counter()
        j.action_intent(f"bench {i}", "action", "true", [("h1", "true"), ("h2", "true"), ("h3", "true")])
        out.append((time.perf_counter() - t) * 1000)
    return out


def summary(name: str, ms: list[float]) -> str:
    q = statistics.quantiles(ms, n=20)
    return f"{name:<11} n={len(ms)}  median {statistics.median(ms):.2f} ms  p95 {q[18]:.2f} ms  max {max(ms):.2f} ms"


def main() -> None:
    url, n = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 300
    with tempfile.TemporaryDirectory() as d, Journal(Path(d) / "bench.sqlite", "bench") as j:
        print(summary("sqlite", measure(j, n)))
    with PgJournal(url, "bench") as j:
        print(summary("postgresql", measure(j, n)))


if __name__ == "__main__":
    main()
