"""HTTP and TCP checks, run from the cockpit's machine (or through a host's SSH with ``via``).

httpx's timeouts are per phase: a server that drips one byte a second never trips
them. Every probe therefore runs under one total deadline (``asyncio.timeout``).
Concurrency is bounded by a semaphore: on loopback 20 requests in flight beat 100.
"""

from __future__ import annotations

import asyncio
import re
import ssl
import time
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit, urlunsplit

import httpx

from cockpit.checks.remote import Verdict
from cockpit.sanitize import one_line
from cockpit.spec import HttpCheck, TcpCheck

#: (host, port) -> local port that leads there through a host's SSH connection
Forwarder = Callable[[str, int], Awaitable[int]]
#: (host, port) -> an open stream through a host's SSH connection
Opener = Callable[[str, int], Awaitable[tuple[object, object]]]

BODY_LIMIT = 1 << 20
CERT_WARN_DAYS = 7


class HttpProber:
    """Shared clients (keep-alive across rounds) and a bound on requests in flight."""

    def __init__(self, concurrency: int = 20) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def _client(self, verify: bool) -> httpx.AsyncClient:
        client = self._clients.get(verify)
        if client is None:
            limits = httpx.Limits(max_connections=self._concurrency * 2, max_keepalive_connections=self._concurrency)
            client = httpx.AsyncClient(verify=verify, limits=limits, trust_env=False)
            self._clients[verify] = client
        return client

    async def aclose(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()

    async def probe(self, check: HttpCheck, deadline: float, forward: Forwarder | None = None) -> tuple[Verdict, float | None]:
        """Probe once; returns the verdict and the latency (seconds) when an answer came."""
        url, headers, ext = check.url, dict(check.headers), {}
        parts = urlsplit(check.url)
        host = parts.hostname or ""
        port = parts.port or (443 if parts.scheme == "https" else 80)
        target_host, target_port = host, port
        if check.connect_to:
            target_host, _, p = check.connect_to.rpartition(":") if ":" in check.connect_to else (check.connect_to, "", "")
            target_port = int(p) if p else port
        if forward is not None:
            target_port = await forward(target_host, target_port)
            target_host = "127.0.0.1"
        if (target_host, target_port) != (host, port):
            netloc = f"{target_host}:{target_port}"
            url = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            headers.setdefault("Host", parts.netloc.rpartition("@")[2])
            if parts.scheme == "https":
                ext["sni_hostname"] = host
        started = time.monotonic()
        try:
            async with asyncio.timeout(deadline):
                async with self._sem:
                    started = time.monotonic()
                    return await self._request(check, url, headers, ext, started)
        except TimeoutError:
            return Verdict("down", f"no complete answer within {deadline:g}s"), None
        except httpx.ConnectError as exc:
            return Verdict("down", _connect_reason(exc)), None
        except httpx.HTTPError as exc:
            return Verdict("down", one_line(f"{type(exc).__name__}: {exc}") or type(exc).__name__), None
        except (OSError, ssl.SSLError) as exc:
            return Verdict("down", one_line(str(exc))), None

    async def _request(self, check: HttpCheck, url: str, headers: dict[str, str], ext: dict[str, str],
                       started: float) -> tuple[Verdict, float | None]:
        client = self._client(check.verify_tls)
        req = client.build_request("GET", url, headers=headers, extensions=ext)
        resp = await client.send(req, stream=True, follow_redirects=check.follow_redirects)
        try:
            cert_days = _cert_days(resp)
            body = b""
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break
        finally:
            await resp.aclose()
        latency = time.monotonic() - started
        extra: tuple[tuple[str, float | int | str], ...] = (("http_status", resp.status_code),)
        if cert_days is not None:
            extra += (("cert_days", cert_days),)
        ms = f"{latency * 1000:.0f} ms"
        if resp.status_code not in check.expect_status:
            want = ", ".join(str(s) for s in check.expect_status)
            return Verdict("down", f"HTTP {resp.status_code} (expected {want})", extra), latency
        text = body.decode(resp.encoding or "utf-8", "replace")
        if check.expect_body is not None and check.expect_body not in text:
            return Verdict("down", f"HTTP {resp.status_code} but body lacks {check.expect_body!r}", extra), latency
        if check.expect_body_regex is not None and not re.search(check.expect_body_regex, text):
            return Verdict("down", f"HTTP {resp.status_code} but body does not match /{check.expect_body_regex}/", extra), latency
        if cert_days is not None and cert_days < CERT_WARN_DAYS:
            return Verdict("degraded", f"HTTP {resp.status_code}, certificate expires in {cert_days} days", extra), latency
        if check.max_latency is not None and latency > check.max_latency:
            return Verdict("degraded", f"HTTP {resp.status_code}, slow: {ms} > {check.max_latency * 1000:.0f} ms", extra), latency
        cert = f", cert {cert_days}d" if cert_days is not None else ""
        return Verdict("up", f"HTTP {resp.status_code} in {ms}{cert}", extra), latency


def _cert_days(resp: httpx.Response) -> int | None:
    stream = resp.extensions.get("network_stream")
    if stream is None:
        return None
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    cert = ssl_object.getpeercert()
    if not cert or "notAfter" not in cert:
        return None
    return int((ssl.cert_time_to_seconds(cert["notAfter"]) - time.time()) // 86400)


def _connect_reason(exc: BaseException) -> str:
    text = str(exc)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "certificate" in low or "ssl" in low:
        return one_line("TLS: " + text)
    if "name" in low and ("resol" in low or "known" in low):
        return "name does not resolve"
    return one_line(text) or "connect failed"


async def probe_tcp(check: TcpCheck, address: str, deadline: float, opener: Opener | None = None) -> tuple[Verdict, float | None]:
    """Connect and close; latency is the connect time."""
    host = check.host or address
    started = time.monotonic()
    try:
        async with asyncio.timeout(deadline):
            if opener is not None:
                _, writer = await opener(host, check.port)
            else:
                _, writer = await asyncio.open_connection(host, check.port)
        latency = time.monotonic() - started
        writer.close()  # type: ignore[attr-defined]
        return Verdict("up", f"{host}:{check.port} accepts connections ({latency * 1000:.0f} ms)"), latency
    except TimeoutError:
        return Verdict("down", f"{host}:{check.port} no answer within {deadline:g}s"), None
    except ConnectionRefusedError:
        return Verdict("down", f"{host}:{check.port} connection refused"), None
    except Exception as exc:  # asyncssh ChannelOpenError, OSError: all mean "cannot connect"
        return Verdict("down", one_line(f"{host}:{check.port} {getattr(exc, 'reason', None) or exc}")), None
