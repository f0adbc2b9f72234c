"""Headless commands on the fleet's state: validate, snapshot, check, watch."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path

from cockpit.cli.common import EXIT_FAIL, EXIT_OK, config_path, write_atomic
from cockpit.cli.runbook import regressions_now, rounds_wanted
from cockpit.config import describe, describe_json, load_config
from cockpit.engine import Engine
from cockpit.errors import UsageError
from cockpit.exports import Exporter, failures, notes, warnings
from cockpit.inventory import select
from cockpit.model import FleetSnapshot, HostState, StatusChange
from cockpit.secrets import Redactor
from cockpit.session import Session
from cockpit.spec import Config


def hosts_for(config: object, selector: str | None) -> list[str] | None:
    if not selector:
        return None
    matched = select(config.hosts, selector)  # type: ignore[attr-defined]
    if not matched:
        raise UsageError(f"--on {selector!r} matches no host", "use a host name, a glob, tag:NAME or all")
    return [h.name for h in matched]


async def one_round(config: Config, hosts: list[str] | None) -> tuple[Engine, FleetSnapshot]:
    """One round, judged like the cockpit judges it: lifecycle services follow the journal (read-only)."""
    s = Session(config, "check", drive=False, read_only=True)
    try:
        return s.engine, await s.engine.run_round(hosts)
    finally:
        await s.close()


def cmd_validate(args: argparse.Namespace) -> int:
    config = load_config(config_path(args))
    if getattr(args, "json", False):
        print(Redactor(config.secrets).redact(json.dumps(describe_json(config), indent=2)))
    else:
        print(describe(config))
    return EXIT_OK


def cmd_snapshot(args: argparse.Namespace) -> int:
    config = load_config(config_path(args))
    hosts = hosts_for(config, args.on)
    engine, snap = asyncio.run(one_round(config, hosts))
    ex = Exporter(engine.redactor)
    text = ex.json(snap) if args.format == "json" else ex.markdown(snap)
    if args.output:
        write_atomic(Path(args.output), text)
    else:
        sys.stdout.write(text)
    return EXIT_OK


def cmd_check(args: argparse.Namespace) -> int:
    config = load_config(config_path(args))
    hosts = hosts_for(config, args.on)
    regressions: list[str] = []
    unjudged: list[str] = []
    minor: list[str] = []
    if args.against_baseline:
        async def judged():  # type: ignore[no-untyped-def]
            s, regs, _rows = await regressions_now(config, rounds_wanted(args, config))
            snap = s.engine.snapshot()
            unsure = s.runbook.tracker.undecided()
            await s.close()
            return s.engine, snap, regs, unsure, s.runbook.tracker.non_critical

        engine, snap, regs, unsure, small = asyncio.run(judged())
        if hosts is not None:
            snap = dataclasses.replace(snap, hosts=tuple(h for h in snap.hosts if h.name in hosts))
        regressions = [r.line() for r in regs if hosts is None or r.host in hosts]
        unjudged = [u for u in unsure if hosts is None or u.split(" ", 1)[0] in hosts]
        minor = [f"REGRESSION {r.line()} (non-critical)" for r in small if hosts is None or r.host in hosts]
    else:
        engine, snap = asyncio.run(one_round(config, hosts))
    red = engine.redactor.redact
    bad, warn = failures(snap), warnings(snap) + minor
    bad += [f"REGRESSION {r}" for r in regressions]
    for line in notes(snap):
        print(f"PLANNED {red(line)}")
    for line in warn:
        print(f"WARN {red(line)}")
    for line in unjudged:
        print(f"INCONCLUSIVE {red(line)}")
    for line in bad:
        print(f"FAIL {red(line)}")
    n_hosts = len(snap.hosts if hosts is None else hosts)
    if bad:
        print(f"{len(bad)} problem(s) on {n_hosts} host(s)")
        return EXIT_FAIL
    unsure = f"; {len(unjudged)} latency series not judged (see INCONCLUSIVE)" if unjudged else ""
    print(f"OK: {n_hosts} host(s), every critical service as expected{unsure}")
    return EXIT_OK


def cmd_watch(args: argparse.Namespace) -> int:
    config = load_config(config_path(args))
    hosts = hosts_for(config, args.on)
    asyncio.run(_watch(config, hosts, args.rounds))
    return EXIT_OK


async def _watch(config: Config, hosts: list[str] | None, rounds: int) -> None:
    """One line per round; a hung host never holds the healthy hosts' lines.

    Each host polls on its own (the next round after the last ended). A line is written when every
    host finished a round since the last line, or at the latest ``interval`` + 1 s after it (the
    first: ``connect_timeout`` + ``interval`` + 1 s): a host still in its round is then listed under
    ``waiting`` with its last known state in ``hosts``.
    """
    interval = config.cockpit.interval
    s = Session(config, "watch", drive=False, read_only=True)  # lifecycle services follow the journal
    engine = s.engine
    try:
        names = hosts or list(engine.pollers)
        ex = Exporter(engine.redactor)
        fresh: set[str] = set()
        started: dict[str, float] = {}
        events: list[StatusChange] = []
        news = asyncio.Event()

        def heard(state: HostState, changes: list[StatusChange]) -> None:
            fresh.add(state.name)
            events.extend(changes)
            news.set()

        async def poll(name: str) -> None:
            while True:
                began = started[name] = time.monotonic()
                await engine.round_host(name)
                await asyncio.sleep(max(0.0, interval - (time.monotonic() - began)))

        engine.round_hooks.append(heard)
        pollers = [asyncio.create_task(poll(n), name=f"watch:{n}") for n in names]
        try:
            n = 0
            due = time.monotonic() + max(interval, config.ssh.connect_timeout) + 1.0
            while not rounds or n < rounds:
                s.runbook.reload_states()  # what the driver did since the previous line
                while not set(names) <= fresh and time.monotonic() < due:
                    news.clear()
                    try:
                        async with asyncio.timeout(max(0.0, due - time.monotonic())):
                            await news.wait()
                    except TimeoutError:
                        pass
                now = time.monotonic()
                snap = engine.snapshot(names, events)
                snap = dataclasses.replace(snap, round=n + 1, hosts=tuple(h for h in snap.hosts if h.name in names))
                line = json.loads(ex.jsonl(snap))
                line["waiting"] = [{"host": h, "seconds": round(now - started.get(h, now), 1)}
                                   for h in names if h not in fresh]
                sys.stdout.write(json.dumps(line, separators=(",", ":"), ensure_ascii=False) + "\n")
                sys.stdout.flush()
                fresh.clear()
                events.clear()
                n += 1
                due = now + interval + 1.0
        finally:
            for task in pollers:
                task.cancel()
            await asyncio.gather(*pollers, return_exceptions=True)
    finally:
        await s.close()
