"""The banner budget (issue 22, item 3): every combination of banners fits two rows, most urgent first.

Pure functions, no screen: :func:`screens.banners.rank_banners` over every subset of the five ranks
(with two banners of one rank too), and :func:`screens.banners.plan_banners` on the read-only observer
whose journal cannot be written that once took 5 of 24 rows.
"""

from __future__ import annotations

import itertools

import pytest

from cockpit.runbook import PlanView
from screens.banners import BUDGET, Banner, Rank, plan_banners, rank_banners

#: one banner per rank; each says what to do next, and two of them say the same thing
SAMPLES = {
    Rank.ROLLBACK_FAILED: Banner(Rank.ROLLBACK_FAILED, "ROLLBACK FAILED", "2 hosts", "Fix h1 and h2 by hand."),
    Rank.ROLLING_BACK: Banner(Rank.ROLLING_BACK, "ROLLED BACK", "by alice at 12:03", "Find the cause first."),
    Rank.REGRESSION: Banner(Rank.REGRESSION, "REGRESSION", "h1 web up -> down", "R: quick rollback."),
    Rank.JOURNAL: Banner(Rank.JOURNAL, "JOURNAL NOT WRITABLE", "disk full", "Fix the journal file."),
    Rank.OBSERVER: Banner(Rank.OBSERVER, "OBSERVER", "alice drives", "Fix the journal file."),
}
COMBINATIONS = [c for n in range(len(SAMPLES) + 1) for c in itertools.combinations(list(Rank), n)]


@pytest.mark.parametrize("ranks", COMBINATIONS, ids=lambda c: "+".join(r.name for r in c) or "none")
def test_every_combination_fits_the_budget_most_urgent_first(ranks: tuple[Rank, ...]) -> None:
    shown = [SAMPLES[r] for r in reversed(ranks)]  # given least urgent first: the order must not matter
    out = rank_banners(shown)
    text = "\n".join(out.rows)
    assert len(out.rows) == min(len(ranks), BUDGET)
    if not ranks:
        assert out.top is None
        return
    top = SAMPLES[min(ranks)]
    assert out.top == top.rank and out.rows[0].startswith(top.title)  # the most urgent, in full, on top
    assert top.what in out.rows[0] and top.next_step in out.rows[0]
    for r in ranks:  # nothing is lost: every banner is named, exactly once
        assert text.count(SAMPLES[r].title) == 1, (r, text)
    titles = [SAMPLES[r].title for r in sorted(ranks)]
    assert [t for t in titles if t in text] == sorted(titles, key=text.index)  # in rank order
    for step in {SAMPLES[r].next_step.rstrip(".") for r in ranks}:  # each next step said once, never twice
        assert text.count(step) == 1, (step, text)
    if len(ranks) > BUDGET:
        assert out.rows[-1].startswith("also: ")  # the lower ones folded into one line


def test_two_banners_of_one_rank_keep_their_order() -> None:
    a = Banner(Rank.JOURNAL, "LEASE LOST", "bob took over")
    b = Banner(Rank.JOURNAL, "INTERRUPTED", "step x on h1")
    assert rank_banners([a, b]).rows == ("LEASE LOST: bob took over", "INTERRUPTED: step x on h1")
    assert rank_banners([b, SAMPLES[Rank.ROLLBACK_FAILED], a]).rows[1] == "also: INTERRUPTED · LEASE LOST"


def test_an_observer_with_an_unwritable_journal_takes_two_rows_and_says_each_thing_once() -> None:
    """The case that took 5 of 24 rows, its journal advice doubled, and a regression among them."""
    view = PlanView(phases=(), current=None, regressions=("h1 web up -> down", "h2 web up -> down"),
                    observer=True, driver="alice on jump1",
                    banner="JOURNAL NOT WRITABLE: /var/lib/cockpit/journal.jsonl: permission denied. "
                           "Actions are refused; monitoring goes on. Actions are refused; monitoring goes on.",
                    interrupted=("deploy.canary on h3 (started 11:58 by bob)",))
    out = rank_banners(plan_banners(view))
    text = "\n".join(out.rows)
    assert len(out.rows) == 2 and out.top == Rank.REGRESSION
    assert out.rows[0].startswith("REGRESSION: h1 web up -> down; h2 web up -> down")
    assert "R: quick rollback" not in text  # an observer cannot roll back: it is not offered
    assert text.count("monitoring goes on") == 1 and "JOURNAL NOT WRITABLE" in out.rows[1]
    assert "OBSERVER" in out.rows[1] and "INTERRUPTED" in out.rows[1]


def test_a_driver_is_offered_the_quick_rollback_once() -> None:
    view = PlanView(phases=(), current=None, regressions=("h1 web up -> down",))
    assert rank_banners(plan_banners(view)).rows == ("REGRESSION: h1 web up -> down. R: quick rollback.",)


def test_plan_notices_keep_their_diff_on_one_line() -> None:
    view = PlanView(phases=(), current=None, plan_notice=(
        "PLAN CHANGED on disk (plan ab12cd):", "changed p.mark (command)", "  command: 'echo v1' -> 'echo v2'",
        "A: review and accept it (journaled with your reason)"))
    (row,) = rank_banners(plan_banners(view)).rows
    assert row.startswith("PLAN CHANGED: on disk (plan ab12cd) · changed p.mark (command)")
    assert "'echo v2'" in row and row.endswith("A: review and accept it (journaled with your reason).")


def test_a_failed_rollback_leads_with_the_host_and_why_so_80_columns_keep_it() -> None:
    from cockpit.runbook.views import HostFailure, RollbackState

    rb = RollbackState("quick", "Quick rollback to v1", "alice", 1_700_000_000.0, 1_700_000_016.0, False, 60.0,
                       reason="v2 p95 doubled", failures=(HostFailure("web02", "exit 3 after 0.4s; stderr: locked"),))
    row = rank_banners(plan_banners(PlanView(phases=(), current=None, rollback=rb))).rows[0]
    assert row.startswith("ROLLBACK FAILED: web02: exit 3 after 0.4s; stderr: locked · ")
    assert row.count("web02") == 1 and "alice (v2 p95 doubled)" in row and "16.0 s of 1 m budget" in row
