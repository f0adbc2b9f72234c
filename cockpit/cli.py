"""Command line: the TUI, and the same config headless (validate, snapshot, check, watch).

Exit status: 0 fine, 1 something is down or unreachable (``check``), 2 a config or
usage error (a clear message, never a traceback), 130 interrupted.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import signal
import sys
import tempfile
from pathlib import Path

from cockpit.errors import CockpitError, ConfigError, UsageError

EXIT_OK, EXIT_FAIL, EXIT_USAGE = 0, 1, 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 itself; keep its message, drop the noise
        self.print_usage(sys.stderr)
        raise UsageError(f"{self.prog}: {message}", "see --help")


def _parser() -> argparse.ArgumentParser:
    p = _Parser(prog="cockpit", description="Cutover Cockpit: watch and run a service migration across a fleet.")
    p.add_argument("-c", "--config", help="config file (default: $COCKPIT_CONFIG, then ./cockpit.toml)")
    sub = p.add_subparsers(dest="cmd", parser_class=_Parser)

    v = sub.add_parser("validate", help="check a config file and summarise it")
    v.add_argument("file", nargs="?", help="config file (default as -c)")
    v.add_argument("-c", "--config", dest="config_sub")

    s = sub.add_parser("snapshot", help="one round, then print the fleet's state")
    s.add_argument("-c", "--config", dest="config_sub")
    s.add_argument("--format", choices=["json", "markdown"], default="json")
    s.add_argument("-o", "--output", help="write to this file instead of stdout")
    s.add_argument("--on", help="only hosts matching this selector")

    k = sub.add_parser("check", help="one round; exit 0 when everything is up, 1 otherwise")
    k.add_argument("-c", "--config", dest="config_sub")
    k.add_argument("--on", help="only hosts matching this selector")

    w = sub.add_parser("watch", help="one JSON line per round on stdout until interrupted")
    w.add_argument("-c", "--config", dest="config_sub")
    w.add_argument("--jsonl", action="store_true", help="JSON lines (the only format for now)")
    w.add_argument("--rounds", type=int, default=0, help="stop after this many rounds (0: never)")
    w.add_argument("--on", help="only hosts matching this selector")

    u = sub.add_parser("run", help="open the cockpit (the default without a command)")
    _ui_args(u)
    _ui_args(p, top=True)

    from cockpit import cli_runbook

    cli_runbook.add_parsers(sub, lambda q: q.add_argument("-c", "--config", dest="config_sub"))
    k.add_argument("--against-baseline", action="store_true",
                   help="also fail (exit 1) on any regression against the journal's baseline")

    d = sub.add_parser("demo", help="an embedded demo cutover on this machine (nothing to set up)")
    d.add_argument("--headless", action="store_true", help="play the scenario without a terminal and exit")
    d.add_argument("--duration", default="60s", help="headless: the longest the scenario may take")
    d.add_argument("--out", default="cockpit-demo-output", help="headless: where the snapshot and report go")
    d.add_argument("--no-ssh", action="store_true", help="do not start the throwaway sshd")
    d.add_argument("--snapshot", action="store_true", help="just a snapshot of this machine (the old demo)")
    d.add_argument("--format", choices=["json", "markdown"], default="markdown")
    return p


def _ui_args(p: argparse.ArgumentParser, top: bool = False) -> None:
    # on the subcommand, SUPPRESS keeps `cockpit --read-only run` from being reset by the sub's default
    kw: dict[str, object] = {} if top else {"default": argparse.SUPPRESS}
    if not top:
        p.add_argument("-c", "--config", dest="config_sub")
    p.add_argument("--read-only", action="store_true", help="monitor only: every action key is disabled", **kw)
    p.add_argument("--quiet", action="store_true", help="no terminal bell on a host or service going down", **kw)
    p.add_argument("--no-mouse", action="store_true", help="leave the mouse to tmux (copy mode)", **kw)
    p.add_argument("--operator", help="who is at the keys (default: $COCKPIT_OPERATOR or the login name)", **kw)
    p.add_argument("--ask-sudo", action="store_true", help="ask once for the sudo password (kept in memory only; "
                   "fed to sudo -S only when a host's sudo asks)", **kw)


def ask_sudo_password():  # type: ignore[no-untyped-def]
    from cockpit.sudo import SudoPassword

    if not sys.stdin.isatty():
        raise UsageError("--ask-sudo needs a terminal to read the password from", "run it in a terminal")
    return SudoPassword.ask_terminal("sudo password (kept in memory only): ")


def operator_name(value: str | None) -> str:
    import getpass

    return value or os.environ.get("COCKPIT_OPERATOR") or getpass.getuser()


def cmd_run(args: argparse.Namespace) -> int:
    """The TUI. Imported lazily: the engine and headless commands never load Textual."""
    from cockpit.config import load_config
    from cockpit.session import Session

    config = load_config(_config_path(args))
    from screens.app import CockpitApp

    operator = operator_name(args.operator)
    session = Session(config, operator, read_only=args.read_only)
    app = CockpitApp(session.engine, read_only=args.read_only, quiet=args.quiet, operator=operator,
                     session=session, ask_sudo=getattr(args, "ask_sudo", False) and not args.read_only)
    result = app.run(mouse=not args.no_mouse)
    return int(result or 0)


def _config_path(args: argparse.Namespace) -> Path:
    from cockpit.config import find_config

    value = getattr(args, "file", None) or getattr(args, "config_sub", None) or args.config
    return find_config(value)


def _hosts_for(config: object, selector: str | None) -> list[str] | None:
    if not selector:
        return None
    from cockpit.inventory import select

    matched = select(config.hosts, selector)  # type: ignore[attr-defined]
    if not matched:
        raise UsageError(f"--on {selector!r} matches no host", "use a host name, a glob, tag:NAME or all")
    return [h.name for h in matched]


async def _one_round(config: object, hosts: list[str] | None):  # type: ignore[no-untyped-def]
    from cockpit.scheduler import Engine

    async with Engine(config) as engine:  # type: ignore[arg-type]
        return engine, await engine.run_round(hosts)


def cmd_validate(args: argparse.Namespace) -> int:
    from cockpit.config import describe, load_config

    config = load_config(_config_path(args))
    print(describe(config))
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace) -> int:
    from cockpit.config import load_config
    from cockpit.exports import Exporter

    config = load_config(_config_path(args))
    hosts = _hosts_for(config, args.on)
    engine, snap = asyncio.run(_one_round(config, hosts))
    ex = Exporter(engine.redactor)
    text = ex.json(snap) if args.format == "json" else ex.markdown(snap)
    if args.output:
        _write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    from cockpit.config import load_config
    from cockpit.exports import failures, warnings

    config = load_config(_config_path(args))
    hosts = _hosts_for(config, args.on)
    regressions: list[str] = []
    if args.against_baseline:
        from cockpit.cli_runbook import regressions_now

        async def judged():  # type: ignore[no-untyped-def]
            s, regs, _rows = await regressions_now(config)
            snap = s.engine.snapshot()
            await s.close()
            return s.engine, snap, regs

        engine, snap, regs = asyncio.run(judged())
        if hosts is not None:
            snap = dataclasses.replace(snap, hosts=tuple(h for h in snap.hosts if h.name in hosts))
        regressions = [r.line() for r in regs if hosts is None or r.host in hosts]
    else:
        engine, snap = asyncio.run(_one_round(config, hosts))
    red = engine.redactor.redact
    bad, warn = failures(snap), warnings(snap)
    bad += [f"REGRESSION {r}" for r in regressions]
    for line in warn:
        print(f"WARN {red(line)}")
    for line in bad:
        print(f"FAIL {red(line)}")
    n_hosts = len(snap.hosts if hosts is None else hosts)
    if bad:
        print(f"{len(bad)} problem(s) on {n_hosts} host(s)")
        return EXIT_FAIL
    print(f"OK: {n_hosts} host(s), every critical service up")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    from cockpit.config import load_config
    from cockpit.exports import Exporter
    from cockpit.scheduler import Engine

    config = load_config(_config_path(args))
    hosts = _hosts_for(config, args.on)

    async def run() -> None:
        async with Engine(config) as engine:
            ex = Exporter(engine.redactor)
            n = 0
            while not args.rounds or n < args.rounds:
                began = asyncio.get_running_loop().time()
                snap = await engine.run_round(hosts)
                sys.stdout.write(ex.jsonl(snap))
                sys.stdout.flush()
                n += 1
                if args.rounds and n >= args.rounds:
                    break
                await asyncio.sleep(max(0.0, config.cockpit.interval - (asyncio.get_running_loop().time() - began)))

    asyncio.run(run())
    return EXIT_OK


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
    from cockpit.config import load_config
    from cockpit.durations import parse_duration
    from cockpit.exports import Exporter

    if not args.snapshot:
        from cockpit.demo import run_demo

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
        engine, snap = asyncio.run(_one_round(config, None))
        ex = Exporter(engine.redactor)
        sys.stdout.write(ex.json(snap) if args.format == "json" else ex.markdown(snap))
    return EXIT_OK


def _write_atomic(path: Path, text: str) -> None:
    """Write beside the target then rename, so a reader never sees half a file."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(path)
    except OSError as exc:
        raise UsageError(f"cannot write {path}: {exc.strerror}", "choose a writable path for -o") from None


COMMANDS = {"run": cmd_run, "validate": cmd_validate, "snapshot": cmd_snapshot, "check": cmd_check, "watch": cmd_watch,
            "demo": cmd_demo}


def main(argv: list[str] | None = None) -> int:
    from cockpit.cli_runbook import COMMANDS as RUNBOOK_COMMANDS

    try:
        args = _parser().parse_args(argv)
        if args.cmd is None:
            return cmd_run(args)
        if args.cmd in RUNBOOK_COMMANDS:
            return RUNBOOK_COMMANDS[args.cmd](args)
        return COMMANDS[args.cmd](args)
    except ConfigError as exc:
        print(f"cockpit: config error\n{exc}", file=sys.stderr)
        return EXIT_USAGE
    except CockpitError as exc:
        print(f"cockpit: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        return 128 + signal.SIGINT
    except BrokenPipeError:  # `cockpit watch | head`
        return EXIT_OK
