"""A loopback HTTP server for integration tests, configurable while it runs.

Routes answer with a chosen status, body and headers, optionally after a
delay, or in "drip" mode: the whole response (status line, headers, body)
trickles out one byte per ``drip_interval`` seconds, so a client's per-read
timeout never fires and only an overall deadline saves it.

Runs ``http.server.ThreadingHTTPServer`` in a daemon thread on port 0 (the OS
picks a free port); every response carries ``Connection: close`` so no
keep-alive handler thread outlives :meth:`HttpServer.stop`.

``HttpServer(tls=ssl_context)`` serves HTTPS instead (the handshake runs in
the connection's own thread, so a client that never completes it blocks
nobody). Every recorded request carries the client's address.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Route:
    """How one path answers."""

    status: int = 200
    body: bytes = b"ok\n"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    drip: bool = False
    drip_interval: float = 1.0
    drip_headers: bool = True


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]
    at: float
    client: tuple[str, int] = ("", 0)  # the peer's (address, port)


_NOT_FOUND = Route(status=404, body=b"not found\n")
_DRIP_BODY = b"." * 3600  # an hour at one byte per second


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass  # keep test output clean; requests are recorded instead

    def do_GET(self) -> None:  # noqa: N802
        self._answer()

    do_HEAD = do_POST = do_PUT = do_DELETE = do_GET

    def _answer(self) -> None:
        owner = self.server.owner
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        owner.requests.append(
            RecordedRequest(self.command, self.path, dict(self.headers.items()), time.monotonic(),
                            (str(self.client_address[0]), int(self.client_address[1])))
        )
        route = owner.routes.get(self.path.split("?", 1)[0], owner.default_route)
        if route.delay and owner.stopping.wait(route.delay):
            return
        head = self._head(route, len(route.body))
        payload = b"" if self.command == "HEAD" else route.body
        try:
            if not route.drip:
                self.wfile.write(head + payload)
                return
            if not route.drip_headers:
                self.wfile.write(head)
                self.wfile.flush()
                head = b""
            data = head + payload
            for i in range(len(data)):
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
                if owner.stopping.wait(route.drip_interval):
                    return
        except (BrokenPipeError, ConnectionResetError):
            pass
        finally:
            self.close_connection = True

    def _head(self, route: Route, length: int) -> bytes:
        try:
            reason = HTTPStatus(route.status).phrase
        except ValueError:
            reason = "Status"
        lines = [f"HTTP/1.1 {route.status} {reason}"]
        headers = {"Content-Type": "text/plain", **route.headers}
        headers.setdefault("Content-Length", str(length))
        headers["Connection"] = "close"
        lines += [f"{name}: {value}" for name, value in headers.items()]
        return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # many probes connect at once; the default 5 drops SYNs
    owner: HttpServer
    tls: ssl.SSLContext | None = None

    def finish_request(self, request: socket.socket, client_address: object) -> None:  # type: ignore[override]
        if self.tls is not None:
            try:
                request.settimeout(10)
                request = self.tls.wrap_socket(request, server_side=True)
                request.settimeout(None)
            except (OSError, ssl.SSLError):
                return  # the client refused our certificate, or went away: nothing to answer
        super().finish_request(request, client_address)  # type: ignore[arg-type]


class _Server6(_Server):
    address_family = socket.AF_INET6


class HttpServer:
    """The test HTTP server: ``route()`` to configure, ``url()`` to address it."""

    def __init__(self, address: str = "127.0.0.1", tls: ssl.SSLContext | None = None, port: int = 0) -> None:
        self.routes: dict[str, Route] = {}
        self.default_route = _NOT_FOUND
        self.requests: list[RecordedRequest] = []
        self.stopping = threading.Event()
        self._server = (_Server6 if ":" in address else _Server)((address, port), _Handler)
        self._server.owner = self
        self._server.tls = tls
        self.tls = tls
        self.address = address
        self.port = int(self._server.server_address[1])
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"<HttpServer {self.url()}>"

    def route(
        self,
        path: str,
        status: int = 200,
        body: bytes | str | None = None,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        drip: bool = False,
        drip_interval: float = 1.0,
        drip_headers: bool = True,
    ) -> str:
        """Set how ``path`` answers (replacing any earlier route); returns its URL.

        ``drip`` without a body of its own sends a 3,600-byte body.
        """
        if body is None:
            body = _DRIP_BODY if drip else b"ok\n"
        elif isinstance(body, str):
            body = body.encode()
        self.routes[path] = Route(
            status, body, dict(headers or {}), delay, drip, drip_interval, drip_headers
        )
        return self.url(path)

    def url(self, path: str = "/") -> str:
        scheme = "https" if self.tls is not None else "http"
        host = f"[{self.address}]" if ":" in self.address else self.address
        return f"{scheme}://{host}:{self.port}{path}"

    def start(self) -> HttpServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
            name=f"test-httpd-{self.port}", daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; delayed and dripping answers end at once."""
        self.stopping.set()
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> HttpServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
