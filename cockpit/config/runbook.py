"""``[runbook]``, ``[[phases]]`` with their ``[[phases.steps]]``, and ``[rollback]``.

Conditions (``gate``, ``verify``) are parsed here, so a typo in one is a config
error with its column, and an unknown service or selector in one is caught
before the cutover starts.
"""

from __future__ import annotations

import math
import re
from typing import Any

from cockpit.conditions import ConditionError, WindowStat, parse, references
from cockpit.config.metrics import check_metric, read_analysis
from cockpit.config.resource_refs import resource_issues, service_names
from cockpit.config.services import read_selectors
from cockpit.config.source import KeyPath, Reader, short_list, suggest
from cockpit.inventory import is_valid_selector, select
from cockpit.spec import (
    LATENCY_KINDS,
    HostSpec,
    MetricsSourceSpec,
    PhaseSpec,
    RollbackSpec,
    RunbookSpec,
    ServiceSpec,
    StepSpec,
)

__all__ = ["read_runbook"]

RUNBOOK_KEYS = ("rollback_budget", "window", "min_samples", "regression_rounds", "latency_factor")
PHASE_KEYS = ("id", "title", "gate", "hold", "steps", "rollback_requires", "analysis")
STEP_KEYS = ("id", "title", "on", "run", "verify", "within", "rollback", "confirm", "timeout", "sudo", "detach",
             "expect_disconnect", "wait_for", "batch", "order", "max_failures", "pause", "irreversible",
             "rollback_requires", "env")
ROLLBACK_KEYS = ("title", "on", "run", "verify", "within", "timeout", "rollback_requires", "sudo", "env", "budget",
                 "undoes")
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]*$")


def _line_of(text: str, needle: str) -> int | None:
    for i, line in enumerate(text.splitlines(), 1):
        if needle in line:
            return i
    return None


class _Ctx:
    def __init__(self, r: Reader, text: str, hosts: list[HostSpec], services: list[ServiceSpec],
                 metrics: tuple[MetricsSourceSpec, ...] = ()) -> None:
        self.r, self.text, self.hosts = r, text, hosts
        self.services = {s.name: s for s in services}
        self.metrics = metrics

    def issue(self, p: KeyPath, message: str, fix: str, anchor: str | None) -> None:
        self.r.issue(p, message, fix, line=_line_of(self.text, anchor) if anchor else None)

    def latency_kind(self, p: KeyPath, text: str, stat: WindowStat, line: int | None) -> None:
        """p95()/error_rate() judge the cockpit's probes of a service: only http and tcp checks have a latency."""
        s = self.services.get(stat.target.service)
        if s is None:
            return
        kinds = ("http",) if stat.phase == "tls" else LATENCY_KINDS
        if s.check.kind in kinds:
            return
        what = f"{stat.func}(S, {stat.phase})" if stat.phase else f"{stat.func}()"
        have = " and ".join(kinds)
        self.r.issue(p, f"condition {text!r}: {what} needs a service with a latency ({have} checks); "
                        f"{stat.target.service!r} is a {s.check.kind} check, which has none",
                     f"judge {stat.target.service!r} with up()/down(), or point {stat.func}() at a {have} service",
                     line=line)

    def conditions(self, p: KeyPath, raw: Any, anchor: str | None,
                   placeholders: tuple[str, ...] = ("host", "address")) -> tuple[str, ...]:
        """``placeholders``: what a metric() query may name here (a phase gate knows {phase}, a verify {step})."""
        if raw is None:
            return ()
        texts = self.r.strings(p, raw, bare_ok=True, example='["up(fleet-web)", "p95(api) < 200ms"]')
        for text in texts:
            line = _line_of(self.text, text) or (_line_of(self.text, anchor) if anchor else None)
            try:
                node = parse(text)
            except ConditionError as exc:
                self.r.issue(p, f"condition {text!r}: {exc.reason}",
                             "see docs/conditions.md for the forms", line=line)
                continue
            refs = references(node)
            for svc in sorted(refs.services):
                parent = self.services.get(svc.partition("/")[0])
                if "/" in svc and parent is not None and parent.check.kind != "compose":
                    self.r.issue(p, f"condition {text!r} names {svc!r}, but {parent.name!r} is a {parent.check.kind} "
                                    "check: only a compose service has parts (SERVICE/CONTAINER)",
                                 f"write {parent.name!r} alone, or make it a compose service", line=line)
                elif "/" in svc and parent is not None:
                    continue  # a container of a compose project: which ones exist is known on the host
                elif svc not in self.services:
                    guess = suggest(svc, self.services)
                    self.r.issue(p, f"condition {text!r} names no service {svc!r}; known: {short_list(self.services)}",
                                 f"did you mean {guess!r}?" if guess else "use a name from [services]", line=line)
            for svc in sorted(refs.process_services):
                s = self.services.get(svc)
                if s is not None and s.check.kind != "process":
                    self.r.issue(p, f"condition {text!r}: rss() needs a process service, {svc!r} is {s.check.kind}",
                                 "point rss() at a service with process = \"...\"", line=line)
            for svc in sorted(refs.log_services):
                s = self.services.get(svc)
                if s is not None and s.check.kind != "log":
                    self.r.issue(p, f"condition {text!r}: matches() needs a log service, {svc!r} is {s.check.kind}",
                                 "point matches() at a service with log = '...'", line=line)
            for stat in sorted(refs.windowed, key=lambda w: (w.target.service, w.func, w.phase or "")):
                self.latency_kind(p, text, stat, line)
            for metric in sorted(refs.metrics, key=lambda m: (m.query, m.source or "")):
                check_metric(self.r, p, text, metric, self.metrics, placeholders, line)
            for message, fix in resource_issues(text, refs, self.services, self.hosts):
                self.r.issue(p, message, fix, line=line)
            named = service_names(refs, self.services)  # cpu(S)/mem(S): a service, not a selector
            for sel in sorted(refs.selectors - named):
                if not is_valid_selector(sel) or not select(self.hosts, sel):
                    self.r.issue(p, f"condition {text!r}: selector {sel!r} matches no host",
                                 "use a host name, a glob, tag:NAME or all", line=line)
        return tuple(texts)


def _step(c: _Ctx, base: KeyPath, index: int, raw: Any, phase_id: str, seen: set[str]) -> StepSpec | None:
    r = c.r
    t = r.table((*base, str(index + 1)), raw)
    sid = t.get("id")
    anchor = f'"{sid}"' if isinstance(sid, str) else None
    p: KeyPath = (*base, sid if isinstance(sid, str) else str(index + 1))
    r.known(p, t, STEP_KEYS)
    if not isinstance(sid, str) or not _ID.match(sid):
        c.issue((*p, "id"), "a step needs an id of letters, digits, '-' or '_'", 'e.g. id = "stop-agents"', anchor)
        return None
    if sid in seen:
        c.issue((*p, "id"), f"step id {sid!r} appears twice in phase {phase_id!r}", "give each step its own id", anchor)
    seen.add(sid)
    on = read_selectors(r, (*p, "on"), t["on"], c.hosts) if "on" in t else ()
    run = r.string((*p, "run"), t["run"]) if "run" in t else None
    if run is not None and not on:
        c.issue((*p, "on"), f"step {phase_id}.{sid} runs a command but names no hosts", 'add on = ["tag:web"]', anchor)
    within = r.duration((*p, "within"), t["within"]) if "within" in t else 60.0
    timeout = r.duration((*p, "timeout"), t["timeout"], zero_ok=True) if "timeout" in t else 1800.0
    flag = lambda k: r.boolean((*p, k), t.get(k, False))  # noqa: E731
    if run is None:
        for k in ("sudo", "detach", "expect_disconnect", "batch", "order", "max_failures", "pause"):
            if k in t:
                c.issue((*p, k), f"{k} needs a command: step {phase_id}.{sid} is manual (no run)",
                        "remove it, or give the step a run command", anchor)
    if flag("detach") and flag("expect_disconnect"):
        c.issue((*p, "detach"), "a step cannot be both detach and expect_disconnect",
                "detach survives a dropped connection; expect_disconnect waits for a reboot: pick one", anchor)
    return StepSpec(
        id=sid, title=r.title((*p, "title"), t["title"], sid) if "title" in t else sid, on=on, run=run or None,
        verify=c.conditions((*p, "verify"), t.get("verify"), anchor, ("phase", "step", "host", "address")),
        within=within,
        rollback=r.string((*p, "rollback"), t["rollback"]) if "rollback" in t else None,
        confirm=r.boolean((*p, "confirm"), t.get("confirm", False)), timeout=None if timeout == 0 else timeout,
        sudo=flag("sudo"), detach=flag("detach"), expect_disconnect=flag("expect_disconnect"),
        wait_for=r.duration((*p, "wait_for"), t["wait_for"]) if "wait_for" in t else 300.0,
        batch=_batch(c, (*p, "batch"), t["batch"], anchor) if "batch" in t else None,
        order=read_selectors(r, (*p, "order"), t["order"], c.hosts) if "order" in t else (),
        max_failures=r.integer((*p, "max_failures"), t["max_failures"], 1, 100000, 1) if "max_failures" in t else None,
        pause=_pause(c, (*p, "pause"), t["pause"], anchor) if "pause" in t else None,
        irreversible=flag("irreversible"),
        rollback_requires=c.conditions((*p, "rollback_requires"), t.get("rollback_requires"), anchor),
        env=r.env_table((*p, "env"), t["env"]) if "env" in t else (),
    )


def _batch(c: _Ctx, p: KeyPath, raw: Any, anchor: str | None) -> int | float | None:
    if isinstance(raw, int) and not isinstance(raw, bool) and raw >= 1:
        return raw
    if isinstance(raw, str) and (m := re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*%\s*", raw)) and 0 < float(m.group(1)) <= 100:
        return float(m.group(1)) / 100.0
    c.issue(p, f"batch must be a host count (1, 2, …) or a percentage like \"25%\", got {raw!r}",
            'e.g. batch = 1 (one host at a time) or batch = "25%"', anchor)
    return None


def _pause(c: _Ctx, p: KeyPath, raw: Any, anchor: str | None) -> float | str | None:
    if raw == "manual":
        return "manual"
    try:
        from cockpit.durations import parse_duration

        return parse_duration(raw)
    except ValueError:
        c.issue(p, f"pause must be a duration or \"manual\", got {raw!r}",
                'e.g. pause = "30s", or pause = "manual" (continue with a key)', anchor)
        return None


def read_runbook(r: Reader, text: str, data: dict[str, Any], hosts: list[HostSpec],
                 services: list[ServiceSpec], metrics: tuple[MetricsSourceSpec, ...] = ()) -> RunbookSpec:
    c = _Ctx(r, text, hosts, services, metrics)
    rb = r.table(("runbook",), data.get("runbook", {}))
    r.known(("runbook",), rb, RUNBOOK_KEYS)
    phases_raw = data.get("phases", [])
    if not isinstance(phases_raw, list):
        r.issue(("phases",), "phases must be an array of tables", "write each phase as [[phases]]")
        phases_raw = []
    phases: list[PhaseSpec] = []
    seen_phases: set[str] = set()
    for i, raw in enumerate(phases_raw):
        t = r.table(("phases", str(i + 1)), raw)
        pid = t.get("id")
        anchor = f'"{pid}"' if isinstance(pid, str) else None
        p: KeyPath = ("phases", pid if isinstance(pid, str) else str(i + 1))
        r.known(p, t, PHASE_KEYS)
        if not isinstance(pid, str) or not _ID.match(pid):
            c.issue((*p, "id"), "a phase needs an id of letters, digits, '-' or '_'", 'e.g. id = "canary"', anchor)
            continue
        if pid in seen_phases:
            c.issue((*p, "id"), f"phase id {pid!r} appears twice", "give each phase its own id", anchor)
        seen_phases.add(pid)
        steps_raw = t.get("steps", [])
        steps: list[StepSpec] = []
        seen_steps: set[str] = set()
        for j, sraw in enumerate(steps_raw if isinstance(steps_raw, list) else []):
            st = _step(c, (*p, "steps"), j, sraw, pid, seen_steps)
            if st is not None:
                steps.append(st)
        gate = c.conditions((*p, "gate"), t.get("gate"), anchor, ("phase", "host", "address"))
        analysis = read_analysis(r, (*p, "analysis"), t["analysis"]) if "analysis" in t else None
        if analysis is not None and not gate:
            c.issue((*p, "analysis"), f"phase {pid!r} has an analysis but no gate to measure",
                    'add gate = [\'metric("...") < 0.1%\'], or remove [phases.analysis]', anchor)
        if analysis is not None and "hold" in t:
            r.warn((*p, "hold"), f"phase {pid!r} is judged by its analysis run: hold is not used",
                   "remove hold (the analysis's count × interval is how long the gate is watched)")
        phases.append(PhaseSpec(
            id=pid, title=r.title((*p, "title"), t["title"], pid) if "title" in t else pid, steps=tuple(steps),
            gate=gate, analysis=analysis,
            hold=r.duration((*p, "hold"), t["hold"], zero_ok=True) if "hold" in t else 0.0,
            rollback_requires=c.conditions((*p, "rollback_requires"), t.get("rollback_requires"), anchor),
        ))
    budget = r.duration(("runbook", "rollback_budget"), rb["rollback_budget"]) if "rollback_budget" in rb else 60.0
    rollbacks = _rollbacks(c, data["rollback"], budget, seen_phases) if "rollback" in data else ()
    return RunbookSpec(
        phases=tuple(phases), rollbacks=rollbacks, rollback_budget=budget,
        window=r.duration(("runbook", "window"), rb["window"]) if "window" in rb else 300.0,
        min_samples=r.integer(("runbook", "min_samples"), rb["min_samples"], 1, 100000, 20) if "min_samples" in rb else 20,
        regression_rounds=r.integer(("runbook", "regression_rounds"), rb["regression_rounds"], 1, 1000, 2)
        if "regression_rounds" in rb else 2,
        latency_factor=_factor(r, rb.get("latency_factor", 1.5)),
    )


def _rollbacks(c: _Ctx, raw: Any, budget: float, phases: set[str]) -> tuple[RollbackSpec, ...]:
    """``[rollback]`` (one rollback, named "quick") or ``[rollback.NAME]`` tables, each with its own budget."""
    r = c.r
    t = r.table(("rollback",), raw)
    tables = {k: v for k, v in t.items() if isinstance(v, dict) and k != "env"}
    if not tables:
        return (_rollback(c, ("rollback",), t, "quick", budget, phases),)
    if flat := [k for k in t if k not in tables]:
        r.issue(("rollback", flat[0]), "[rollback] holds either one rollback's keys or [rollback.NAME] tables, not both",
                "move the keys into a named table, e.g. [rollback.quick] and [rollback.full]")
    out = []
    for name, sub in tables.items():
        if not _ID.match(name):
            r.issue(("rollback", name), f"rollback name {name!r} must be letters, digits, '-' or '_'",
                    "e.g. [rollback.quick]")
            continue
        out.append(_rollback(c, ("rollback", name), sub, name, budget, phases))
    return tuple(out)


def _rollback(c: _Ctx, p: KeyPath, t: dict[str, Any], name: str, budget: float, phases: set[str]) -> RollbackSpec:
    r = c.r
    where = "[" + ".".join(p) + "]"
    r.known(p, t, ROLLBACK_KEYS)
    on = read_selectors(r, (*p, "on"), t.get("on", []), c.hosts)
    run = r.string((*p, "run"), t.get("run"), example='"./scripts/quick-rollback.sh"') if "run" in t else ""
    if not run:
        r.issue((*p, "run"), f"the rollback {name!r} needs a command", 'e.g. run = "./scripts/quick-rollback.sh"')
    undoes = tuple(r.strings((*p, "undoes"), t["undoes"], example='["canary", "ramp"]')) if "undoes" in t else ()
    for pid in undoes:
        if pid not in phases:
            r.issue((*p, "undoes"), f"undoes names phase {pid!r}, which is not in the runbook",
                    f"one of: {', '.join(sorted(phases)) or '(no phases)'}")
    default_title = "Quick rollback" if name == "quick" else f"{name.capitalize()} rollback"
    return RollbackSpec(
        title=r.title((*p, "title"), t["title"], default_title) if "title" in t else default_title, on=on, run=run,
        verify=c.conditions((*p, "verify"), t.get("verify"), where),
        within=r.duration((*p, "within"), t["within"]) if "within" in t else 60.0,
        timeout=r.duration((*p, "timeout"), t["timeout"]) if "timeout" in t else 600.0,
        rollback_requires=c.conditions((*p, "rollback_requires"), t.get("rollback_requires"), where),
        sudo=r.boolean((*p, "sudo"), t.get("sudo", False)),
        env=r.env_table((*p, "env"), t["env"]) if "env" in t else (),
        name=name, budget=r.duration((*p, "budget"), t["budget"]) if "budget" in t else budget, undoes=undoes,
    )


def _factor(r: Reader, raw: Any) -> float:
    if isinstance(raw, (int, float)) and not isinstance(raw, bool) and raw > 1:
        return float(raw)
    r.issue(("runbook", "latency_factor"), f"latency_factor must be a number above 1, got {raw!r}",
            "e.g. latency_factor = 1.5 (p95 50% slower than the baseline is a regression)")
    return 1.5


def thin_thresholds(r: Reader, text: str, interval: float, rb: RunbookSpec, hosts: list[HostSpec],
                    services: list[ServiceSpec]) -> None:
    """Warn where a rate threshold is finer than the window's probes can tell.

    ``error_rate`` is over the cockpit's own probes: one per host per interval. With 60 of them in the
    window one failed probe is 1.7 %, so ``error_rate(api) < 0.1%`` can only mean "no failed probe".
    """
    by_name = {s.name: s for s in services}
    places: list[tuple[KeyPath, str]] = []
    for ph in rb.phases:
        places += [(("phases", ph.id, "gate"), c) for c in ph.gate]
        for st in ph.steps:
            places += [(("phases", ph.id, st.id, "verify"), c) for c in st.verify]
    rounds = max(1, int(rb.window // interval))
    for path, cond in places:
        for stat in references(parse(cond)).windowed:
            svc = by_name.get(stat.target.service)
            if stat.func != "error_rate" or svc is None or stat.limit.value <= 0:
                continue
            on = [h for h in hosts if any(h in select([h], sel) for sel in svc.on)]
            if stat.target.selector:
                on = [h for h in on if h in select(on, stat.target.selector)]
            n = rounds * max(1, len(on))
            if 100.0 / n <= stat.limit.value:
                continue
            need = math.ceil(100.0 / stat.limit.value)
            longer = math.ceil(need / max(1, len(on)) * interval)
            r.warn(path, f"condition {cond!r} needs {need} probes to tell {stat.limit.value:g}% apart, but the "
                         f"{rb.window:g}s window holds about {n} (one failed probe is {100.0 / n:.2g}%): "
                         "it holds only while no probe fails",
                   f"a [runbook] window of at least {longer}s, or a real traffic metric for this rate",
                   line=_line_of(text, cond))
