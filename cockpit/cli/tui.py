"""``cockpit`` / ``cockpit run``: the cockpit itself. The only module of the CLI that imports :mod:`screens`.

The dispatcher imports this module only for the TUI, so headless commands never load Textual.
"""

from __future__ import annotations

import argparse
import signal
import sys

from cockpit.cli.common import config_path, operator_name
from cockpit.config import load_config
from cockpit.session import Session
from screens.app import CockpitApp


def cmd_run(args: argparse.Namespace) -> int:
    """The TUI on the config's fleet, with a session that holds (or observes) the runbook's lease."""
    config = load_config(config_path(args))
    operator = operator_name(args.operator)
    session = Session(config, operator, read_only=args.read_only, own_probes=getattr(args, "own_probes", False))
    if getattr(args, "metrics_listen", None) or getattr(args, "token_env", None) or getattr(args, "token_file", None):
        from cockpit.cli.exposition import server_for  # deferred: prometheus-client only when asked for

        session.servers.append(server_for(session, args.metrics_listen, args.token_env, args.token_file))
    app = CockpitApp(session.engine, read_only=args.read_only, quiet=args.quiet, operator=operator,
                     session=session, ask_sudo=getattr(args, "ask_sudo", False) and not args.read_only)
    result = app.run(mouse=not args.no_mouse)
    rc = app.return_code or int(result or 0)  # 70 after a fatal fault, 128+N after a signal; never 0 then
    if rc > 128:
        print(f"cockpit: stopped by {signal.Signals(rc - 128).name}; running commands were cancelled (detached jobs "
              "run on) and journaled, the lease released", file=sys.stderr)
    return rc
