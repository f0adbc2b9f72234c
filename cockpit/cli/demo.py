"""``cockpit demo``: the embedded demo cutover (:mod:`cockpit.demo`), or a one-round snapshot of this machine."""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
from pathlib import Path

from cockpit.cli.common import EXIT_OK, operator_name
from cockpit.cli.fleet import one_round
from cockpit.config import load_config
from cockpit.demo import run_demo
from cockpit.durations import parse_duration
from cockpit.errors import UsageError
from cockpit.exports import Exporter

DEMO_CONFIG = """\
[cockpit]
title = "This machine"
interval = "2s"

[hosts.local]
transport = "local"
tags = ["local"]

[services.python]
on = ["all"]
process = "python"

[services.shell]
on = ["all"]
command = "uname -sr"
"""


def cmd_demo(args: argparse.Namespace) -> int:
    if not args.snapshot:
        try:
            duration = parse_duration(args.duration)
        except ValueError as exc:
            raise UsageError(f"--duration {args.duration!r}: {exc}", "e.g. --duration 20s") from None
        if not args.headless and not sys.stdout.isatty():
            raise UsageError("the demo cockpit needs a terminal", "run it in a terminal, or pass --headless")
        return run_demo(headless=args.headless, duration=duration, out=Path(args.out), ssh=not args.no_ssh,
                        operator=operator_name(None))

    with tempfile.TemporaryDirectory(prefix="cockpit-demo-") as tmp:
        path = Path(tmp) / "demo.toml"
        path.write_text(DEMO_CONFIG)
        config = load_config(path)
        engine, snap = asyncio.run(one_round(config, None))
        ex = Exporter(engine.redactor)
        sys.stdout.write(ex.json(snap) if args.format == "json" else ex.markdown(snap))
    return EXIT_OK
