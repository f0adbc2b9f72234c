"""Reading a running command's two streams with bounded memory, shared by both transports."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cockpit.transports.base import OutputCallback, PgidStripper, TailBuffer

Reader = Callable[[int], Awaitable[str]]
CHUNK = 65536


async def pump(
    read: Reader,
    buf: TailBuffer,
    stream: str,
    on_output: OutputCallback | None,
    stripper: PgidStripper | None = None,
    pgid_seen: asyncio.Event | None = None,
) -> None:
    """Copy a stream into ``buf`` (tail kept) and to the live callback until EOF."""
    while True:
        chunk = await read(CHUNK)
        if not chunk:
            break
        if stripper is not None:
            chunk = stripper.feed(chunk)
            if stripper.pgid is not None and pgid_seen is not None:
                pgid_seen.set()
            if not chunk:
                continue
        buf.write(chunk)
        if on_output is not None:
            on_output(stream, chunk)
        # a read of buffered data returns without suspending: in a flood this loop kept the event loop
        # for the whole SSH window (megabytes), and probes and timers waited behind it
        await asyncio.sleep(0)
    if stripper is not None:
        rest = stripper.flush()
        if rest:
            buf.write(rest)
            if on_output is not None:
                on_output(stream, rest)
