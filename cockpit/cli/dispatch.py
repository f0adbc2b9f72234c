"""The ``cockpit`` command line: the parser, the command table and ``main``.

Exit status: 0 fine, 1 something is down or unreachable (``check``), 2 a config or
usage error (a clear message, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import signal
import sys
from collections.abc import Callable

from cockpit.cli import demo, fleet
from cockpit.cli import runbook as cli_runbook
from cockpit.cli.common import EXIT_OK, EXIT_USAGE
from cockpit.cli.runbook import ROUNDS_HELP
from cockpit.cli.verdicts import FORMATS
from cockpit.errors import CockpitError, ConfigError, UsageError
from cockpit.sanitize import strip_control

DISTRIBUTION = "cutover-cockpit"  # pyproject.toml's [project] name


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kw: object) -> None:
        kw.setdefault("allow_abbrev", False)  # `journal copy --to` is not `--token-env`: options are written out
        super().__init__(*args, **kw)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # argparse exits 2 itself; keep its message, drop the noise
        if message.startswith("unrecognized arguments: "):  # argparse echoes them: `--token SECRET` would show
            names = [a.split("=", 1)[0] for a in message.removeprefix("unrecognized arguments: ").split()
                     if a.startswith("-")]
            message = f"unrecognized option(s): {' '.join(names) or '(an argument)'} (values are not shown)"
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}", "see --help")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cockpit", description="Cutover Cockpit: watch and run a service migration across a fleet.")
    p.add_argument("-c", "--config", help="config file (default: $COCKPIT_CONFIG, then ./cockpit.toml)")
    p.add_argument("--version", action="version", version=f"cockpit {package_version()}",
                   help="print the installed version and exit")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)

    v = sub.add_parser("validate", help="check a config file and summarise it")
    v.add_argument("file", nargs="?", help="config file (default as -c)")
    v.add_argument("-c", "--config", dest="config_sub")
    v.add_argument("--json", action="store_true",
                   help="each host's resolved SSH connection (hostname, port, user, key, jump) with origins, as JSON")

    s = sub.add_parser("snapshot", help="one round, then print the fleet's state")
    s.add_argument("-c", "--config", dest="config_sub")
    s.add_argument("--format", choices=["json", "markdown"], default="json")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.add_argument("--on", help="only hosts matching this selector")

    k = sub.add_parser("check", help="one round; exit 0 when everything is up, 1 otherwise")
    k.add_argument("-c", "--config", dest="config_sub")
    k.add_argument("--on", help="only hosts matching this selector")
    k.add_argument("--format", choices=FORMATS, default="text",
                   help="text (default), json, junit (XML: a testcase per host x service and gate condition; "
                        "failures with the detail, what could not be judged as skipped with the reason) or tap")
    k.add_argument("--gates", action="store_true",
                   help="also judge the current phase's gate now, one case per condition (a failing one fails)")

    w = sub.add_parser("watch", help="one JSON line per round on stdout until interrupted")
    w.add_argument("-c", "--config", dest="config_sub")
    w.add_argument("--jsonl", action="store_true", help="JSON lines (the only format for now)")
    w.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: never)")
    w.add_argument("--on", help="only hosts matching this selector")

    u = sub.add_parser("run", help="open the cockpit (the default without a command)")
    _ui_args(u)
    _ui_args(p, top=True)

    m = sub.add_parser("serve-metrics", help="the cockpit's view as a Prometheus exposition on /metrics (headless, "
                                             "read-only) until interrupted")
    m.add_argument("-c", "--config", dest="config_sub")
    _listen_args(m, "--listen")

    cli_runbook.add_parsers(sub, lambda q: q.add_argument("-c", "--config", dest="config_sub"))
    k.add_argument("--against-baseline", action="store_true",
                   help="also fail (exit 1) on any regression against the journal's baseline")
    k.add_argument("--rounds", type=int, help="with --against-baseline: " + ROUNDS_HELP)

    _serve_parser(sub)

    d = sub.add_parser("demo", help="an embedded demo cutover on this machine (nothing to set up)")
    d.add_argument("--headless", action="store_true", help="play the scenario without a terminal and exit")
    d.add_argument("--duration", default="60s", help="headless: the longest the scenario may take")
    d.add_argument("--out", default="cockpit-demo-output", help="headless: where the snapshot and report go")
    d.add_argument("--no-ssh", action="store_true", help="do not start the throwaway sshd")
    d.add_argument("--snapshot", action="store_true", help="just a snapshot of this machine (the old demo)")
    d.add_argument("--format", choices=["json", "markdown"], default="markdown")
    return p


def package_version() -> str:
    """The version from the installed package's metadata: one number, kept in pyproject.toml only."""
    try:
        return importlib.metadata.version(DISTRIBUTION)
    except importlib.metadata.PackageNotFoundError:  # run from a source tree that was never installed
        return "(unknown: the cutover-cockpit package is not installed; pip install -e . gives it a version)"


def _ui_args(p: argparse.ArgumentParser, top: bool = False) -> None:
    # on the subcommand, SUPPRESS keeps `cockpit --read-only run` from being reset by the sub's default
    kw: dict[str, object] = {} if top else {"default": argparse.SUPPRESS}
    if not top:
        p.add_argument("-c", "--config", dest="config_sub")
    p.add_argument("--read-only", action="store_true", help="monitor only: every action key is disabled", **kw)
    p.add_argument("--quiet", action="store_true", help="no terminal bell (a host or service going down, a regression, a failed gate, a failed "
                   "or over-budget rollback, a lost lease)", **kw)
    p.add_argument("--no-mouse", action="store_true", help="leave the mouse to tmux (copy mode)", **kw)
    p.add_argument("--operator", help="who is at the keys (default: $COCKPIT_OPERATOR or the login name)", **kw)
    p.add_argument("--own-probes", action="store_true", help="as an observer, also probe the fleet from here (by "
                   "default an observer shows the driver's published view and opens no SSH connection)", **kw)
    p.add_argument("--ask-sudo", action="store_true", help="ask once for the sudo password (kept in memory only; "
                   "fed to sudo -S only when a host's sudo asks)", **kw)
    _listen_args(p, "--metrics-listen", **kw)


METRICS_PORT = 9477  # cockpit.cli.exposition.DEFAULT_PORT


def _listen_args(p: argparse.ArgumentParser, flag: str, **kw: object) -> None:
    """Where to listen, and the token beyond loopback: from the environment or an owner-only file, never argv."""
    p.add_argument(flag, metavar="HOST:PORT", help=f"serve /metrics on HOST:PORT (default 127.0.0.1:{METRICS_PORT}"
                   "); an address beyond loopback needs a bearer token from --token-env NAME or --token-file FILE "
                   "(mode 600), never on the command line", **kw)  # type: ignore[arg-type]
    p.add_argument("--token-env", metavar="NAME", help="the bearer token is in this environment variable",
                   **kw)  # type: ignore[arg-type]
    p.add_argument("--token-file", metavar="FILE", help="the bearer token is in this file (mode 600 or stricter)",
                   **kw)  # type: ignore[arg-type]


def cmd_serve_metrics(args: argparse.Namespace) -> int:
    """prometheus-client loads for this command only."""
    from cockpit.cli import exposition  # deferred on purpose: other commands start without prometheus-client

    return exposition.cmd_serve_metrics(args)


def _serve_parser(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    s = sub.add_parser("serve", help="the cockpit in a browser (read-only: no action keys, no take-over)")
    s.add_argument("-c", "--config", dest="config_sub")
    s.add_argument("--listen", default="127.0.0.1:8765",
                   help="HOST:PORT to listen on (default 127.0.0.1:8765); beyond loopback a token is required")
    s.add_argument("--token-env", metavar="NAME", help="read the token from this environment variable")
    s.add_argument("--token-file", metavar="FILE", help="read the token from this file (owner-only, mode 600)")
    s.add_argument("--operator", help="the name the browser view shows as its operator (default: browser)")


def cmd_serve(args: argparse.Namespace) -> int:
    """The browser view, imported only here: aiohttp and textual-serve load for ``serve`` only."""
    from cockpit.cli import browser  # deferred on purpose, like the TUI

    return browser.cmd_serve(args)


def cmd_run(args: argparse.Namespace) -> int:
    """The TUI, imported only here: headless commands never load Textual."""
    from cockpit.cli import tui  # deferred on purpose: Textual loads for the TUI only

    return tui.cmd_run(args)


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "run": cmd_run, "validate": fleet.cmd_validate, "snapshot": fleet.cmd_snapshot, "check": fleet.cmd_check,
    "watch": fleet.cmd_watch, "demo": demo.cmd_demo, "serve": cmd_serve, "serve-metrics": cmd_serve_metrics,
    **cli_runbook.COMMANDS,
}


def main(argv: list[str] | None = None) -> int:
    """The ``cockpit`` entry point: a :class:`CockpitError` becomes its message and an exit status, here only."""
    try:
        args = _parser().parse_args(argv)
        if args.cmd is None:
            return cmd_run(args)
        return COMMANDS[args.cmd](args)
    except ConfigError as exc:  # messages may quote what was typed or read: no escape reaches the terminal
        print(f"cockpit: config error\n{strip_control(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except CockpitError as exc:
        print(f"cockpit: {strip_control(str(exc))}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:  # `cockpit watch | head`
        return EXIT_OK
