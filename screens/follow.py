"""An observer following the driver: the driver's published view on screen, with whose it is and how old.

No SSH connection: the fleet table is what the driver saw (``cockpit.journal.ViewFollower`` reads it
from the journal). The banner says whose view it is and its age, and DRIVER SILENT when no new view
came for two of the driver's rounds; an action the driver ran is announced when it ends.
"""

from __future__ import annotations

import asyncio
from typing import Any

from cockpit.journal import FollowState, ViewFollower, action_line
from cockpit.session import Session
from screens.banners import Banner, Rank
from screens.messages import SnapshotReady

FOLLOW_EVERY = 0.25  # seconds between looks at the journal (one indexed read) when no notice came
OWN_PROBES = Banner(Rank.OBSERVER, "OWN PROBES", "this observer probes the fleet itself (--own-probes): the table "
                    "is its own rounds, not the driver's view")


def feed_banner(state: FollowState) -> Banner:
    title, _, what = state.line().partition(": ")
    urgent = state.silent or bool(state.problem)
    return Banner(Rank.JOURNAL if urgent else Rank.OBSERVER, title, what)


NO_VIEW = Banner(Rank.OBSERVER, "OWN PROBES", "the driver publishes no view (a headless command drives, or an "
                 "older cockpit): this observer probes the fleet itself")


async def follow_driver(app: Any, session: Session) -> Banner | None:
    """Render the driver's views until this cockpit drives (it took a stale lease over), or until it is clear
    that the driver publishes none (nothing within three rounds): then the banner to show while probing.

    ``app`` is the :class:`screens.app.CockpitApp` (not imported: the app imports this module).
    """
    follower = ViewFollower(session.journal, clock=app.clock)
    loop = asyncio.get_running_loop()
    wake = asyncio.Event()
    follower.listen(lambda: loop.call_soon_threadsafe(wake.set))  # PostgreSQL: told at once of each view
    app.follower = follower
    try:
        return await _follow(app, session, follower, wake)
    finally:
        await asyncio.to_thread(follower.close)


async def _follow(app: Any, session: Session, follower: ViewFollower, wake: asyncio.Event) -> Banner | None:
    announced: set[int] = set()
    first = True
    give_up = asyncio.get_running_loop().time() + 3 * session.config.cockpit.interval + 1.0
    while session.observer:
        view, state = await asyncio.to_thread(follower.poll)  # a slow journal never stalls the screen
        if follower.view is None and asyncio.get_running_loop().time() > give_up:
            return NO_VIEW
        app.dashboard.set_feed_banner(feed_banner(state))
        if view is not None:
            for a in view.actions:
                if a.get("ended") is not None and a.get("id") not in announced:
                    announced.add(a.get("id"))
                    if not first:  # actions that ended before this observer started are history, not news
                        app.notify(f"driver's action {action_line(a)}", timeout=8, markup=False)
            first = False
            app._applied.clear()
            app.post_message(SnapshotReady(view.snapshot))
            await app._applied.wait()
        try:  # a notice (PostgreSQL) wakes it at once; the poll stays as the safety net
            await asyncio.wait_for(wake.wait(), FOLLOW_EVERY)
        except TimeoutError:
            pass
        wake.clear()
    return None
