"""Reading a running command's two streams with bounded memory, shared by both transports."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from cockpit.transports.base import OutputCallback, PgidStripper, TailBuffer

Reader = Callable[[int], Awaitable[str]]
CHUNK = 65536
HOLD = 0.010  # seconds a flood may hold the event loop before the pump lets timers and probes run


async def pump(
    read: Reader,
    buf: TailBuffer,
    stream: str,
    on_output: OutputCallback | None,
    stripper: PgidStripper | None = None,
    pgid_seen: asyncio.Event | None = None,
) -> None:
    """Copy a stream into ``buf`` (tail kept) and to the live callback until EOF."""
    loop = asyncio.get_running_loop()
    held = loop.time()
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
        # for the whole SSH window (megabytes), and probes and timers waited behind it. Yield once the
        # loop has been held for HOLD, not after every chunk: interleaving every 64 KB read with the
        # connection's decryption fragmented the heap (a 50 MB flood grew RSS by 5-34 MB, not 1-2 MB)
        if loop.time() - held >= HOLD:
            await asyncio.sleep(0)
            held = loop.time()
    if stripper is not None:
        rest = stripper.flush()
        if rest:
            buf.write(rest)
            if on_output is not None:
                on_output(stream, rest)
