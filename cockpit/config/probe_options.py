"""Options of the probes that ask something: an http check's ``method``, ``body``/``json`` and ``expect_json``; dns checks."""

from __future__ import annotations

import ipaddress
import json
import math
import re
from typing import Any

from cockpit.checks import JSON_OPS, split_resolver
from cockpit.config.source import KeyPath, Reader
from cockpit.spec import DnsCheck, JsonExpectation

__all__ = ["HTTP_METHODS", "read_dns", "read_expect_json", "read_http_request"]

HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS")
_PATH = re.compile(r"[^.\s]+(\.[^.\s]+)*")
_EXPECT_EXAMPLE = 'expect_json = { "result" = "pong", "height" = { ">=" = 1 }, "error" = { exists = false } }'


def read_http_request(r: Reader, p: KeyPath, t: dict[str, Any]) -> dict[str, Any]:
    """``method``, ``body`` or ``json``, and ``expect_json`` of an http service, as HttpCheck keywords."""
    out: dict[str, Any] = {}
    if "method" in t:
        method = r.string((*p, "method"), t["method"], example='"POST"').upper()
        if method and method not in HTTP_METHODS:
            r.issue((*p, "method"), f"{t['method']!r} is not an HTTP method the cockpit sends",
                    f"use one of {', '.join(HTTP_METHODS)}")
        elif method:
            out["method"] = method
    if "body" in t and "json" in t:
        r.issue((*p, "json"), "body and json both give the request's body", "keep one: body (text) or json (a table)")
    elif "body" in t:
        out["body"] = r.env_string((*p, "body"), t["body"], example="'{\"method\": \"ping\"}'") or None
        out["secret_body"] = isinstance(t["body"], str) and "${" in t["body"].replace("$${", "")
    elif "json" in t and isinstance(t["json"], str):
        try:  # JSON text as a string: sent as written, once it parses
            json.loads(t["json"])
            out["body"], out["content_type"] = t["json"], "application/json"
        except ValueError as exc:
            r.issue((*p, "json"), f"json is a string that is not JSON: {exc}",
                    "write the body as a TOML table (json = { method = \"ping\" }) or fix the JSON text")
    elif "json" in t:
        try:
            out["body"] = json.dumps(t["json"], separators=(",", ":"), ensure_ascii=False, allow_nan=False)
            out["content_type"] = "application/json"
        except (TypeError, ValueError):
            r.issue((*p, "json"), "json holds a value JSON cannot carry (a date or time, or nan/inf)",
                    'write it as a string, e.g. json = { at = "2026-01-01T00:00:00Z" }')
    if "expect_json" in t:
        out["expect_json"] = read_expect_json(r, (*p, "expect_json"), t["expect_json"])
    method = out.get("method", "GET")
    if method == "HEAD" and out.get("body") is not None:
        r.issue((*p, "method"), "a HEAD request carries no body", 'use method = "POST" (or drop body/json)')
    if method == "HEAD" and out.get("expect_json"):
        r.issue((*p, "expect_json"), "a HEAD answer has no body to hold JSON", 'use method = "GET" or "POST"')
    return out


def _scalar(value: Any) -> bool:
    return isinstance(value, (str, int, bool)) or (isinstance(value, float) and math.isfinite(value))


def read_expect_json(r: Reader, p: KeyPath, raw: Any) -> tuple[JsonExpectation, ...]:
    """A table of path -> a value (equal to it) or ``{ OP = value }`` / ``{ exists = true|false }``."""
    if not isinstance(raw, dict) or not raw:
        r.issue(p, f"expect_json must be a non-empty table of paths, got {raw!r}", _EXPECT_EXAMPLE)
        return ()
    out: list[JsonExpectation] = []
    for path, want in raw.items():
        q = (*p, path)
        if not _PATH.fullmatch(path):
            r.issue(q, f"{path!r} is not a JSON path", "dot-separated keys, a number indexes an array: "
                    '"result.items.0.id" (quote the key in TOML)')
            continue
        if _scalar(want):
            out.append((path, "==", want))
            continue
        if not isinstance(want, dict) or len(want) != 1:
            r.issue(q, f"expected a value or a one-key table {{ OP = value }}, got {want!r}",
                    f"operators: {', '.join(JSON_OPS[:-2])}, or exists = true/false; e.g. {_EXPECT_EXAMPLE}")
            continue
        (op, value), = want.items()
        if op == "exists":
            if not isinstance(value, bool):
                r.issue((*q, op), f"exists takes true or false, got {value!r}", "exists = true (or false: absent)")
                continue
            out.append((path, "exists" if value else "absent", None))
        elif op not in JSON_OPS[:-2]:
            r.issue((*q, op), f"{op!r} is not an operator of expect_json",
                    f"use one of {', '.join(JSON_OPS[:-2])}, or exists = true/false")
        elif op in ("<", "<=", ">", ">=") and (isinstance(value, bool) or not isinstance(value, (int, float))):
            r.issue((*q, op), f"{op} compares numbers, got {value!r}", f'e.g. {{ "{op}" = 100 }}')
        elif not _scalar(value):
            r.issue((*q, op), f"the value compared must be a string, number or boolean, got {value!r}",
                    f'e.g. {{ "{op}" = "pong" }}')
        else:
            out.append((path, op, value))
    return tuple(out)


_NAME = re.compile(r"(?=.{1,253}\.?$)([A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?)*\.?")


def read_dns(r: Reader, p: KeyPath, t: dict[str, Any]) -> DnsCheck:
    """A ``dns`` service: the name, the record type, resolvers, what it must resolve to, and from where."""
    name = r.string((*p, "dns"), t["dns"], example='"api.example.net"')
    if name and not _NAME.fullmatch(name):
        r.issue((*p, "dns"), f"{name!r} is not a DNS name", 'e.g. dns = "api.example.net"')
    record = "A"
    if "record" in t:
        record = r.string((*p, "record"), t["record"], "A", example='"A"').upper()
        if record not in ("A", "AAAA", "CNAME"):
            r.issue((*p, "record"), f"record must be A, AAAA or CNAME, got {t['record']!r}", 'e.g. record = "AAAA"')
            record = "A"
    resolvers = tuple(r.strings((*p, "resolvers"), t["resolvers"], bare_ok=True,
                                example='["127.0.0.1:5353", "ns1.example.net"]')) if "resolvers" in t else ()
    for res in resolvers:
        if split_resolver(res) is None:
            r.issue((*p, "resolvers"), f"{res!r} is not a resolver", 'use "IP", "IP:PORT", "[v6]:PORT" or a name, '
                    'e.g. resolvers = ["1.1.1.1", "127.0.0.1:5353"]')
    addresses = tuple(r.strings((*p, "expect_addresses"), t["expect_addresses"], bare_ok=True,
                                example='["10.0.0.12"]')) if "expect_addresses" in t else ()
    for a in addresses:
        try:
            version = ipaddress.ip_address(a).version
        except ValueError:
            r.issue((*p, "expect_addresses"), f"{a!r} is not an IP address", 'e.g. expect_addresses = ["10.0.0.12"]')
            continue
        if record == "CNAME" or (version == 6) != (record == "AAAA"):
            r.issue((*p, "expect_addresses"), f"{a} is an IPv{version} address but record = {record!r}",
                    'record = "A" for IPv4, "AAAA" for IPv6; a CNAME is checked with expect_cname')
    cname = r.string((*p, "expect_cname"), t["expect_cname"], example='"new-lb.example.net"') \
        if "expect_cname" in t else None
    if cname and not _NAME.fullmatch(cname):
        r.issue((*p, "expect_cname"), f"{cname!r} is not a DNS name", 'e.g. expect_cname = "new-lb.example.net"')
    if record == "CNAME" and not cname:
        r.issue((*p, "record"), 'record = "CNAME" needs expect_cname (the name it must point at)',
                'add expect_cname = "new-lb.example.net", or query A/AAAA with expect_addresses')
    source = "host"
    if "from" in t:
        source = r.string((*p, "from"), t["from"], "host", example='"cockpit"')
        if source not in ("host", "cockpit"):
            r.issue((*p, "from"), f'from must be "host" or "cockpit", got {t["from"]!r}',
                    'from = "cockpit" resolves from the cockpit\'s machine; the default "host" runs dig on the host')
            source = "host"
    max_ttl = r.duration((*p, "max_ttl"), t["max_ttl"], 300.0) if "max_ttl" in t else None
    return DnsCheck(name=name, record=record, resolvers=resolvers, expect_addresses=addresses,  # type: ignore[arg-type]
                    expect_cname=cname or None, max_ttl=max_ttl, source=source)  # type: ignore[arg-type]
