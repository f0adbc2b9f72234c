"""``cockpit check`` as cases, and the cases as text, JSON, JUnit XML or TAP.

One list of cases decides the exit status and every format, so a CI reading JUnit or TAP sees
exactly what the text says: a failure fails the check (exit 1) in every format; what the check
could not judge (a latency series short of samples, an inconclusive gate condition, a non-critical
service whose state is unknown) is skipped with the reason and never fails it.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from cockpit.conditions import Verdict
from cockpit.exports import Case, CaseOutcome
from cockpit.sanitize import one_line, strip_control

FORMATS = ("text", "json", "junit", "tap")


def gate_cases(phase: str, judged: Iterable[tuple[str, Verdict]]) -> list[Case]:
    """One case per condition of the current phase's gate: holds, FAILS, or inconclusive (skipped)."""
    outcome: dict[bool | None, CaseOutcome] = {True: "pass", False: "fail", None: "skip"}
    return [Case(f"gate {phase}", cond, outcome[v.value], v.detail) for cond, v in judged]


def failed(cases: Sequence[Case]) -> bool:
    return any(c.outcome == "fail" for c in cases)


def render(fmt: str, cases: Sequence[Case], n_hosts: int, clean: Callable[[str], str]) -> str:
    """The cases in ``fmt``; ``clean`` redacts secrets (control characters are stripped here)."""
    s = lambda t: clean(strip_control(t))
    return {"text": _text, "json": _json, "junit": _junit, "tap": _tap}[fmt](cases, n_hosts, s)


def _text(cases: Sequence[Case], n_hosts: int, s: Callable[[str], str]) -> str:
    lines: list[str] = []
    for label in ("PLANNED", "WARN", "INCONCLUSIVE", "FAIL"):
        lines += [f"{label} {s(text)}" for c in cases for lab, text in c.lines if lab == label]
    word = {"pass": "holds", "fail": "FAILS", "skip": "inconclusive"}
    gates = [c for c in cases if c.suite.startswith("gate ")]
    lines += [f"GATE {c.suite.removeprefix('gate ')} {word[c.outcome]}: {s(c.name)}: {s(c.detail)}" for c in gates]
    bad = sum(1 for c in cases for lab, _ in c.lines if lab == "FAIL") + sum(c.outcome == "fail" for c in gates)
    if bad:
        lines.append(f"{bad} problem(s) on {n_hosts} host(s)")
    else:
        unsure = sum(1 for c in cases for lab, _ in c.lines if lab == "INCONCLUSIVE")
        more = f"; {unsure} latency series not judged (see INCONCLUSIVE)" if unsure else ""
        lines.append(f"OK: {n_hosts} host(s), every critical service as expected{more}")
    return "\n".join(lines) + "\n"


def _json(cases: Sequence[Case], n_hosts: int, s: Callable[[str], str]) -> str:
    doc: dict[str, Any] = {
        "schema": "cutover-cockpit/check", "schema_version": 1, "ok": not failed(cases), "hosts": n_hosts,
        "counts": {o: sum(1 for c in cases if c.outcome == o) for o in ("pass", "fail", "skip")},
        "cases": [{"suite": c.suite, "name": s(c.name), "outcome": c.outcome, "detail": s(c.detail)} for c in cases],
    }
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"


def _junit(cases: Sequence[Case], n_hosts: int, s: Callable[[str], str]) -> str:
    """JUnit XML as CI tools read it: testsuites > testsuite (counts) > testcase > failure | skipped."""
    root = ET.Element("testsuites", name="cockpit check", tests=str(len(cases)),
                      failures=str(sum(c.outcome == "fail" for c in cases)), errors="0",
                      skipped=str(sum(c.outcome == "skip" for c in cases)))
    suites: dict[str, list[Case]] = {}
    for c in cases:
        suites.setdefault(c.suite, []).append(c)
    for name, members in suites.items():
        suite = ET.SubElement(root, "testsuite", name=name, tests=str(len(members)),
                              failures=str(sum(c.outcome == "fail" for c in members)), errors="0",
                              skipped=str(sum(c.outcome == "skip" for c in members)))
        for c in members:
            case = ET.SubElement(suite, "testcase", classname=name, name=s(c.name))
            detail = s(c.detail)
            if c.outcome == "fail":
                ET.SubElement(case, "failure", message=one_line(detail, 200), type="cockpit").text = detail
            elif c.outcome == "skip":
                ET.SubElement(case, "skipped", message=one_line(detail, 200))
            elif detail:
                ET.SubElement(case, "system-out").text = detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _tap(cases: Sequence[Case], n_hosts: int, s: Callable[[str], str]) -> str:
    """TAP version 13: ``ok``/``not ok`` per case, ``# SKIP reason`` for what was not judged."""
    lines = ["TAP version 13", f"1..{len(cases)}"]
    for i, c in enumerate(cases, 1):
        # '#' starts a directive in TAP: a name holding one would read as SKIP/TODO
        name = one_line(f"{c.suite}: {s(c.name)}", 200).replace("#", "\\#")
        detail = one_line(s(c.detail), 500)
        if c.outcome == "skip":
            lines.append(f"ok {i} - {name} # SKIP {detail.replace('#', '') or 'not judged'}")
            continue
        lines.append(f"{'ok' if c.outcome == 'pass' else 'not ok'} {i} - {name}")
        if detail:
            lines.append(f"# {detail}")
    return "\n".join(lines) + "\n"
