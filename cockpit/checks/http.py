"""HTTP and TCP checks, run from the cockpit's machine (or through a host's SSH with ``via``).

httpx's timeouts are per phase: a server that drips one byte a second never trips
them. Every probe therefore runs under one total deadline (``asyncio.timeout``).
Concurrency is bounded by a semaphore: on loopback 20 requests in flight beat 100.
Waiting for a slot has its own budget (the same deadline): a probe that never got
a slot is ``unknown``, never ``down`` -- slow servers must not make healthy ones
look dead.

Redirects are followed here, not by httpx, so that ``connect_to`` and ``via``
apply to every hop that goes to the same server, and credentials configured in
``headers`` (by name, and every header whose value came from ``${ENV}``) never travel
to another origin.

Trust: the system's CA store (OpenSSL's defaults, so ``SSL_CERT_FILE`` and
``SSL_CERT_DIR`` add an internal CA) plus certifi's bundle. With
``verify_tls = false`` the certificate's expiry is still read and reported.
"""

from __future__ import annotations

import asyncio
import math
import re
import socket
import ssl
import sys
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

import httpx
from cryptography import x509

from cockpit.checks.remote import Verdict
from cockpit.errors import TransportError
from cockpit.sanitize import one_line
from cockpit.spec import HttpCheck, TcpCheck

try:
    import sniffio  # noqa: F401
except ImportError:
    # httpcore runs ``import sniffio`` on every request (lock set-up); without sniffio installed that
    # import fails and, failures not being cached, searches all of sys.path each time: about a third of
    # a probe's CPU. A None entry makes it fail at once, as it would anyway (httpcore then assumes asyncio).
    sys.modules.setdefault("sniffio", None)  # type: ignore[arg-type]

#: (host, port) -> local port that leads there through a host's SSH connection
Forwarder = Callable[[str, int], Awaitable[int]]
#: (host, port) -> an open stream through a host's SSH connection
Opener = Callable[[str, int], Awaitable[tuple[object, object]]]

BODY_LIMIT = 1 << 20
CERT_WARN_DAYS = 7
MAX_REDIRECTS = 10

#: configured headers that do not follow a redirect to another server (besides those from ${ENV})
_CREDENTIALS = re.compile(r"authorization|cookie|token|secret|api[-_]?key|auth|session|password", re.I)
#: connect_to as the config accepts it: "IP", "IP:PORT", "[v6]", "[v6]:PORT" (or a name)
_CONNECT_TO = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]\s]+))(?::(\d+))?")


def trust_context() -> ssl.SSLContext:
    """Verification against the system's CAs (honours SSL_CERT_FILE/SSL_CERT_DIR) and certifi's."""
    ctx = ssl.create_default_context()
    try:
        import certifi

        ctx.load_verify_locations(cafile=certifi.where())
    except (ImportError, OSError, ssl.SSLError):
        pass
    return ctx


class _Timing:
    """A probe's phases from httpcore's ``trace`` events: what the server and the network took.

    Started by the first event, so building the client (its TLS context takes ~100 ms once per
    process), waiting for a probe slot and waiting for a pooled connection are never counted.
    ``request`` runs from sending the request to reading the last byte (summed over redirects);
    ``connect`` and ``tls`` are measured only when this probe opened a connection.
    """

    def __init__(self) -> None:
        self.connect: float | None = None
        self.tls: float | None = None
        self.request = 0.0
        self._open: dict[str, float] = {}
        self._sent: float | None = None

    async def __call__(self, name: str, info: dict[str, object]) -> None:
        now = time.monotonic()
        event, _, edge = name.rpartition(".")
        phase = event.rpartition(".")[2]
        if edge == "started":
            self._open[phase] = now
            if phase in ("send_request_headers", "send_request_body") and self._sent is None:
                self._sent = now
            return
        began = self._open.pop(phase, None)
        if began is None or edge != "complete":
            return
        if phase == "connect_tcp":
            self.connect = (self.connect or 0.0) + now - began
        elif phase == "start_tls":
            self.tls = (self.tls or 0.0) + now - began

    def answered(self) -> None:
        """One hop's response read to its end (or closed for a redirect): its request time counts."""
        if self._sent is not None:
            self.request += time.monotonic() - self._sent
            self._sent = None

    def extra(self) -> tuple[tuple[str, float | int | str], ...]:
        return tuple((f"{k}_ms", round(v * 1000, 2)) for k, v in (("connect", self.connect), ("tls", self.tls))
                     if v is not None)

    def words(self) -> str:
        parts = [f"{k} {v * 1000:.0f} ms" for k, v in (("connect", self.connect), ("TLS", self.tls)) if v is not None]
        return f" ({', '.join(parts)})" if parts else ""


class HttpProber:
    """Shared clients (keep-alive across rounds) and a bound on requests in flight."""

    def __init__(self, concurrency: int = 20) -> None:
        self._sem = asyncio.Semaphore(concurrency)
        self._concurrency = concurrency
        self._clients: dict[bool, httpx.AsyncClient] = {}

    def _client(self, verify: bool) -> httpx.AsyncClient:
        client = self._clients.get(verify)
        if client is None:
            limits = httpx.Limits(max_connections=self._concurrency, max_keepalive_connections=self._concurrency)
            client = httpx.AsyncClient(verify=trust_context() if verify else False, limits=limits, trust_env=False)
            self._clients[verify] = client
        return client

    def warm(self) -> None:
        """Build both clients and import what httpcore loads on its first request (its anyio backend).

        Each costs 50-150 ms of CPU once (seconds on a loaded machine); a long-lived prober pays it
        up front so no probe's deadline or timing ever includes it.
        """
        import httpcore._backends.anyio  # noqa: F401 (httpcore imports it lazily on the first request)

        for verify in (True, False):
            self._client(verify)

    async def aclose(self) -> None:
        for c in self._clients.values():
            await c.aclose()
        self._clients.clear()

    async def probe(self, check: HttpCheck, deadline: float, forward: Forwarder | None = None) -> tuple[Verdict, float | None]:
        """Probe once; returns the verdict and the latency (seconds) when an answer came.

        A :class:`TransportError` from ``forward`` (the ``via`` host is unreachable)
        propagates: the caller reports it as ``unknown``.
        """
        try:
            # a forward connects to the via host first: bounded by its own connect_timeout
            hops = [await _Hop.plan(check, check.url, forward)]
        except ValueError as exc:  # e.g. a port out of range
            return Verdict("down", one_line(f"bad URL {check.url}: {exc}")), None
        try:
            async with asyncio.timeout(deadline):
                await self._sem.acquire()
        except TimeoutError:
            return Verdict("unknown", f"not probed: all {self._concurrency} probe slots stayed busy for "
                                      f"{deadline:g}s (slow servers hold them)"), None
        try:
            async with asyncio.timeout(deadline):
                try:
                    return await self._exchange(check, hops, forward, _Timing())
                except (httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError, httpx.ConnectError) as exc:
                    if forward is None or _tls_reason(exc) is not None:
                        raise
                    return await _forward_failure(forward, hops[-1], exc, deadline), None
        except TimeoutError:
            return Verdict("down", f"no complete answer within {deadline:g}s"), None
        except (httpx.HTTPError, OSError) as exc:
            return Verdict("down", _failure(exc)), None
        finally:
            self._sem.release()

    async def _exchange(self, check: HttpCheck, hops: list[_Hop], forward: Forwarder | None,
                        timing: _Timing) -> tuple[Verdict, float | None]:
        """The request (and its redirects, each appended to ``hops``), then the verdict.

        The latency is the request time of :class:`_Timing`; connect and TLS go into ``extra``.
        """
        client = self._client(check.verify_tls)
        hop = hops[-1]
        redirects = 0
        while True:
            req = client.build_request("GET", hop.url, headers=hop.headers, extensions={**hop.ext, "trace": timing})
            client.cookies.clear()  # no check passes on a cookie an earlier round left behind
            resp = await client.send(req, stream=True, follow_redirects=False)
            if not (check.follow_redirects and resp.is_redirect):
                break
            await resp.aclose()
            timing.answered()
            if redirects == MAX_REDIRECTS:
                return Verdict("down", f"more than {MAX_REDIRECTS} redirects (HTTP {resp.status_code})",
                               (("http_status", resp.status_code),)), None
            redirects += 1
            location = resp.headers["location"]
            try:
                target = str(httpx.URL(hop.logical).join(location))
                if not target.startswith(("http://", "https://")):
                    raise ValueError("not an http(s) URL")
                hop = await _Hop.plan(check, target, forward)
            except (httpx.InvalidURL, ValueError):
                return Verdict("down", one_line(f"HTTP {resp.status_code} redirects to a bad URL: {location}"),
                               (("http_status", resp.status_code),)), None
            hops.append(hop)
        try:
            cert_days = _cert_days(resp)
            body = b""
            async for chunk in resp.aiter_bytes():
                body += chunk
                if len(body) >= BODY_LIMIT:
                    break
        finally:
            timing.answered()
            await resp.aclose()
        latency = timing.request
        extra: tuple[tuple[str, float | int | str], ...] = (("http_status", resp.status_code), *timing.extra())
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
            return Verdict("degraded", f"HTTP {resp.status_code}, {_expiry(cert_days)}", extra), latency
        if check.max_latency is not None and latency > check.max_latency:
            return Verdict("degraded", f"HTTP {resp.status_code}, slow: {ms} > {check.max_latency * 1000:.0f} ms", extra), latency
        cert = f", cert {cert_days}d" if cert_days is not None else ""
        return Verdict("up", f"HTTP {resp.status_code} in {ms}{timing.words()}{cert}", extra), latency


class _Hop:
    """One request of a probe: the URL to connect to, and what makes it look like ``logical``."""

    def __init__(self, logical: str, url: str, headers: dict[str, str], ext: dict[str, str], target: str) -> None:
        self.logical = logical  # the URL as the check (or a redirect) names it
        self.url = url  # where the request really goes (connect_to, a forward's loopback port)
        self.headers = headers
        self.ext = ext
        self.target = target  # "host:port" the request is meant for (before any forward)

    @classmethod
    async def plan(cls, check: HttpCheck, url: str, forward: Forwarder | None) -> _Hop:
        parts, origin = urlsplit(url), urlsplit(check.url)
        host = parts.hostname or ""
        port = parts.port or _default_port(parts.scheme)
        same_host = host == (origin.hostname or "")
        same_origin = same_host and port == (origin.port or _default_port(origin.scheme))
        headers = dict(check.headers)
        if not same_origin and not (same_host and parts.scheme == "https"):
            headers = {k: v for k, v in headers.items()
                       if not _CREDENTIALS.search(k) and k not in check.secret_headers}
        target_host, target_port = host, port
        if check.connect_to:
            m = _CONNECT_TO.fullmatch(check.connect_to)
            if m is not None:
                ip, p = m.group(1) or m.group(2), m.group(3)
                # "IP" stands for the name on any port; "IP:PORT" for the check's own origin only
                if p is None and same_host:
                    target_host = ip
                elif p is not None and same_origin:
                    target_host, target_port = ip, int(p)
        target = f"{_bracket(target_host)}:{target_port}"
        if forward is not None:
            target_port = await forward(target_host, target_port)
            target_host = "127.0.0.1"
        ext: dict[str, str] = {}
        real = url
        if (target_host, target_port) != (host, port):
            userinfo, _, hostport = parts.netloc.rpartition("@")
            netloc = (f"{userinfo}@" if userinfo else "") + f"{_bracket(target_host)}:{target_port}"
            real = urlunsplit((parts.scheme, netloc, parts.path or "/", parts.query, ""))
            if not any(k.lower() == "host" for k in headers):
                headers["Host"] = hostport
            if parts.scheme == "https":
                ext["sni_hostname"] = host
        return cls(url, real, headers, ext, target)


def _default_port(scheme: str) -> int:
    return 443 if scheme == "https" else 80


def _bracket(host: str) -> str:
    return f"[{host}]" if ":" in host else host


def _expiry(days: int) -> str:
    if days < 0:
        return f"certificate expired {-days} day{'s' if days < -1 else ''} ago"
    if days == 0:
        return "certificate expires within a day"
    return f"certificate expires in {days} day{'s' if days > 1 else ''}"


def _cert_days(resp: httpx.Response) -> int | None:
    """Whole days until the server's certificate expires (negative: expired); read even when unverified."""
    stream = resp.extensions.get("network_stream")
    if stream is None:
        return None
    ssl_object = stream.get_extra_info("ssl_object")
    if ssl_object is None:
        return None
    der = ssl_object.getpeercert(binary_form=True)  # getpeercert() is {} when verification is off
    if not der:
        return None
    try:
        not_after = x509.load_der_x509_certificate(der).not_valid_after_utc
    except ValueError:
        return None
    return math.floor((not_after - datetime.now(timezone.utc)).total_seconds() / 86400)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    cur: BaseException | None = exc
    while cur is not None and cur not in seen:
        seen.append(cur)
        cur = cur.__cause__ or cur.__context__
    return seen


def _tls_reason(exc: BaseException) -> str | None:
    """"TLS certificate verification failed: <why>" or "TLS: <why>", without OpenSSL's decorations."""
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            why = e.verify_message or re.sub(r"^.*certificate verify failed:\s*", "", str(e))
            return one_line(f"TLS certificate verification failed: {_ssl_clean(why)}")
        if isinstance(e, ssl.SSLError):
            why = (e.reason or "").replace("_", " ").lower() or _ssl_clean(str(e))
            hint = " (is it plain HTTP?)" if e.reason == "WRONG_VERSION_NUMBER" else ""
            return one_line(f"TLS: {why}{hint}")
    text = str(exc)
    if "CERTIFICATE_VERIFY_FAILED" in text or "certificate verify failed" in text:
        return one_line("TLS certificate verification failed: "
                        + _ssl_clean(re.sub(r"^.*certificate verify failed:\s*", "", text)))
    if text.startswith("[SSL"):
        return one_line("TLS: " + _ssl_clean(text))
    return None


def _ssl_clean(text: str) -> str:
    text = re.sub(r"^\[SSL(: [A-Z_]+)?\]\s*", "", text)
    return re.sub(r"\s*\(_ssl\.c:\d+\)$", "", text).rstrip(".")


def _failure(exc: BaseException) -> str:
    """One line saying why a request failed, from the root cause rather than the wrapper."""
    tls = _tls_reason(exc)
    if tls is not None:
        return tls
    for e in _chain(exc):
        if isinstance(e, ConnectionRefusedError):
            return "connection refused"
        if isinstance(e, socket.gaierror):
            return "name does not resolve"
        if isinstance(e, ConnectionResetError):
            return "connection reset by the server"
    text = str(exc)
    low = text.lower()
    if "refused" in low:
        return "connection refused"
    if "name" in low and ("resol" in low or "known" in low):
        return "name does not resolve"
    for e in _chain(exc):  # the first cause that says something
        if str(e):
            return one_line(f"{type(e).__name__}: {e}")
    return type(exc).__name__


async def _forward_failure(forward: Forwarder, hop: _Hop, exc: BaseException, timeout: float) -> Verdict:
    """Why a request through a ``via`` forward got no answer.

    A live forward always accepts on its loopback port, so a refused connection there
    means the forward died with its SSH connection: that says nothing of the service.
    Otherwise the forward accepted, then asked the host to connect, and when the host
    could not, asyncssh just closed the local socket; ask again on a direct channel,
    which carries the host's own reason (refused, no route...).
    """
    owner = getattr(forward, "__self__", None)
    name = getattr(owner, "name", None)
    open_tcp = getattr(owner, "open_tcp", None)
    where = f"via {name}" if name else "through the SSH forward"
    if isinstance(exc, httpx.ConnectError):
        if any(isinstance(e, ConnectionRefusedError) for e in _chain(exc)):
            return Verdict("unknown", f"{where}: the SSH forward to {hop.target} is gone")
        return Verdict("down", one_line(f"{where}: {_failure(exc)}"))
    if open_tcp is not None:
        host, _, port = hop.target.rpartition(":")
        try:
            _, writer = await open_tcp(host.strip("[]"), int(port), timeout)
        except TransportError as err:
            return Verdict("unknown", one_line(f"{where}: {err.reason}"))
        except TimeoutError:
            return Verdict("down", f"{where}: {hop.target} does not answer")
        except Exception as err:  # asyncssh.ChannelOpenError: the host's own reason
            why = getattr(err, "reason", None) or str(err) or type(err).__name__
            return Verdict("down", one_line(f"{where}: {hop.target} {why}"))
        writer.close()  # type: ignore[attr-defined]
    return Verdict("down", one_line(f"{where}: {hop.target} closed the connection without answering "
                                    f"({_failure(exc)})"))


async def probe_tcp(check: TcpCheck, address: str, deadline: float, opener: Opener | None = None) -> tuple[Verdict, float | None]:
    """Connect and close; latency is the connect time.

    A :class:`TransportError` from ``opener`` (the ``via`` host is unreachable)
    propagates: the caller reports it as ``unknown``, not as the service down.
    """
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
        return Verdict("up", f"{host}:{check.port} accepts connections ({latency * 1000:.0f} ms)",
                       (("connect_ms", round(latency * 1000, 2)),)), latency
    except TransportError:
        raise
    except TimeoutError:
        return Verdict("down", f"{host}:{check.port} no answer within {deadline:g}s"), None
    except ConnectionRefusedError:
        return Verdict("down", f"{host}:{check.port} connection refused"), None
    except Exception as exc:  # asyncssh ChannelOpenError, OSError: all mean "cannot connect"
        return Verdict("down", one_line(f"{host}:{check.port} {getattr(exc, 'reason', None) or exc}")), None
