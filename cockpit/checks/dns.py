"""``dns`` checks: a name resolved by chosen resolvers, judged on its addresses or CNAME and the TTL seen.

Two places resolve it, judged by one rule (:func:`judge_dns`):

- on the host (the default): one snippet in the host's round script runs ``dig`` once per resolver
  (``dig`` is required there: Debian's ``bind9-dnsutils``/``dnsutils``; without it the check is
  *unknown* and says so, never *down*); no resolver given means the host's own (its resolv.conf);
- from the cockpit's machine (``from = "cockpit"``) with dnspython, in the probe worker; no resolver
  given means the cockpit's (its resolv.conf).

The answer is every resolver's: one that points elsewhere, says NXDOMAIN or shows a TTL above
``max_ttl`` makes the check *down*, naming the resolver; one that does not answer makes it *unknown*
(the record may be right there), unless another already proved it wrong.
"""

from __future__ import annotations

import asyncio
import re
import shlex
import socket
from dataclasses import dataclass

from cockpit.spec import DnsCheck

#: (status, detail, extra) -- wrapped into a Verdict by the caller (remote.py, the probe worker)
Judged = tuple[str, str, tuple[tuple[str, float | int | str], ...]]

_RESOLVER = re.compile(r"(?:\[([0-9A-Fa-f:.]+)\]|([^:\[\]\s]+))(?::(\d+))?")
MISSING_DIG = "cockpit-dns: dig missing"
_MARK = "@@cockpit-dns "


@dataclass(frozen=True)
class Answer:
    """What one resolver said: its status (NOERROR, NXDOMAIN…) and records, or why it said nothing."""

    resolver: str
    status: str = ""
    records: tuple[tuple[str, int, str, str], ...] = ()  # (owner, ttl, type, value)
    error: str = ""


def split_resolver(text: str) -> tuple[str, int] | None:
    """``"IP"``, ``"IP:PORT"``, ``"[v6]:PORT"`` or ``"name[:PORT]"`` -> (host, port), None when malformed."""
    m = _RESOLVER.fullmatch(text)
    if m is None or (m.group(3) is not None and not 1 <= int(m.group(3)) <= 65535):
        return None
    return m.group(1) or m.group(2), int(m.group(3) or 53)


def _norm(name: str) -> str:
    return name.lower().rstrip(".")


def dns_snippet(check: DnsCheck, timeout: float) -> str:
    """Shell code: ``dig`` once per resolver, each answer after a marker line naming it."""
    q = shlex.quote
    each = max(1, int(timeout / max(1, len(check.resolvers))) - 1)
    parts = [f"if ! command -v dig >/dev/null 2>&1; then echo {q(MISSING_DIG)}; else"]
    for resolver in check.resolvers or ("",):
        where = ""
        if resolver:
            host, port = split_resolver(resolver) or (resolver, 53)
            where = f"@{q(host)} -p {port} "
        parts.append(f" echo {q(_MARK + (resolver or '-'))};"
                     f" dig +nocmd +noall +comments +answer +tries=1 +time={each} {where}{q(check.name)} "
                     f"{q(check.record)} 2>&1; echo \"@@rc $?\";")
    parts.append(" fi")
    return "".join(parts)


def parse_dig(output: str) -> list[Answer] | None:
    """The answers of :func:`dns_snippet`'s output; None when dig is missing on the host."""
    if MISSING_DIG in output:
        return None
    answers: list[Answer] = []
    for block in output.split(_MARK)[1:]:
        head, _, body = block.partition("\n")
        resolver = "" if head.strip() == "-" else head.strip()
        status, records, error = "", [], ""
        for line in body.splitlines():
            if m := re.search(r"status: ([A-Z]+)", line):
                status = m.group(1)
            elif line.startswith(";;") and ("error" in line or "timed out" in line or "refused" in line):
                error = line.lstrip("; ").strip()
            elif line and not line.startswith((";", "@@rc")):
                fields = line.split(None, 4)
                if len(fields) == 5 and fields[1].isdigit():
                    records.append((fields[0], int(fields[1]), fields[3], fields[4].strip()))
        if not status and not error:
            error = "no answer"
        answers.append(Answer(resolver, status, tuple(records), "" if status else error))
    return answers


def _where(answer: Answer, side: str) -> str:
    return answer.resolver or f"the {side}'s resolver"


def judge_dns(check: DnsCheck, answers: list[Answer], side: str = "host") -> Judged:
    """Every resolver must answer as expected; the detail names the first that does not."""
    wrong: list[str] = []
    silent: list[str] = []
    seen: list[str] = []
    ttls: list[int] = []
    name = _norm(check.name)
    for a in answers:
        where = _where(a, side)
        if a.error or not a.status:
            silent.append(f"{where}: {a.error or 'no answer'}")
            continue
        if a.status != "NOERROR":
            wrong.append(f"{check.name} {'does not exist' if a.status == 'NXDOMAIN' else 'fails'} ({a.status}) on {where}")
            continue
        values = sorted({v for _, _, t, v in a.records if t == check.record})
        cname = next((_norm(v) for o, _, t, v in a.records if t == "CNAME" and _norm(o) == name), None)
        ttl = min((t for _, t, _, _ in a.records), default=None)
        if ttl is not None:
            ttls.append(ttl)
        shown = " ".join(values) or "nothing"
        if check.expect_cname is not None and cname != _norm(check.expect_cname):
            wrong.append(f"{where} gives CNAME {cname or 'none'} (expected {_norm(check.expect_cname)})")
        elif check.expect_addresses and set(values) != set(check.expect_addresses):
            wrong.append(f"{where} answers {shown} (expected {' '.join(sorted(check.expect_addresses))})")
        elif not values and check.expect_cname is None:
            wrong.append(f"no {check.record} record for {check.name} on {where}")
        elif check.max_ttl is not None and ttl is not None and ttl > check.max_ttl:
            wrong.append(f"TTL {ttl} s on {where} > max_ttl {check.max_ttl:g} s (not lowered yet?)")
        else:
            seen.append(f"{shown}{f' via {cname}' if cname else ''} (TTL {ttl} s) on {where}")
    extra: tuple[tuple[str, float | int | str], ...] = (("ttl", max(ttls)),) if ttls else ()
    if wrong:
        more = f" (+{len(wrong) - 1} more)" if len(wrong) > 1 else ""
        return "down", wrong[0] + more, extra
    if silent:
        return "unknown", f"resolver did not answer: {silent[0]}" + (f" (+{len(silent) - 1} more)" if len(silent) > 1 else ""), extra
    if not seen:
        return "unknown", "no resolver was asked", extra
    if len(seen) > 1 and len({s.split(" (TTL")[0] for s in seen}) == 1:
        return "up", f"{check.name} {check.record} {seen[0].split(' on ')[0]} on all {len(seen)} resolvers", extra
    return "up", f"{check.name} {check.record} " + "; ".join(seen), extra


async def probe_dns(check: DnsCheck, deadline: float) -> Judged:
    """Resolve from the cockpit's machine (dnspython), every resolver at once, within ``deadline``."""
    import dns.resolver

    resolvers = list(check.resolvers) or [f"{ip}" for ip in dns.resolver.Resolver().nameservers]
    labels = list(check.resolvers) or [f"the cockpit's resolver {r}" for r in resolvers]
    answers = await asyncio.gather(*(_ask(check, r, label, deadline) for r, label in zip(resolvers, labels)))
    return judge_dns(check, list(answers), "cockpit")


async def _ask(check: DnsCheck, resolver: str, label: str, deadline: float) -> Answer:
    import dns.asyncquery
    import dns.exception
    import dns.flags
    import dns.message
    import dns.rcode
    import dns.rdatatype

    parts = split_resolver(resolver)
    if parts is None:
        return Answer(label, error=f"{resolver!r} is not a resolver address")
    host, port = parts
    try:
        async with asyncio.timeout(deadline):
            infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_DGRAM)
            ip = str(infos[0][4][0])
            query = dns.message.make_query(check.name, check.record)
            resp = await dns.asyncquery.udp(query, ip, port=port, timeout=deadline)
            if resp.flags & dns.flags.TC:
                resp = await dns.asyncquery.tcp(query, ip, port=port, timeout=deadline)
    except (TimeoutError, dns.exception.Timeout):
        return Answer(label, error=f"no answer within {deadline:g}s")
    except socket.gaierror:
        return Answer(label, error=f"the resolver's name {host} does not resolve")
    except (OSError, dns.exception.DNSException) as exc:
        return Answer(label, error=f"{type(exc).__name__}: {exc}")
    records = tuple((rrset.name.to_text(), int(rrset.ttl), dns.rdatatype.to_text(rrset.rdtype), rd.to_text())
                    for rrset in resp.answer for rd in rrset)
    return Answer(label, dns.rcode.to_text(resp.rcode()), records)
