"""The app's output inbox: one message pending at a time, bounded work per message, nothing reordered."""

from __future__ import annotations

from screens.output_inbox import OutputInbox


def lines(a: int, b: int) -> str:
    return "".join(f"{i}\n" for i in range(a, b))


def test_batches_join_while_one_message_is_pending() -> None:
    box = OutputInbox(keep=100)
    assert box.add(1, "h1", lines(0, 3)) is True  # the first batch posts the message
    assert box.add(1, "h1", lines(3, 5)) is False  # later ones join it
    assert box.add(2, "h4", "x\n") is False
    assert box.take() == [(1, "h1", lines(0, 5), 0), (2, "h4", "x\n", 0)]
    assert box.take() == []
    assert box.add(1, "h1", "y\n") is True  # taken: the next batch posts again


def test_a_flood_keeps_the_last_lines_and_counts_the_rest_as_skipped() -> None:
    box = OutputInbox(keep=100)
    for i in range(0, 1000, 10):  # 1,000 lines while the screen is busy
        box.add(7, "h4", lines(i, i + 10))
    box.add(7, "h4", "partial")
    [(action, host, text, skipped)] = box.take()
    assert (action, host, skipped) == (7, "h4", 900)
    assert text == lines(900, 1000) + "partial"  # whole lines, the last 100, then the line still open


def test_lines_the_engine_skipped_drop_what_was_pending_before_them() -> None:
    box = OutputInbox(keep=100)
    box.add(1, "h1", lines(0, 5))
    box.add(1, "h1", lines(50, 52), skipped=45)
    assert box.take() == [(1, "h1", lines(50, 52), 50)]
