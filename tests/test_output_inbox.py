"""The app's output inbox: batches join the pending message, bounded work per message, never reordered
ahead of a state change posted after them."""

from __future__ import annotations

from screens.output_inbox import OutputInbox


def lines(a: int, b: int) -> str:
    return "".join(f"{i}\n" for i in range(a, b))


def test_batches_join_while_one_message_is_pending() -> None:
    box = OutputInbox(keep=100)
    group = box.add(1, "h1", lines(0, 3))
    assert group is not None  # the first batch opens a group: the caller posts it
    assert box.add(1, "h1", lines(3, 5)) is None  # later ones join it
    assert box.add(2, "h4", "x\n") is None
    assert box.take(group) == [(1, "h1", lines(0, 5), 0), (2, "h4", "x\n", 0)]
    assert box.add(1, "h1", "y\n") is not None  # taken: the next batch opens a new group


def test_a_state_change_closes_the_group_so_later_output_comes_after_it() -> None:
    """Batch 3 starts (its ActionChanged is posted) while batch 2's output is still pending: batch 3's first
    lines must not join that earlier message, which the pane would handle before it knows batch 3."""
    box = OutputInbox(keep=100)
    first = box.add(2, "h2", "second-h2\n")
    box.barrier()  # ActionChanged(batch 3) posted
    later = box.add(3, "h3", "first-h3\n")
    assert first is not None and later is not None and later is not first
    assert box.take(first) == [(2, "h2", "second-h2\n", 0)]
    assert box.take(later) == [(3, "h3", "first-h3\n", 0)]


def test_a_flood_keeps_the_last_lines_and_counts_the_rest_as_skipped() -> None:
    box = OutputInbox(keep=100)
    group = box.add(7, "h4", lines(0, 10))
    for i in range(10, 1000, 10):  # 1,000 lines while the screen is busy
        box.add(7, "h4", lines(i, i + 10))
    box.add(7, "h4", "partial")
    assert group is not None
    [(action, host, text, skipped)] = box.take(group)
    assert (action, host, skipped) == (7, "h4", 900)
    assert text == lines(900, 1000) + "partial"  # whole lines, the last 100, then the line still open


def test_lines_the_engine_skipped_drop_what_was_pending_before_them() -> None:
    box = OutputInbox(keep=100)
    group = box.add(1, "h1", lines(0, 5))
    box.add(1, "h1", lines(50, 52), skipped=45)
    assert group is not None and box.take(group) == [(1, "h1", lines(50, 52), 50)]
