"""The banner budget: what needs the operator, ranked, in at most two rows. Pure functions of data.

Banners fought for rows (an observer with an unwritable journal lost 5 of 24 rows, and the journal line
said its advice twice). Every source of a banner becomes a :class:`Banner` with a :class:`Rank`;
:func:`rank_banners` keeps the most urgent in full on the first row and folds the others into one line,
so the fleet keeps the screen. The rollback state (``PlanView.rollback``) leads when there is one.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterable
from dataclasses import dataclass

from cockpit.runbook import PlanView

#: rows the banner may take, whatever happens
BUDGET = 2


class Rank(enum.IntEnum):
    """Most urgent first: a failed rollback outranks everything, an observer's notice nothing."""

    ROLLBACK_FAILED = 0
    ROLLING_BACK = 1  # and ROLLED BACK: the same rank
    REGRESSION = 2
    JOURNAL = 3  # journal or lease problems (and the cockpit's other plan notices)
    OBSERVER = 4  # observer / read-only


@dataclass(frozen=True)
class Banner:
    """One thing that needs the operator: a short ``title`` (``REGRESSION``), what it is, what to do next."""

    rank: Rank
    title: str
    what: str = ""
    next_step: str = ""  # one sentence; said once even when several banners share it


@dataclass(frozen=True)
class BannerRows:
    """What the banner shows: at most :data:`BUDGET` rows and the rank that colours it."""

    rows: tuple[str, ...]
    top: Rank | None


def _full(b: Banner, said: set[str]) -> str:
    text = b.title + (f": {b.what}" if b.what else "")
    if b.next_step and b.next_step not in said:
        said.add(b.next_step)
        text += f". {b.next_step}" if not text.endswith((".", "!", "?")) else f" {b.next_step}"
    return text


def rank_banners(banners: Iterable[Banner], budget: int = BUDGET) -> BannerRows:
    """The most urgent banner in full on the first row; the rest folded, each next step said once.

    With room for every banner (as many banners as rows) each gets its own row. Otherwise the last row
    carries the others as ``also: TITLE (next step) · TITLE …``, most urgent first. Ties keep their order.
    """
    ordered = sorted(banners, key=lambda b: b.rank)  # stable: equal ranks keep the caller's order
    if not ordered:
        return BannerRows((), None)
    said: set[str] = set()
    if len(ordered) <= budget:
        return BannerRows(tuple(_full(b, said) for b in ordered), ordered[0].rank)
    rows = [_full(b, said) for b in ordered[:budget - 1]]
    folded = []
    for b in ordered[budget - 1:]:
        part = b.title
        if b.next_step and b.next_step not in said:
            said.add(b.next_step)
            part += f" ({b.next_step.rstrip('.')})"
        folded.append(part)
    rows.append("also: " + " · ".join(folded))
    return BannerRows(tuple(rows), ordered[0].rank)


def _sentences_once(text: str) -> str:
    """A message that repeats a sentence (the journal's reason and its consequence) says it once."""
    out: list[str] = []
    for part in text.replace("; ", ". ").split(". "):
        part = part.strip().rstrip(".")
        if part and part.lower() not in (p.lower() for p in out):
            out.append(part)
    return ". ".join(out)


_TITLE = re.compile(r"([A-Z]{2,}(?: [A-Z-]{2,})*)\b:?\s*")


def _split(line: str) -> tuple[str, str]:
    """``TITLE rest`` (the title: the leading upper-case words) or ``("", line)``."""
    m = _TITLE.match(line)
    return (m.group(1), line[m.end():].strip()) if m else ("", line.strip())


def _notices(lines: Iterable[str]) -> list[tuple[str, str, bool]]:
    """Plan notices (a heading line, then its diff or errors) as ``(title, what, acceptable)``."""
    groups: list[list[str]] = []
    for line in (x for n in lines for x in n.splitlines() if x.strip()):
        if _split(line)[0] or not groups:
            groups.append([line])
        else:
            groups[-1].append(line)
    out = []
    for first, *rest in groups:
        title, what = _split(first)
        accept = any(x.startswith("A: ") for x in rest)
        detail = [x for x in rest if not x.startswith("A: ")]
        out.append((title or "NOTICE", " · ".join(x for x in (what.rstrip(":"), *detail) if x), accept))
    return out


def plan_banners(view: PlanView, read_only: bool = False) -> list[Banner]:
    """Every banner a plan view asks for, unranked (``rank_banners`` orders and folds them).

    ``read_only``: this cockpit was started with --read-only; it never drives, so it is not told to take over.
    """
    out: list[Banner] = []
    rb = view.rollback
    if rb is not None:  # never "plan complete" after a rollback: the state leads the banner
        word = rb.word
        if rb.ok is False:
            step = "R retries the rollback; the plan shows each failed host."
        elif rb.ok and not rb.closed and not view.observer:
            step = "Enter on a rolled-back phase retries it; palette: Close cutover as rolled back."
        else:
            step = ""
        what = rb.headline().removeprefix(word).lstrip(": ") + (f"; {rb.closed}" if rb.closed else "")
        if rb.ok is False and rb.failures:  # which host and why lead: at 80 columns the rest is cut
            fails = "; ".join(f.line() for f in rb.failures)
            what = f"{fails} · " + what.replace(": " + fails, "")
        out.append(Banner(Rank.ROLLBACK_FAILED if rb.ok is False else Rank.ROLLING_BACK, word, what, step))
    if view.regressions:
        more = f" and {len(view.regressions) - 3} more" if len(view.regressions) > 3 else ""
        offer = not view.observer and (rb is None or rb.ok is False)  # not again once it rolled back
        out.append(Banner(Rank.REGRESSION, "REGRESSION", "; ".join(view.regressions[:3]) + more,
                          "R: quick rollback." if offer else ""))
    if view.banner:
        title, what = _split(view.banner)
        title = title or "NOTICE"
        if title == "JOURNAL NOT WRITABLE":
            out.append(Banner(Rank.JOURNAL, title, _sentences_once(what.replace("Actions are refused", "")
                                                                   .replace("monitoring goes on", "")),
                              "Actions are refused; monitoring goes on: fix the journal file."))
        else:
            out.append(Banner(Rank.JOURNAL, title, _sentences_once(what)))
    for line in view.interrupted[:3]:
        out.append(Banner(Rank.JOURNAL, "INTERRUPTED", f"when the last cockpit died: {line}",
                          "Check those hosts before running the step again."))
    for title, what, accept in _notices(view.plan_notice):
        out.append(Banner(Rank.JOURNAL, title, what, "A: review and accept it (journaled with your reason)."
                          if accept else ""))
    if view.removed:
        out.append(Banner(Rank.JOURNAL, "REMOVED AFTER RUNNING", "; ".join(view.removed)))
    if read_only:  # header says READ-ONLY too; who drives is still worth knowing, and true only when someone does
        driving = f"{view.driver} drives the runbook" if view.driver else "no cockpit drives the runbook now"
        out.append(Banner(Rank.OBSERVER, "READ-ONLY", f"{driving}; this cockpit runs nothing and records nothing"))
    elif view.observer:
        out.append(Banner(Rank.OBSERVER, "OBSERVER", f"{view.driver or 'another cockpit'} drives the runbook; "
                          "this cockpit runs nothing", "T takes over only a stale lease."))
    return out


def with_feed(wanted: list[Banner], feed: Banner | None) -> list[Banner]:
    """An observer's feed line (whose view, how old) joins its OBSERVER banner: one row, not two."""
    if feed is None:
        return wanted
    for i, b in enumerate(wanted):
        if b.title == "OBSERVER":
            merged = Banner(min(b.rank, feed.rank), feed.title, f"{feed.what}; {b.what}", b.next_step)
            return [*wanted[:i], merged, *wanted[i + 1:]]
    return [*wanted, feed]
