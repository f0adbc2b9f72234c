"""WebSocket checks (issue 24, item 4) against real ``websockets`` servers on loopback.

One server answers the opening handshake (101) and echoes ``ping`` as ``pong``; on ``/private`` it refuses
without a token (401), as seed 002's endpoint does. The probes run in the cockpit's probe worker like any
direct probe; what is asserted is what an operator sees: status, detail, a latency ``p95()`` can use.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from test_http_checks import make_cert, server_context
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.http11 import Request, Response

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.errors import ConfigError
from cockpit.model import CheckResult

TOKEN = "Bearer ws-test-token"


@pytest.fixture
async def wsd() -> AsyncIterator[tuple[Server, list[str]]]:
    paths: list[str] = []

    def gate(conn: ServerConnection, request: Request) -> Response | None:
        paths.append(request.path)
        if request.path.startswith("/private") and request.headers.get("Authorization") != TOKEN:
            return conn.respond(401, "unauthorised\n")
        return None

    async def echo(conn: ServerConnection) -> None:
        async for message in conn:
            await conn.send("pong" if message == "ping" else f"unknown: {message}")

    async with serve(echo, "127.0.0.1", 0, process_request=gate) as server:
        yield server, paths


def _port(server: Server) -> int:
    return int(next(iter(server.sockets)).getsockname()[1])


def _config(tmp_path: Path, services: str) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text('[hosts.me]\ntransport = "local"\naddress = "127.0.0.1"\n' + services)
    return path


def _svc(name: str, url: str, *lines: str) -> str:
    return "\n".join([f"[services.{name}]", 'on = ["me"]', f'ws = "{url}"', *lines]) + "\n"


def _timed(result: CheckResult) -> bool:
    """A latency was measured (dropped only when this loaded machine stalled the probe worker meanwhile)."""
    return (result.latency is not None and result.latency > 0) or "uncounted_ms" in dict(result.extra)


async def test_handshake_message_and_refusals_as_an_operator_sees_them(tmp_path, wsd) -> None:  # type: ignore[no-untyped-def]
    server, paths = wsd
    port = _port(server)
    base = f"ws://{{address}}:{port}"
    services = (
        _svc("ws-open", f"{base}/live?from={{host}}")
        + _svc("ws-ping", f"{base}/live", 'send = "ping"', 'expect_reply = "pong"', 'max_latency = "5s"')
        + _svc("ws-wrong-reply", f"{base}/live", 'send = "hello"', 'expect_reply = "pong"')
        + _svc("ws-exists", f"{base}/private", "expect_status = 401")
        + _svc("ws-needs-open", f"{base}/private")
        + _svc("ws-with-token", f"{base}/private", f'headers = {{ Authorization = "{TOKEN}" }}')
        + _svc("ws-should-refuse", f"{base}/live", "expect_status = 401")
        + _svc("ws-closed", "ws://127.0.0.1:9/live")
    )
    async with Engine(load_config(_config(tmp_path, services), env={})) as engine:
        snap = await engine.run_round()
    r = {x.service: x for h in snap.hosts for x in h.results}
    assert r["ws-open"].status == "up" and r["ws-open"].detail.startswith("WebSocket open (101) in "), r["ws-open"]
    assert _timed(r["ws-open"]) and r["ws-open"].kind == "ws"
    assert "/live?from=me" in paths  # {host} and {address} filled in per host, as for http targets
    assert r["ws-ping"].status == "up" and ", reply in " in r["ws-ping"].detail, r["ws-ping"].detail
    assert (r["ws-wrong-reply"].status, r["ws-wrong-reply"].detail) == (
        "down", "WebSocket open (101) but the reply lacks 'pong': 'unknown: hello'")
    exists = r["ws-exists"]
    assert exists.status == "up" and exists.detail.startswith("refused with HTTP 401 as expected (the endpoint exists)")
    assert _timed(exists) and dict(exists.extra)["http_status"] == 401
    assert (r["ws-needs-open"].status, r["ws-needs-open"].detail) == (
        "down", "HTTP 401 instead of the WebSocket handshake (101)")
    assert r["ws-with-token"].status == "up", r["ws-with-token"].detail
    assert (r["ws-should-refuse"].status, r["ws-should-refuse"].detail) == (
        "down", "the WebSocket opened (101) without credentials; expected a refusal with 401")
    assert (r["ws-closed"].status, r["ws-closed"].detail, r["ws-closed"].latency) == (
        "down", "connection refused", None)


@pytest.mark.parametrize(("lines", "message"), [
    (['ws = "https://example.net/ws"'], "'https://example.net/ws' is not a ws:// or wss:// URL"),
    (['ws = "ws://{adress}:9000/"'], "{adress} is not a placeholder of a target"),
    (['ws = "ws://127.0.0.1:9000/"', 'expect_reply = "pong"'], "expect_reply needs a message to answer"),
    (['ws = "ws://127.0.0.1:9000/"', "expect_status = 401", 'send = "ping"'],
     "expect_status = 401 expects a refusal: nothing can be sent"),
    (['ws = "ws://127.0.0.1:9000/"', "expect_status = [101, 401]"], "expected one HTTP status from 100 to 599"),
    (['ws = "ws://127.0.0.1:9000/"', "follow_redirects = true"], "'follow_redirects' does not apply to a ws check"),
])
def test_bad_ws_options_name_the_key_and_the_fix(tmp_path, lines, message) -> None:  # type: ignore[no-untyped-def]
    path = _config(tmp_path, "\n".join(["[services.live]", 'on = ["me"]', *lines]) + "\n")
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    assert message in str(info.value) and "services.live" in str(info.value), str(info.value)


def test_p95_is_accepted_on_a_ws_check(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _config(tmp_path, _svc("live", "ws://127.0.0.1:9000/") + '[[phases]]\nid = "p"\ngate = ["p95(live) < 200ms"]\n')
    config = load_config(path, env={})
    assert config.services[0].check.kind == "ws"


async def test_wss_checks_the_certificate_unless_told_not_to(tmp_path) -> None:  # type: ignore[no-untyped-def]
    cert = make_cert(tmp_path, "ws-self-signed", 90)

    async def echo(conn: ServerConnection) -> None:
        async for message in conn:
            await conn.send(message)

    async with serve(echo, "127.0.0.1", 0, ssl=server_context(cert)) as server:
        url = f"wss://127.0.0.1:{_port(server)}/live"
        services = _svc("strict", url) + _svc("lenient", url, "verify_tls = false", 'send = "hi"', 'expect_reply = "hi"')
        async with Engine(load_config(_config(tmp_path, services), env={})) as engine:
            snap = await engine.run_round()
    r = {x.service: x for h in snap.hosts for x in h.results}
    assert r["strict"].status == "down"
    assert r["strict"].detail.startswith("TLS certificate verification failed: "), r["strict"].detail
    assert r["lenient"].status == "up" and r["lenient"].detail.startswith("WebSocket open (101) in "), r["lenient"]
