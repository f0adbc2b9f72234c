"""Stopping on TERM, HUP or INT: one path for the TUI and the headless commands.

A signal is handled in the event loop (``loop.add_signal_handler``), never by raising from a
Python-level handler: such an exception surfaces in whatever frame runs at that instant, and when
that is a background task or an ``except Exception`` the signal is swallowed and the command runs
to its end (the demo's "exit 0 after SIGTERM", issue 13).

First signal: running actions are cancelled (their remote process groups signalled; detached jobs
run on, journaled as running), each outcome is journaled, then the front end stops (``stop``), closes
its session (releasing the lease) and exits 128+signal. If that takes longer than :data:`GRACE`
seconds, or a second signal comes, the cockpit exits at once: what is still open is journaled
``interrupted`` ("abandoned: outcome unknown"), the lease released, the terminal restored.
"""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import threading
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from typing import Any, Protocol

SIGNALS = (signal.SIGTERM, signal.SIGHUP, signal.SIGINT)
#: seconds the clean stop may take before what is left is abandoned (the promise is an exit within 10 s)
GRACE = 8.0
#: a backstop in a thread, should the event loop itself be stuck: exit without journaling
BACKSTOP = 9.5


class Interrupted(BaseException):
    """A signal during a blocking wait (a prompt); a BaseException, so no ``except Exception`` swallows it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


@contextmanager
def interruptible() -> Iterator[None]:
    """Around a call that blocks the event loop's thread (``input()`` at a confirmation prompt).

    The loop cannot run its signal handler then, so the signal would wait for the prompt to end; here it
    raises :class:`Interrupted` in that call instead. Nothing is running on the hosts at a prompt, so the
    frame it lands in is known.
    """

    def raise_it(signum: int, _frame: object) -> None:
        raise Interrupted(signum)

    old = {s: signal.signal(s, raise_it) for s in SIGNALS}
    try:
        yield
    finally:
        for s, handler in old.items():
            signal.signal(s, handler)


class Stoppable(Protocol):
    """What is stopped: :class:`cockpit.session.Session`."""

    def interrupt(self, reason: str) -> None: ...
    async def settle(self, timeout: float) -> None: ...
    def abandon(self, note: str) -> None: ...


def _say(text: str) -> None:
    try:  # the real stderr: Textual captures sys.stderr while it runs
        print(text, file=sys.__stderr__ or sys.stderr, flush=True)
    except (OSError, ValueError):
        pass  # stderr gone (a closed terminal after HUP): the journal still says it


class SignalStop:
    """``install()`` in the running loop; ``signum`` is set once a signal came, ``exit_status`` is 128+it."""

    def __init__(self, stop: Callable[[int], None], *, session: Stoppable | None = None,
                 restore: Callable[[], None] = lambda: None, say: Callable[[str], None] = _say,
                 announce: bool = True) -> None:
        self.stop = stop
        self.session = session
        self.restore = restore
        self.say = say
        self.announce = announce  # the TUI says it after the terminal is back, not over its screen
        self.signum: int | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous: dict[int, Any] = {}
        self._settling: asyncio.Task[None] | None = None
        self._timers: list[Any] = []  # the grace timer and the backstop thread, cancelled on uninstall

    @property
    def exit_status(self) -> int | None:
        return None if self.signum is None else 128 + self.signum

    def install(self) -> None:
        self._loop = asyncio.get_running_loop()
        for s in SIGNALS:
            self._previous[s] = signal.getsignal(s)
            self._loop.add_signal_handler(s, self._signalled, s)

    def uninstall(self) -> None:
        """Back to the handlers from before (the loop alone would leave the defaults); timers off."""
        for t in self._timers:
            t.cancel()
        self._timers.clear()
        if self._loop is not None and not self._loop.is_closed():
            for s in SIGNALS:
                self._loop.remove_signal_handler(s)
                if self.signum is not None:  # still stopping (the loop's teardown): another signal exits now
                    signal.signal(s, self._late)
                elif self._previous.get(s) is not None:
                    signal.signal(s, self._previous[s])
        self._loop = None

    def _late(self, signum: int, _frame: object) -> None:
        """A second signal after the session was closed: nothing is open, so no journaling; exit 128+first."""
        self.say(f"cockpit: second {signal.Signals(signum).name}: exiting at once (the session was already closed)")
        self._exit(self.exit_status or 128 + signum)

    def _signalled(self, signum: int) -> None:
        name = signal.Signals(signum).name
        if self.signum is not None:
            self.abandon(f"second {name}")
            return
        self.signum = signum
        if self.announce:
            self.say(f"cockpit: {name}: cancelling remote commands (detached jobs run on) and exiting; "
                     f"{name} again exits at once")
        assert self._loop is not None
        self._timers.append(self._loop.call_later(GRACE, self.abandon, f"the stop after {name} took over {GRACE:g} s"))
        backstop = threading.Timer(BACKSTOP, self._backstop)
        backstop.daemon = True
        backstop.start()
        self._timers.append(backstop)
        if self.session is not None:
            self.session.interrupt(f"cancelled: the cockpit got {name}")
            self._settling = self._loop.create_task(self._settle_then_stop(signum))
        else:
            self.stop(signum)

    async def _settle_then_stop(self, signum: int) -> None:
        """Let the cancelled actions journal their outcome before the front end unwinds its own waits."""
        assert self.session is not None
        try:
            await self.session.settle(GRACE)
        finally:
            self.stop(signum)

    def abandon(self, why: str) -> None:
        """Exit now: journal what is open as abandoned, release the lease, restore the terminal."""
        status = self.exit_status or 128 + signal.SIGTERM
        try:
            if self.session is not None:
                self.session.abandon(f"abandoned: outcome unknown ({why})")
        finally:
            try:
                self.restore()
            finally:
                self.say(f"cockpit: {why}: exiting at once; open actions are journaled as abandoned "
                         "(outcome unknown)")
                self._exit(status)

    def _backstop(self) -> None:
        self._exit(self.exit_status or 128 + signal.SIGTERM)

    def _exit(self, status: int) -> None:
        try:
            self.restore()
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except (OSError, ValueError):
                    pass
            os._exit(status)


def run_until_signal(main: Callable[[SignalStop], Awaitable[int]]) -> int:
    """``asyncio.run(main(stop))`` with TERM, HUP and INT handled by a :class:`SignalStop`: 128+signal.

    The signal cancels the session's actions (``stop.session``, set by ``main`` once it has one), lets
    them journal their outcome, then cancels ``main``, whose ``finally`` closes the session (releasing
    the lease). A ``main`` that returns anyway still exits 128+signal: a signal is never an exit 0.
    """
    made: list[SignalStop] = []

    async def wrapper() -> int:
        task = asyncio.current_task()
        assert task is not None

        def unwind(_signum: int) -> None:
            if not getattr(stop.session, "closing", False):  # already closing: a cancel would skip the release
                task.cancel()

        stop = SignalStop(unwind)
        made.append(stop)
        stop.install()
        try:
            return await main(stop)
        except asyncio.CancelledError:
            if stop.exit_status is None:
                raise
            return stop.exit_status
        except Interrupted as exc:  # at a prompt: nothing was running
            if stop.signum is None:
                stop.say(f"cockpit: {exc}: stopped at the prompt; nothing ran")
            return 128 + exc.signum
        finally:
            stop.uninstall()

    rc = asyncio.run(wrapper())
    status = made[0].exit_status if made else None
    return rc if status is None else status
