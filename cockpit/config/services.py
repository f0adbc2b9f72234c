"""The ``[services]`` tables: one check kind per service, its options, and its host selectors."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from cockpit.checks import TARGET_PLACEHOLDERS, render_target, target_placeholders
from cockpit.config.host_options import read_compose, read_log, read_pm2
from cockpit.config.hosts import name_problem
from cockpit.config.probe_options import read_dns, read_http_request
from cockpit.config.source import KeyPath, Reader, short_list, suggest
from cockpit.inventory import is_valid_selector, select, selector_kind
from cockpit.spec import (
    Check,
    CommandCheck,
    DockerCheck,
    HostSpec,
    HttpCheck,
    LaunchdCheck,
    PortCheck,
    ProcessCheck,
    ServiceSpec,
    SystemdCheck,
    TcpCheck,
    WsCheck,
)

__all__ = ["COMMON_SERVICE_KEYS", "KIND_EXAMPLES", "KIND_OPTIONS", "SERVICE_KEYS", "check_lifecycle_refs", "read_selectors",
           "read_services"]

COMMON_SERVICE_KEYS = ("on", "critical", "timeout", "expect", "retired_by", "introduced_by")
KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "systemd": (), "launchd": (), "docker": (), "process": (),
    "port": ("port_owner", "port_free"),
    "http": ("expect_status", "expect_body", "expect_body_regex", "max_latency", "headers",
             "follow_redirects", "verify_tls", "connect_to", "via", "method", "body", "json", "expect_json"),
    "tcp": ("tcp_host", "via"),
    "ws": ("expect_status", "send", "expect_reply", "headers", "max_latency", "verify_tls"),
    "dns": ("record", "resolvers", "expect_addresses", "expect_cname", "max_ttl", "from"),
    "command": ("expect_stdout", "expect_stdout_regex", "env"),
    "compose": ("file", "allow", "noncritical"),
    "pm2": ("pm2_user",),
    "log": ("file", "unit", "container", "since"),
}
KIND_EXAMPLES = {
    "systemd": 'systemd = "nginx.service"', "launchd": 'launchd = "com.example.agent"',
    "docker": 'docker = "traefik"', "process": 'process = "fleet-agent --serve"',
    "port": "port = 8080", "http": 'http = "https://example.net/health"', "tcp": "tcp = 5432",
    "command": 'command = "test -f /etc/fleet/v2.toml"', "ws": 'ws = "wss://example.net/ws"',
    "dns": 'dns = "api.example.net"', "compose": 'compose = "fluxer"', "pm2": 'pm2 = "lonestar-chat"',
    "log": "log = 'ERROR|panic'",
}
SERVICE_KEYS = COMMON_SERVICE_KEYS + tuple(KIND_OPTIONS) + tuple(
    dict.fromkeys(o for opts in KIND_OPTIONS.values() for o in opts)
)


def _a(word: str) -> str:
    return "an" if word[:1] in "aeioh" else "a"


def read_selectors(r: Reader, p: KeyPath, raw: Any, hosts: list[HostSpec]) -> tuple[str, ...]:
    selectors = r.strings(p, raw, bare_ok=True, example='["web1", "web*", "tag:nixos", "all"]')
    if not selectors and isinstance(raw, (list, str)):
        r.issue(p, "on must name at least one host selector",
                'e.g. on = ["tag:web"]; selectors: a host name, a glob like web*, tag:NAME, or all')
    names = [h.name for h in hosts]
    for sel in selectors:
        if not is_valid_selector(sel):
            r.issue(p, f"{sel!r} is not a selector", "selectors: a host name, a glob like web*, tag:NAME, or all")
            continue
        if not hosts or select(hosts, sel):
            continue
        kind = selector_kind(sel)
        if kind == "name":
            guess = suggest(sel, names)
            r.issue(p, f"no host named {sel!r}; known hosts: {short_list(names)}",
                    (f"did you mean {guess!r}? " if guess else "")
                    + "use a host name, a glob like web*, tag:NAME, or all")
        elif kind == "tag":
            tags = list(dict.fromkeys(t for h in hosts for t in h.tags))
            guess = suggest(sel[4:], tags)
            r.issue(p, f"selector {sel!r} matches no host: no host has a tag matching {sel[4:]!r}; "
                    f"known tags: {short_list(tags)}",
                    f"did you mean 'tag:{guess}'?" if guess else f'add tags = ["{sel[4:]}"] to the hosts it means')
        else:
            r.issue(p, f"glob {sel!r} matches no host; known hosts: {short_list(names)}",
                    "fix the pattern (fnmatch: * any text, ? one character, [ab] a set) or use tag:NAME")
    return tuple(selectors)


def _via(r: Reader, p: KeyPath, raw: Any, hosts: list[HostSpec]) -> str | None:
    name = r.string(p, raw, example='"bastion"')
    if name and all(h.name != name for h in hosts):
        guess = suggest(name, [h.name for h in hosts])
        r.issue(p, f"via names no host: no host named {name!r}; known hosts: {short_list(h.name for h in hosts)}",
                f"did you mean {guess!r}?" if guess else "via takes one host name from [hosts] or the inventory")
        return None
    return name or None


def _connect_to(r: Reader, p: KeyPath, raw: Any) -> str | None:
    value = r.env_string(p, raw, example='"10.0.0.5:443"')
    if not value:
        return None
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]+)(?::(\d+))?", value)
    if m is None or (m.group(2) is not None and not 1 <= int(m.group(2)) <= 65535):
        r.issue(p, f"connect_to must be IP or IP:PORT, got {raw!r}",
                'e.g. connect_to = "10.0.0.5:443" ([::1]:443 for IPv6)')
        return None
    return value


def _check(r: Reader, p: KeyPath, t: dict[str, Any], kind: str, hosts: list[HostSpec]) -> Check:
    def key(k: str) -> KeyPath:
        return (*p, k)

    def opt(k: str, conv: Callable[[KeyPath, Any], Any], default: Any = None) -> Any:
        """Convert ``t[k]`` when present; an empty string (a rejected value) counts as absent."""
        value = conv(key(k), t[k]) if k in t else default
        return default if value == "" else value

    if kind in ("systemd", "launchd", "docker", "process", "command"):
        value = r.string(key(kind), t[kind], example=KIND_EXAMPLES[kind].split(" = ", 1)[1])
        if kind != "command" and any(c in value for c in "\r\n\0"):
            r.issue(key(kind), f"{kind} value must be one line", "remove the line break")
        simple = {"systemd": SystemdCheck, "launchd": LaunchdCheck, "docker": DockerCheck, "process": ProcessCheck}
        if kind in simple:
            return simple[kind](value)  # type: ignore[no-any-return]
        return CommandCheck(value, expect_stdout=opt("expect_stdout", r.string),
                            expect_stdout_regex=opt("expect_stdout_regex", r.regex),
                            env=r.env_table(key("env"), t["env"]) if "env" in t else ())
    if kind == "port":
        owner = opt("port_owner", r.string)
        free = opt("port_free", r.boolean, False)
        if owner and free:
            r.issue(key("port_free"), "port_free = true contradicts port_owner: a free port has no owner",
                    "keep port_owner (someone must listen) or port_free = true (nobody may listen), not both")
        return PortCheck(r.port(key("port"), t["port"]), owner=owner, free=free)
    if kind == "dns":
        return read_dns(r, p, t)
    if kind in _HOST_READERS:
        return _HOST_READERS[kind](r, p, t)
    via = opt("via", lambda q, v: _via(r, q, v, hosts))
    if kind == "tcp":
        tcp_host = opt("tcp_host", r.env_string)
        if tcp_host:
            _placeholders(r, key("tcp_host"), tcp_host)
        return TcpCheck(r.port(key("tcp"), t["tcp"]), host=tcp_host, via=via)
    if kind == "ws":
        return _ws(r, p, t)
    url = _url(r, key("http"), t["http"], ("http", "https"))
    status: tuple[int, ...] = (200,)
    if "expect_status" in t:
        raw = t["expect_status"]
        codes = [r.integer(key("expect_status"), c, 100, 599, 200, "an HTTP status")
                 for c in (raw if isinstance(raw, list) else [raw])]
        if not codes:
            r.issue(key("expect_status"), "expect_status is an empty list", "e.g. expect_status = [200, 302]")
        status = tuple(codes) or (200,)
    headers, secret = _headers(r, key("headers"), t)
    return HttpCheck(
        url=url, expect_status=status, headers=tuple(headers), secret_headers=tuple(secret), via=via,
        expect_body=opt("expect_body", r.string),
        expect_body_regex=opt("expect_body_regex", r.regex),
        max_latency=opt("max_latency", r.duration),
        follow_redirects=opt("follow_redirects", r.boolean, False),
        verify_tls=opt("verify_tls", r.boolean, True),
        connect_to=opt("connect_to", lambda q, v: _connect_to(r, q, v)),
        **read_http_request(r, p, t),
    )


_HOST_READERS: dict[str, Callable[[Reader, KeyPath, dict[str, Any]], Check]] = {
    "compose": read_compose, "pm2": read_pm2, "log": read_log,
}


def _url(r: Reader, p: KeyPath, raw: Any, schemes: tuple[str, str]) -> str:
    """A target URL of one of ``schemes``, ``${ENV}`` and ``{host}``/``{address}`` allowed."""
    url = r.env_string(p, raw, example=f'"{schemes[1]}://example.net/health"')
    if url:
        _placeholders(r, p, url)
    # {host} and {address} are filled in per host at run time: check the URL's shape with stand-ins
    parts = urlsplit(render_target(url, "host.invalid", "192.0.2.1", url=True)) if url else None
    if url and (problem := _text_problem(url, tab_ok=False, space_ok=False)) is not None:
        r.issue(p, f"the URL holds {problem}", "percent-encode it (a space is %20, a tab %09)")
    elif parts is not None and (parts.scheme not in schemes or not parts.netloc):
        r.issue(p, f"{raw!r} is not {_a(schemes[0])} {schemes[0]}:// or {schemes[1]}:// URL",
                f'e.g. {p[-1]} = "{schemes[1]}://example.net/health"')
    elif parts is not None:
        try:
            parts.port  # raises on a port outside 0..65535 or not a number
        except ValueError:
            r.issue(p, f"{raw!r} has a bad port", f"ports are 1..65535, e.g. {schemes[1]}://example.net:8443/")
    return url


def _headers(r: Reader, p: KeyPath, t: dict[str, Any]) -> tuple[tuple[tuple[str, str], ...], tuple[str, ...]]:
    """``headers``: (name, value) pairs, and the names whose value came from ``${ENV}``."""
    headers: list[tuple[str, str]] = []
    secret: list[str] = []
    for name, value in (r.table(p, t["headers"]) if "headers" in t else {}).items():
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            r.issue((*p, name), f"{name!r} is not a valid HTTP header name",
                    "header names are letters, digits and - (e.g. Authorization)")
        text = r.env_string((*p, name), value, example='"Bearer ${TOKEN}"')
        from_env = isinstance(value, str) and "${" in value.replace("$${", "")
        if (problem := _text_problem(text, tab_ok=True)) is not None:
            r.issue((*p, name), f"the value of header {name} holds {problem}"
                    + (" (it comes from ${ENV}: the value is not shown)" if from_env else ""),
                    "a header value is one line of printable ASCII: check the variable "
                    "(a trailing newline from $(cat file)?) or percent-encode what is not ASCII")
        headers.append((name, text))
        if from_env:
            secret.append(name)
    return tuple(headers), tuple(secret)


def _ws(r: Reader, p: KeyPath, t: dict[str, Any]) -> WsCheck:
    """A ``ws`` service: the URL, the status expected (101, or a refusal), one message and its reply."""
    url = _url(r, (*p, "ws"), t["ws"], ("ws", "wss"))
    status = 101
    if "expect_status" in t:
        status = r.integer((*p, "expect_status"), t["expect_status"], 100, 599, 101, "one HTTP status")
    if "expect_reply" in t and "send" not in t:
        r.issue((*p, "expect_reply"), "expect_reply needs a message to answer: send is missing",
                "add send = '{\"op\": \"ping\"}' (the text sent once the WebSocket is open)")
    if status != 101 and "send" in t:
        r.issue((*p, "send"), f"expect_status = {status} expects a refusal: nothing can be sent",
                "drop send/expect_reply, or expect the handshake (expect_status = 101, the default)")
    headers, _ = _headers(r, (*p, "headers"), t)
    return WsCheck(
        url=url, expect_status=status, headers=headers,
        send=r.env_string((*p, "send"), t["send"], example='"ping"') or None if "send" in t else None,
        expect_reply=r.string((*p, "expect_reply"), t["expect_reply"], example='"pong"') or None
        if "expect_reply" in t else None,
        max_latency=r.duration((*p, "max_latency"), t["max_latency"]) if "max_latency" in t else None,
        verify_tls=r.boolean((*p, "verify_tls"), t["verify_tls"], True) if "verify_tls" in t else True,
    )


def _text_problem(text: str, *, tab_ok: bool, space_ok: bool = True) -> str | None:
    """What makes ``text`` unusable as an HTTP header value or URL (without quoting it: it may be a secret)."""
    for c in text:
        if c in "\r\n":
            return "a line break"
        if c == "\t" and not tab_ok:
            return "a tab"
        if c == " " and not space_ok:
            return "a space"
        if c != "\t" and (ord(c) < 32 or ord(c) == 127):
            return "a control character"
        if not c.isascii() and not space_ok:
            continue  # a URL's non-ASCII host or path is encoded by the client
        if not c.isascii():
            return "a non-ASCII character"
        if not c.isprintable() and c != "\t":
            return "a control character"
    return None


def read_services(r: Reader, raw: Any, hosts: list[HostSpec]) -> list[ServiceSpec]:
    """Every valid service; an invalid one is left out and its issues recorded."""
    services: list[ServiceSpec] = []
    for name, body in r.table(("services",), raw).items():
        p: KeyPath = ("services", name)
        if (problem := name_problem(name, "service")) is not None:
            r.issue(p, problem, "rename the service")
        elif "/" in name:
            r.issue(p, f"service name {name!r} holds /, which names a compose container (SERVICE/CONTAINER)",
                    "rename the service without /")
        t = r.table(p, body)
        r.known(p, t, SERVICE_KEYS)
        kinds = [k for k in KIND_OPTIONS if k in t]
        if "on" not in t:
            r.issue(p, f"service {name!r} has no 'on' (the hosts it is checked on)",
                    'add on = ["tag:NAME"] (or a host name, a glob like web*, or "all")')
        on = read_selectors(r, (*p, "on"), t["on"], hosts) if "on" in t else ()
        check: Check | None = None
        if len(kinds) == 1:
            kind = kinds[0]
            for opt in (k for k in t if k in SERVICE_KEYS and k not in COMMON_SERVICE_KEYS + tuple(KIND_OPTIONS)):
                if opt not in KIND_OPTIONS[kind]:
                    owners = [k for k, opts in KIND_OPTIONS.items() if opt in opts]
                    r.issue((*p, opt), f"{opt!r} does not apply to a {kind} check; it belongs to {' or '.join(owners)}",
                            f"remove {opt}, or make this {_a(owners[0])} {' or '.join(owners)} check "
                            f"(e.g. {KIND_EXAMPLES[owners[0]]})")
            check = _check(r, p, t, kind, hosts)
        elif not kinds:
            implied = [k for k, opts in KIND_OPTIONS.items() if any(o in t for o in opts)]
            r.issue(p, f"service {name!r} has no check kind; set exactly one of {', '.join(KIND_OPTIONS)}",
                    f"its options belong to a {' or '.join(implied)} check: add e.g. {KIND_EXAMPLES[implied[0]]}"
                    if implied else f"e.g. {KIND_EXAMPLES['systemd']} or {KIND_EXAMPLES['http']}")
        else:
            r.issue((*p, kinds[1]), f"service {name!r} has {len(kinds)} check kinds ({', '.join(kinds)}); "
                    "a service has exactly one", "split it into one service per check kind")
        critical = r.boolean((*p, "critical"), t["critical"], True) if "critical" in t else True
        timeout = r.duration((*p, "timeout"), t["timeout"], 10.0) if "timeout" in t else None
        expect, retired_by, introduced_by = _lifecycle(r, p, t)
        if check is not None:
            services.append(ServiceSpec(name=name, on=on, check=check, critical=critical, timeout=timeout,
                                        expect=expect, retired_by=retired_by, introduced_by=introduced_by))
    return services


def _lifecycle(r: Reader, p: KeyPath, t: dict[str, Any]) -> tuple[Any, str | None, str | None]:
    """``expect``, ``retired_by``, ``introduced_by``: at most one of them (the refs are checked with the runbook)."""
    expect = "up"
    if "expect" in t:
        expect = r.string((*p, "expect"), t["expect"], "up", example='"down"')
        if expect not in ("up", "down"):
            r.issue((*p, "expect"), f"expect must be \"up\" or \"down\", got {t['expect']!r}",
                    'expect = "down" for something that must stay down; retired_by/introduced_by follow a step')
            expect = "up"
    refs = {k: r.string((*p, k), t[k], example='"decommission.stop-v1"') or None
            for k in ("retired_by", "introduced_by") if k in t}
    given = [k for k in ("expect", "retired_by", "introduced_by") if k in t]
    if len(given) > 1:
        r.issue((*p, given[1]), f"{' and '.join(given)} contradict each other: a service has one lifecycle",
                "keep one: retired_by (an old service), introduced_by (a new one) or expect = \"down\"")
    return expect, refs.get("retired_by"), refs.get("introduced_by")


def check_lifecycle_refs(r: Reader, services: list[ServiceSpec], phases: Any) -> None:
    """Each ``retired_by``/``introduced_by`` names a phase (``PHASE``) or a step (``PHASE.STEP``) of the runbook."""
    known = [p.id for p in phases] + [f"{p.id}.{s.id}" for p in phases for s in p.steps]
    for svc in services:
        for key in ("retired_by", "introduced_by"):
            ref = getattr(svc, key)
            if ref is None or ref in known:
                continue
            guess = suggest(ref, known)
            r.issue(("services", svc.name, key), f"{key} = {ref!r} names no step or phase of the runbook; "
                    f"known: {short_list(known)}",
                    (f"did you mean {guess!r}? " if guess else "")
                    + "name a step as PHASE.STEP (e.g. decommission.stop-v1) or a whole phase as PHASE")


def _placeholders(r: Reader, p: KeyPath, target: str) -> None:
    """Only ``{host}`` and ``{address}`` resolve in a target (per host, at run time)."""
    for name in target_placeholders(target):
        if name not in TARGET_PLACEHOLDERS:
            r.issue(p, f"{target!r}: {{{name}}} is not a placeholder of a target",
                    "use {host} (the host's name) or {address} (its address); {{ and }} are literal braces")

