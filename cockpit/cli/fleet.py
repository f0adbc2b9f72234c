"""Headless commands on the fleet's state: validate, snapshot, check, watch."""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import sys
import time
from pathlib import Path
from typing import Any

from cockpit.cli.common import EXIT_FAIL, EXIT_OK, config_path, write_atomic
from cockpit.cli.runbook import regressions_now, rounds_wanted
from cockpit.cli.verdicts import failed, gate_cases, render
from cockpit.config import describe, describe_json, load_config
from cockpit.engine import Engine
from cockpit.errors import UsageError
from cockpit.exports import Case, Exporter, service_cases
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
    """One round (or enough for the regression rule), judged into cases; every format from the same cases."""
    config = load_config(config_path(args))
    hosts = hosts_for(config, args.on)
    gates = getattr(args, "gates", False)
    if gates and not config.runbook.phases:
        raise UsageError(f"--gates: {config.path} has no runbook", "add [[phases]] with a gate, or drop --gates")
    keep = (lambda h: True) if hosts is None else (lambda h: h in hosts)

    async def judged() -> tuple[Engine, FleetSnapshot, list[Case]]:
        regs: list[Any] = []
        small: list[Any] = []
        unsure: list[str] = []
        if args.against_baseline:
            s, regs, _rows = await regressions_now(config, rounds_wanted(args, config))
            unsure, small = s.runbook.tracker.undecided(), s.runbook.tracker.non_critical
            snap = s.engine.snapshot()
        else:
            s = Session(config, "check", drive=False, read_only=True)
            snap = await s.engine.run_round(hosts)
        try:
            if hosts is not None:
                snap = dataclasses.replace(snap, hosts=tuple(h for h in snap.hosts if keep(h.name)))
            cases = service_cases(snap, [(r.host, r.service, r.line()) for r in regs if keep(r.host)],
                                  [(r.host, r.service, r.line()) for r in small if keep(r.host)],
                                  [u for u in unsure if keep(u.split(" ", 1)[0])])
            gate = await s.runbook.judge_gate_conditions() if gates else None
            if gate is not None:
                cases += gate_cases(*gate)
            return s.engine, snap, cases
        finally:
            await s.close()

    engine, snap, cases = asyncio.run(judged())
    n_hosts = len(snap.hosts if hosts is None else hosts)
    sys.stdout.write(render(args.format, cases, n_hosts, engine.redactor.redact))
    return EXIT_FAIL if failed(cases) else EXIT_OK


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
