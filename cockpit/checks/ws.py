"""WebSocket checks from the cockpit: the opening handshake, optionally one message and its reply.

The handshake is the ``websockets`` package's (a maintained client, not a hand-written upgrade). Its
latency runs from opening the TCP connection to the server's answer to the upgrade request (the 101,
or the refusal): the TCP connect, the TLS handshake and the HTTP upgrade, as one figure, since
``websockets`` does the three in one call. ``expect_status = 401`` (any status but 101) says the
endpoint must exist and refuse without credentials: a 101 there is *down* (it opened without them).
A reply is waited for within the same deadline; its wait is reported, not counted in the latency.
No proxy from the environment is used (as for http checks).
"""

from __future__ import annotations

import asyncio
import ssl
import time

from websockets.asyncio.client import connect
from websockets.exceptions import InvalidStatus, WebSocketException

from cockpit.checks.http import _failure, trust_context
from cockpit.checks.remote import Verdict
from cockpit.sanitize import one_line
from cockpit.spec import WsCheck


async def probe_ws(check: WsCheck, deadline: float) -> tuple[Verdict, float | None]:
    """Open (or be refused), then send and read one message when asked; the latency is the handshake's."""
    ssl_ctx = None
    if check.url.startswith("wss://"):
        ssl_ctx = trust_context()
        if not check.verify_tls:
            ssl_ctx.check_hostname = False
            ssl_ctx.verify_mode = ssl.CERT_NONE
    started = time.monotonic()
    try:
        async with asyncio.timeout(deadline):
            try:
                ws = await connect(check.url, additional_headers=list(check.headers), proxy=None, ssl=ssl_ctx,
                                   open_timeout=None, close_timeout=1, ping_interval=None, compression=None,
                                   user_agent_header="cutover-cockpit")
            except InvalidStatus as exc:
                latency = time.monotonic() - started
                return _refused(check, exc.response.status_code, latency), latency
            latency = time.monotonic() - started
            try:
                return await _opened(check, ws, latency), latency
            finally:
                await ws.close()
    except TimeoutError:
        return Verdict("down", f"no complete answer within {deadline:g}s"), None
    except (OSError, WebSocketException) as exc:
        return Verdict("down", _failure(exc)), None


def _refused(check: WsCheck, status: int, latency: float) -> Verdict:
    extra: tuple[tuple[str, float | int | str], ...] = (("http_status", status),)
    ms = f"{latency * 1000:.0f} ms"
    if status == check.expect_status:
        return _timed(check, Verdict("up", f"refused with HTTP {status} as expected (the endpoint exists) in {ms}",
                                     extra), latency)
    if check.expect_status == 101:
        return Verdict("down", f"HTTP {status} instead of the WebSocket handshake (101)", extra)
    return Verdict("down", f"HTTP {status} (expected a refusal with {check.expect_status})", extra)


async def _opened(check: WsCheck, ws: object, latency: float) -> Verdict:
    extra: tuple[tuple[str, float | int | str], ...] = (("http_status", 101),)
    ms = f"{latency * 1000:.0f} ms"
    if check.expect_status != 101:
        return Verdict("down", f"the WebSocket opened (101) without credentials; expected a refusal with "
                               f"{check.expect_status}", extra)
    if check.send is None:
        return _timed(check, Verdict("up", f"WebSocket open (101) in {ms}", extra), latency)
    sent = time.monotonic()
    await ws.send(check.send)  # type: ignore[attr-defined]
    reply = await ws.recv()  # type: ignore[attr-defined]
    waited = time.monotonic() - sent
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else reply
    extra += (("reply_ms", round(waited * 1000, 2)),)
    if check.expect_reply is not None and check.expect_reply not in text:
        return Verdict("down", one_line(f"WebSocket open (101) but the reply lacks {check.expect_reply!r}: "
                                        f"{text[:80]!r}"), extra)
    return _timed(check, Verdict("up", f"WebSocket open (101) in {ms}, reply in {waited * 1000:.0f} ms", extra),
                  latency)


def _timed(check: WsCheck, verdict: Verdict, latency: float) -> Verdict:
    if check.max_latency is not None and latency > check.max_latency:
        return Verdict("degraded", f"{verdict.detail}; slow: {latency * 1000:.0f} ms > "
                                   f"{check.max_latency * 1000:.0f} ms", verdict.extra)
    return verdict
