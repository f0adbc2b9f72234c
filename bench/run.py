"""Run the benchmark suite: ``quick`` (about eight minutes, small N) or ``full`` (an hour or more).

Usage: .venv/bin/python bench/run.py quick|full [--only b1,b2,...] [--soak-rounds N]

Each scenario is its own script (bench/b1_fanout.py ... bench/b8_scale.py), run here one after the other,
never two at once (they share two cores with the sshd fleet). Results: bench/results/<name>.json
(quick runs are prefixed ``quick_``); then bench/report.py prints the summary tables.
``make bench`` and ``make bench-quick`` call this after bench/setup.sh; ``make bench-scale`` runs B8 alone
(``--only b8``: issue 20's scale figures, 1,000 hosts).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
PY = str(ROOT / ".venv" / "bin" / "python")

PROFILES: dict[str, dict[str, list[list[str]]]] = {
    "quick": {
        "b1": [["b1_fanout.py", "--hosts", "20", "--runs", "3", "--out", "quick_b1_fanout"]],
        "b2": [["b2_warm.py", "--hosts", "20", "--rounds", "20", "--peer-rounds", "2", "--out", "quick_b2_warm"]],
        "b3": [["b3_http.py", "--rounds", "3", "--concurrency", "10,20", "--origins", "4",
                "--scenarios", "engine-round,prober,httpx,httpx-fast,raw,raw-close", "--out", "quick_b3_http"]],
        "b4": [["b4_ui.py", "feed", "--hosts", "500", "--rounds", "15", "--every", "1", "--out", "quick_b4_ui_feed_500"],
               ["b4_ui.py", "idle", "--hosts", "50", "--seconds", "15", "--every", "5", "--out", "quick_b4_ui_idle_50"]],
        "b5": [["b5_soak.py", "--hosts", "20", "--rounds", "200", "--interval", "0", "--sample-every", "25",
                "--warmup", "50", "--flip-every", "10", "--flip-hosts", "2", "--out", "quick_b5_soak"]],
        "b6": [["b6_false_alarms.py", "--soak", "30", "--out", "quick_b6_false_alarms"]],
        "b7": [["b7_flood.py", "--quiet-seconds", "10", "--big-mb", "10", "--out", "quick_b7_flood"]],
        "b9": [["b9_wire.py", "--seconds", "20", "--warmup", "10", "--out", "quick_b9_wire"]],
        "b8": [["b8_scale.py", "cold", "--hosts", "20,40", "--runs", "1", "--out", "quick_b8_scale_cold"],
               ["b8_scale.py", "bastion", "--hosts", "40", "--runs", "1", "--out", "quick_b8_scale_bastion"]],
    },
    "full": {
        "b1": [["b1_fanout.py", "--hosts", "50,200", "--runs", "5", "--out", "b1_fanout"]],
        "b2": [["b2_warm.py", "--hosts", "50,200", "--rounds", "50", "--peer-rounds", "5", "--out", "b2_warm"],
               ["b2_warm.py", "--hosts", "500", "--rounds", "20", "--peer-rounds", "3", "--out", "b2_warm_500"]],
        "b3": [["b3_http.py", "--rounds", "7", "--out", "b3_http"]],
        "b4": [["b4_ui.py", "feed", "--hosts", "500", "--rounds", "120", "--every", "1", "--out", "b4_ui_feed_500"],
               ["b4_ui.py", "idle", "--hosts", "50", "--seconds", "60", "--every", "5", "--out", "b4_ui_idle_50"],
               ["b4_ui.py", "live", "--hosts", "50", "--seconds", "60", "--interval", "5s", "--out", "b4_ui_live_50"],
               ["b4_plain_table.py", "--rows", "500", "--cols", "7", "--rounds", "60"],
               ["b4_plain_table.py", "--rows", "500", "--cols", "7", "--rounds", "60", "--visible-only"]],
        "b5": [["b5_soak.py", "--hosts", "100", "--rounds", "3600", "--interval", "0.5", "--out", "b5_soak"]],
        "b6": [["b6_false_alarms.py", "--soak", "1800", "--out", "b6_false_alarms"]],
        "b7": [["b7_flood.py", "--quiet-seconds", "30", "--big-mb", "50", "--out", "b7_flood"]],
        "b9": [["b9_wire.py", "--seconds", "60", "--warmup", "10", "--out", "b9_wire"]],
        # issue 20, not in the default --only (make bench-scale): 1,000 sshd at once; about an hour on a loaded machine
        "b8": [["b8_scale.py", "cold", "--hosts", "100,200", "--runs", "3", "--out", "b8_scale_cold"],
               ["b8_scale.py", "bastion", "--hosts", "40", "--runs", "3", "--out", "b8_scale_bastion"],
               ["b8_scale.py", "big", "--hosts", "1000", "--warm-rounds", "3", "--out", "b8_scale_big"]],
    },
}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("profile", choices=sorted(PROFILES))
    ap.add_argument("--only", default="b1,b2,b3,b4,b5,b6,b7,b9")
    ap.add_argument("--soak-rounds", type=int, default=None, help="override B5's rounds (full: 3600)")
    a = ap.parse_args()
    failed = []
    t0 = time.monotonic()
    for key in a.only.split(","):
        for argv in PROFILES[a.profile][key]:
            argv = list(argv)
            if key == "b5" and a.soak_rounds:
                argv[argv.index("--rounds") + 1] = str(a.soak_rounds)
            print(f"== {key}: {' '.join(argv)}", file=sys.stderr, flush=True)
            r = subprocess.run([PY, str(BENCH / argv[0]), *argv[1:]], cwd=ROOT)
            if r.returncode:
                failed.append(" ".join(argv))
    print(f"== done in {time.monotonic() - t0:.0f}s", file=sys.stderr)
    subprocess.run([PY, str(BENCH / "report.py"), "--prefix", "quick_" if a.profile == "quick" else ""], cwd=ROOT)
    if failed:
        print("FAILED: " + "; ".join(failed), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
