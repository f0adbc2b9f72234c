"""What the demo's steps and keys run: set the traffic split, inject or heal a fault in v2.

    python -m cockpit.demo.ctl split 50        (the runbook's canary steps)
    python -m cockpit.demo.ctl fault on|off    (the demo-only fault key)
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    state = Path(os.environ.get("COCKPIT_DEMO_STATE", "."))
    if len(args) == 2 and args[0] == "split" and args[1].isdigit() and 0 <= int(args[1]) <= 100:
        _write(state / "split", args[1] + "\n")
        print(f"traffic split: {args[1]}% to v2, {100 - int(args[1])}% to v1")
        return 0
    if len(args) == 2 and args[0] == "fault" and args[1] in ("on", "off"):
        knobs = {"error_rate": 0.6, "latency_ms": 250} if args[1] == "on" else {"error_rate": 0, "latency_ms": 0}
        _write(state / "v2.json", json.dumps(knobs) + "\n")
        print("v2: " + ("60% errors and +250 ms latency injected" if args[1] == "on" else "healthy again"))
        return 0
    print("usage: ctl split 0..100 | ctl fault on|off", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
