"""B9 wire: bytes a second written to a 120x40 tmux pane, the cockpit beside htop and Glances.

Usage:
  .venv/bin/python bench/b9_wire.py --seconds 60 --warmup 10          # every subject
  .venv/bin/python bench/b9_wire.py --only steady,htop --seconds 20

Each subject runs alone in a private tmux server (``tmux -L``), TERM=tmux-256color, 120x40. After
``--warmup`` seconds ``tmux pipe-pane`` copies what the program writes to its pane for ``--seconds``;
the figure is those bytes over that time. Subjects:
  steady    the cockpit (real App, tests/quiet_driver.py) on 40 hosts, a round every 2 s, nothing changing
  changing  the same with every host's CPU moving every round (the sparklines and values redraw)
  demo      ``cockpit demo`` (real local processes and a load balancer; its runbook waits at baseline)
  htop      htop with a 1.5 s refresh (``-d 15``)
  glances   Glances with a 2 s refresh (``-t 2``)
htop comes from Debian (apt-get install -y htop), Glances from pip (bench-only tools: bench/requirements.txt).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

from common import ROOT, log, write_result

PY = sys.executable
SIZE = (120, 40)


def _glances() -> str | None:
    for cand in (ROOT / "bench" / ".venv" / "bin" / "glances", Path(PY).parent / "glances"):
        if cand.exists():
            return str(cand)
    return shutil.which("glances")


def subjects(tmp: Path) -> dict[str, str | None]:
    env = f"cd {ROOT} && PYTHONPATH={ROOT} TERM=tmux-256color"
    glances = _glances()
    return {
        "steady": f"{env} {PY} tests/quiet_driver.py {tmp / 'steady'} 40 2",
        "changing": f"{env} {PY} tests/quiet_driver.py {tmp / 'changing'} 40 2 changing",
        "demo": f"{env} {PY} -m cockpit demo",
        "htop": "TERM=tmux-256color htop -d 15" if shutil.which("htop") else None,
        "glances": f"TERM=tmux-256color {glances} -t 2" if glances else None,
    }


def measure(name: str, command: str, warmup: float, seconds: float, tmp: Path) -> dict[str, Any]:
    sock = f"b9-{name}-{uuid.uuid4().hex[:6]}"
    out = tmp / f"{name}.bytes"
    (tmp / name).mkdir(exist_ok=True)

    def tmux(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", sock, "-f", "/dev/null", *args], capture_output=True, text=True,
                              timeout=10, check=False)

    try:
        tmux("new-session", "-d", "-s", sock, "-x", str(SIZE[0]), "-y", str(SIZE[1]), command)
        time.sleep(warmup)
        tmux("pipe-pane", "-o", "-t", sock, f"cat > {out}")
        time.sleep(seconds)
        tmux("pipe-pane", "-t", sock)
        alive = tmux("has-session", "-t", sock).returncode == 0
        screen = tmux("capture-pane", "-p", "-t", sock).stdout
    finally:
        tmux("kill-server")
    n = out.stat().st_size if out.exists() else 0
    return {"bytes": n, "bytes_per_second": round(n / seconds, 1), "alive": alive,
            "screen_first_line": screen.splitlines()[0][:100] if screen else ""}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--warmup", type=float, default=10)
    ap.add_argument("--only", default="steady,changing,demo,htop,glances")
    ap.add_argument("--out", default="b9_wire")
    a = ap.parse_args()
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="b9-") as d:
        tmp = Path(d)
        subj = subjects(tmp)
        for name in a.only.split(","):
            cmd = subj[name]
            if cmd is None:
                results[name] = {"skipped": "not installed"}
                continue
            log(f"{name}: {a.warmup:g}s warm-up, {a.seconds:g}s counted")
            results[name] = measure(name, cmd, a.warmup + (10 if name == "demo" else 0), a.seconds, tmp)
            log(f"{name}: {results[name]['bytes_per_second']} bytes/s")
    write_result(a.out, {"size": f"{SIZE[0]}x{SIZE[1]}", "seconds": a.seconds, "warmup": a.warmup,
                         "results": results})


if __name__ == "__main__":
    main()
