"""A loopback HTTP receiver that keeps what it was sent: webhooks, and a Grafana annotation API.

Each request is recorded with its method, path, headers and JSON body. ``answers`` is a list of
statuses to give in turn (the last one repeats): ``[500, 200]`` fails once, then delivers. ``hang``
makes it read the request and never answer (until :meth:`stop`), like a receiver stuck in a GC pause.

``grafana=True`` checks each request against Grafana's annotation API as documented (POST
/api/annotations with an integer ``time`` in epoch ms, a ``text`` string, ``tags`` a list of strings,
optional ``timeEnd``/``dashboardUID``; PATCH /api/annotations/ID) and answers 400 with the reason
otherwise, or 401 without the expected bearer token, as Grafana would.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    method: str
    path: str
    headers: dict[str, str]
    body: Any
    at: float


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format: str, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        owner = self.server.owner
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        got = Received(self.command, self.path, dict(self.headers.items()), body, time.monotonic())
        with owner.lock:
            owner.received.append(got)
            n = len(owner.received)
        if owner.hang:
            owner.stopping.wait(60)
            self.close_connection = True
            return
        status, reply = owner.answer(got, n)
        data = json.dumps(reply).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)
        self.close_connection = True

    do_PATCH = do_PUT = do_DELETE = do_GET = do_POST


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    owner: Receiver


class Receiver:
    def __init__(self, answers: list[int] | None = None, *, grafana: bool = False, token: str = "") -> None:
        self.answers = answers or [200]
        self.grafana = grafana
        self.token = token
        self.hang = False
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.stopping = threading.Event()
        self._next_id = 0
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.owner = self
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Receiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def answer(self, got: Received, n: int) -> tuple[int, Any]:
        if self.grafana:
            return self._grafana(got)
        status = self.answers[min(n, len(self.answers)) - 1]
        return status, {"status": status}

    def _grafana(self, got: Received) -> tuple[int, Any]:
        if self.token and got.headers.get("Authorization") != f"Bearer {self.token}":
            return 401, {"message": "Unauthorized"}
        b = got.body
        if got.method == "POST" and got.path == "/api/annotations":
            problem = _annotation_problem(b, need_time=True)
            if problem:
                return 400, {"message": problem}
            self._next_id += 1
            return 200, {"message": "Annotation added", "id": self._next_id}
        if got.method == "PATCH" and got.path.startswith("/api/annotations/"):
            problem = _annotation_problem(b, need_time=False)
            if problem or not got.path.rsplit("/", 1)[1].isdigit():
                return 400, {"message": problem or "bad id"}
            return 200, {"message": "Annotation patched"}
        return 404, {"message": "Not found"}

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.05)
        with self.lock:
            return list(self.received)


def _annotation_problem(b: Any, *, need_time: bool) -> str:
    if not isinstance(b, dict):
        return "body must be a JSON object"
    for key in ("time", "timeEnd"):
        if key in b and (not isinstance(b[key], int) or isinstance(b[key], bool) or b[key] < 10**12):
            return f"{key} must be epoch milliseconds (an integer)"
    if need_time and "time" not in b:
        return "time is required"
    if "text" in b and not isinstance(b["text"], str):
        return "text must be a string"
    if need_time and not b.get("text"):
        return "text is required"
    if "tags" in b and not (isinstance(b["tags"], list) and all(isinstance(t, str) for t in b["tags"])):
        return "tags must be a list of strings"
    if "dashboardUID" in b and not isinstance(b["dashboardUID"], str):
        return "dashboardUID must be a string"
    unknown = set(b) - {"time", "timeEnd", "text", "tags", "dashboardUID", "dashboardId", "panelId"}
    return f"unknown fields {sorted(unknown)}" if unknown else ""
