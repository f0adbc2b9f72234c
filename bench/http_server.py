"""A fast loopback HTTP/1.1 server for B3: many distinct paths over a few ports, keep-alive, asyncio.

Usage: python bench/http_server.py --ports 4 --paths 1000
Prints one JSON line {"ports": [...]} once listening, then serves until stdin closes (or SIGTERM).
``GET /ep/N`` answers 200 with body ``ok N``; ``GET /stats`` the number of connections accepted so far;
any other path answers 404.
Runs in its own process so that the client measured has its own core and GIL.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import resource
import sys


class Http(asyncio.Protocol):
    paths = 1000
    connections = 0  # accepted so far, on every port: ``GET /stats`` answers it

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.t = transport  # type: ignore[assignment]
        self.buf = b""
        Http.connections += 1

    def data_received(self, data: bytes) -> None:
        self.buf += data
        while True:
            end = self.buf.find(b"\r\n\r\n")
            if end < 0:
                return
            head, self.buf = self.buf[:end], self.buf[end + 4:]
            line = head.split(b"\r\n", 1)[0]
            parts = line.split(b" ")
            path = parts[1] if len(parts) > 1 else b"/"
            close = b"connection: close" in head.lower()
            n = path[4:] if path.startswith(b"/ep/") else b""
            if n.isdigit() and int(n) < self.paths:
                body, status = b"ok " + n + b"\n", b"200 OK"
            elif path == b"/stats":
                body, status = str(Http.connections).encode(), b"200 OK"
            else:
                body, status = b"not found\n", b"404 Not Found"
            self.t.write(b"HTTP/1.1 " + status + b"\r\nContent-Type: text/plain\r\nContent-Length: "  # type: ignore[attr-defined]
                         + str(len(body)).encode() + (b"\r\nConnection: close" if close else b"") + b"\r\n\r\n" + body)
            if close:
                self.t.close()
                return


async def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--ports", type=int, default=4)
    ap.add_argument("--paths", type=int, default=1000)
    ap.add_argument("--address", default="127.0.0.1")
    a = ap.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))  # 1,000 listeners and their connections
    Http.paths = a.paths
    loop = asyncio.get_running_loop()
    servers = [await loop.create_server(Http, a.address, 0, backlog=4096) for _ in range(a.ports)]
    ports = [s.sockets[0].getsockname()[1] for s in servers]
    print(json.dumps({"ports": ports}), flush=True)
    # serve until our parent closes stdin
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    await reader.read()
    for s in servers:
        s.close()


if __name__ == "__main__":
    asyncio.run(main())
