"""HTTP checks that send a method and a body and judge the JSON answer (issue 24, item 3).

The server is real: a loopback JSON-RPC endpoint that reads the request body and answers as seed 000's
``/api/_rpc`` does (``{"method":"ping"}`` -> ``{"result":"pong",...}``). What is asserted is what an
operator sees: the status, the detail, a latency that ``p95()`` can use, and what the server received.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.errors import ConfigError
from cockpit.model import CheckResult


class _Rpc(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _RpcServer

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass

    def _reply(self, status: int, body: bytes, ctype: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True

    def do_GET(self) -> None:  # noqa: N802
        self.server.seen.append(("GET", self.path, "", ""))
        self._reply(405, b'{"error": "use POST"}')

    def do_POST(self) -> None:  # noqa: N802
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.server.seen.append(("POST", self.path, self.headers.get("Content-Type", ""), raw))
        if self.path == "/text":
            self._reply(200, b"<html>maintenance</html>", "text/html")
            return
        try:
            call = json.loads(raw)
        except ValueError:
            self._reply(400, b'{"error": "parse error"}')
            return
        if call.get("method") == "ping":
            answer = {"jsonrpc": "2.0", "id": call.get("id"), "result": "pong",
                      "stats": {"height": 1200, "peers": [{"name": "a"}, {"name": "b"}], "syncing": False}}
        else:
            answer = {"jsonrpc": "2.0", "id": call.get("id"), "error": {"code": -32601, "message": "no method"}}
        self._reply(200, json.dumps(answer).encode())


class _RpcServer(ThreadingHTTPServer):
    daemon_threads = True
    seen: list[tuple[str, str, str, str]]


@pytest.fixture
def rpc() -> Iterator[_RpcServer]:
    server = _RpcServer(("127.0.0.1", 0), _Rpc)
    server.seen = []
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    thread.join(timeout=5)
    server.server_close()


def _config(tmp_path: Path, services: str) -> Path:
    path = tmp_path / "cockpit.toml"
    path.write_text('[hosts.me]\ntransport = "local"\n' + services)
    return path


async def _round(path: Path) -> dict[str, CheckResult]:
    async with Engine(load_config(path, env={})) as engine:
        snap = await engine.run_round()
    return {r.service: r for h in snap.hosts for r in h.results}


def _timed(result: CheckResult) -> bool:
    """A latency was measured (dropped only when this loaded machine stalled the probe worker meanwhile)."""
    return (result.latency is not None and result.latency > 0) or "uncounted_ms" in dict(result.extra)


async def test_json_rpc_ping_is_judged_on_its_answer(tmp_path, rpc) -> None:  # type: ignore[no-untyped-def]
    url = f"http://127.0.0.1:{rpc.server_address[1]}"
    services = f'''
[services.api-rpc]
on = ["me"]
http = "{url}/api/_rpc"
method = "POST"
json = {{ method = "ping", id = 7 }}
max_latency = "5s"
expect_json = {{ "result" = "pong", "id" = 7, "stats.height" = {{ ">=" = 1000 }}, "stats.peers.1.name" = "b", "stats.syncing" = false, "error" = {{ exists = false }} }}

[services.rpc-behind]
on = ["me"]
http = "{url}/api/_rpc"
method = "post"
body = '{{"method": "ping"}}'
expect_json = {{ "stats.height" = {{ ">" = 5000 }} }}

[services.rpc-unknown-method]
on = ["me"]
http = "{url}/api/_rpc"
method = "POST"
json = '{{"method": "pong"}}'
expect_json = {{ "result" = {{ exists = true }} }}

[services.rpc-bool-is-not-a-number]
on = ["me"]
http = "{url}/api/_rpc"
method = "POST"
json = {{ method = "ping" }}
expect_json = {{ "stats.syncing" = 0 }}

[services.rpc-not-json]
on = ["me"]
http = "{url}/text"
method = "POST"
json = {{ method = "ping" }}
expect_json = {{ "result" = "pong" }}

[services.rpc-get]
on = ["me"]
http = "{url}/api/_rpc"
expect_status = 405
'''
    r = await _round(_config(tmp_path, services))
    ok = r["api-rpc"]
    assert ok.status == "up", ok.detail
    assert _timed(ok)  # timed like any http probe: p95() has samples
    assert (r["rpc-behind"].status, r["rpc-behind"].detail) == (
        "down", "HTTP 200 but stats.height is 1200, expected > 5000")
    assert _timed(r["rpc-behind"])  # a wrong answer still came: its time counts
    assert (r["rpc-unknown-method"].status, r["rpc-unknown-method"].detail) == (
        "down", "HTTP 200 but no result in the JSON answer")
    assert r["rpc-bool-is-not-a-number"].detail == "HTTP 200 but stats.syncing is false, expected 0"
    assert r["rpc-not-json"].status == "down"
    assert r["rpc-not-json"].detail.startswith("HTTP 200 but the body is not JSON ("), r["rpc-not-json"].detail
    assert r["rpc-get"].status == "up"
    posts = sorted(s for s in rpc.seen if s[0] == "POST" and s[1] == "/api/_rpc")
    assert ("POST", "/api/_rpc", "application/json", '{"method":"ping","id":7}') in posts
    assert ("POST", "/api/_rpc", "", '{"method": "ping"}') in posts  # body: sent as written, no content type
    assert ("POST", "/api/_rpc", "application/json", '{"method": "pong"}') in posts
    assert ("GET", "/api/_rpc", "", "") in rpc.seen


@pytest.mark.parametrize(("keys", "message"), [
    ('method = "FETCH"', "'FETCH' is not an HTTP method the cockpit sends"),
    ('body = "x"\njson = { a = 1 }', "body and json both give the request's body"),
    ("json = '{\"method\": ping}'", "json is a string that is not JSON"),
    ('method = "HEAD"\nbody = "x"', "a HEAD request carries no body"),
    ('expect_json = { "result" = { "~" = "pong" } }', "'~' is not an operator of expect_json"),
    ('expect_json = { "height" = { ">=" = "10" } }', ">= compares numbers, got '10'"),
    ('expect_json = { "id" = { exists = "yes" } }', "exists takes true or false"),
    ('expect_json = { "a..b" = 1 }', "'a..b' is not a JSON path"),
    ('expect_json = {}', "expect_json must be a non-empty table of paths"),
    ('expect_json = { "x" = [1, 2] }', "expected a value or a one-key table"),
])
def test_bad_request_options_name_the_key_and_the_fix(tmp_path, keys, message) -> None:  # type: ignore[no-untyped-def]
    path = _config(tmp_path, f'[services.rpc]\non = ["me"]\nhttp = "http://127.0.0.1:9/api"\n{keys}\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, env={})
    text = str(info.value)
    assert message in text and "services.rpc." in text and "cockpit.toml:" in text, text


def test_body_from_env_is_a_secret_and_method_belongs_to_http(tmp_path) -> None:  # type: ignore[no-untyped-def]
    path = _config(tmp_path, '[services.rpc]\non = ["me"]\nhttp = "http://127.0.0.1:9/api"\nmethod = "POST"\n'
                             'body = \'{"token": "${RPC_TOKEN}"}\'\n')
    config = load_config(path, env={"RPC_TOKEN": "s3cr3t-value"})
    assert config.services[0].check.body == '{"token": "s3cr3t-value"}'  # type: ignore[union-attr]
    assert "s3cr3t-value" in config.secrets  # masked wherever the cockpit shows or records text
    bad = _config(tmp_path, '[services.rpc]\non = ["me"]\ntcp = 5432\nmethod = "POST"\n')
    with pytest.raises(ConfigError) as info:
        load_config(bad, env={})
    assert "'method' does not apply to a tcp check; it belongs to http" in str(info.value)


async def test_a_307_keeps_the_post_but_a_secret_body_never_goes_to_another_server(tmp_path, rpc) -> None:  # type: ignore[no-untyped-def]
    from httpd import HttpServer

    target = f"http://127.0.0.1:{rpc.server_address[1]}/api/_rpc"
    with HttpServer() as front:
        front.route("/rpc", status=307, body="", headers={"Location": target})
        services = f'''
[services.plain]
on = ["me"]
http = "{front.url('/rpc')}"
follow_redirects = true
method = "POST"
json = {{ method = "ping" }}
expect_json = {{ "result" = "pong" }}

[services.secret]
on = ["me"]
http = "{front.url('/rpc')}"
follow_redirects = true
method = "POST"
body = '{{"method": "ping", "token": "${{RPC_TOKEN}}"}}'
'''
        path = _config(tmp_path, services)
        async with Engine(load_config(path, env={"RPC_TOKEN": "s3cr3t-value"})) as engine:
            snap = await engine.run_round()
    r = {x.service: x for h in snap.hosts for x in h.results}
    assert r["plain"].status == "up", r["plain"].detail  # the POST and its body followed the 307
    assert r["secret"].status == "down"
    assert r["secret"].detail == (f"HTTP 307 redirects to another server (127.0.0.1:{rpc.server_address[1]}); "
                                  "the body holds a ${ENV} value and is not sent there")
    assert not [s for s in rpc.seen if "s3cr3t-value" in s[3]]
    assert [s[0] for s in rpc.seen] == ["POST"]
