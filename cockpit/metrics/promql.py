"""PromQL text as data: placeholders only inside label matchers' quoted values, escaped on the way in.

A query in a condition may name ``{phase}``, ``{step}``, ``{host}`` or ``{address}`` inside a label
matcher's quoted value (``{version="v2", instance="{address}:9100"}``). The literal is decoded, the
placeholder replaced by its value, and the literal written back as a double-quoted PromQL string with
every ``\\``, ``"`` and control character escaped, so no value can end the string or the matcher. In a
regex matcher (``=~``, ``!~``) the value is also regex-escaped: a host ``db.1`` matches only ``db.1``.
Anywhere else (outside strings, or in a string that is no label value, such as ``label_replace``'s
arguments) a placeholder is refused by :func:`template_issues`, which ``validate`` runs.

:func:`vector_selectors` lists the series selectors of a query (``name{matchers}``), which the
staleness check reads with ``timestamp()``. The scanner knows just enough PromQL for these two jobs:
strings, comments, matcher blocks, ranges, label lists after ``by``/``without``/``on``/``ignoring``/
``group_left``/``group_right``, function calls and keywords.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

__all__ = ["PLACEHOLDERS", "Token", "decode_string", "promql_string", "substitute", "template_issues", "tokens", "used_placeholders",
           "vector_selectors"]

#: placeholders a metric() query may use, inside a label matcher's quoted value only
PLACEHOLDERS = ("phase", "step", "host", "address")

_PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_IDENT = re.compile(r"[A-Za-z_:][A-Za-z0-9_:]*")
_NUMBER = re.compile(r"[0-9.][0-9A-Za-z_.]*(?:[eE][+-]?[0-9]+)?")
_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "and", "or", "unless",
             "atan2", "start", "end", "inf", "nan", "Inf", "NaN"}
_LABEL_LISTS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v", "\\": "\\", '"': '"',
            "'": "'"}
_RE_META = set("\\.+*?()|[]{}^$")


@dataclass(frozen=True)
class Token:
    """One piece of a query: ``kind`` is ident, number, string, matchers, range, punct, or comment.

    A ``string`` inside a ``matchers`` block is reported separately with ``in_matcher`` and the operator
    before it (``=``, ``!=``, ``=~``, ``!~``), so callers know a label value from any other string.
    """

    kind: str
    start: int
    end: int
    text: str
    in_matcher: bool = False
    op: str = ""


def _string_end(text: str, i: int) -> int:
    """The index after the string literal starting at ``i`` (unterminated: the end of the text)."""
    quote = text[i]
    j = i + 1
    while j < len(text):
        c = text[j]
        if c == "\\" and quote != "`":
            j += 2
            continue
        if c == quote:
            return j + 1
        j += 1
    return len(text)


def tokens(query: str) -> list[Token]:
    """Scan ``query``; matcher blocks yield a ``matchers`` token followed by their strings."""
    out: list[Token] = []
    i, n = 0, len(query)
    while i < n:
        c = query[i]
        if c.isspace():
            i += 1
        elif c == "#":
            j = query.find("\n", i)
            j = n if j < 0 else j
            out.append(Token("comment", i, j, query[i:j]))
            i = j
        elif c in "\"'`":
            j = _string_end(query, i)
            out.append(Token("string", i, j, query[i:j]))
            i = j
        elif c == "{":
            j, strings = _matchers(query, i)
            out.append(Token("matchers", i, j, query[i:j]))
            out.extend(strings)
            i = j
        elif c == "[":
            j = query.find("]", i)
            j = n if j < 0 else j + 1
            out.append(Token("range", i, j, query[i:j]))
            i = j
        elif m := _IDENT.match(query, i):
            out.append(Token("ident", i, m.end(), m.group()))
            i = m.end()
        elif m := _NUMBER.match(query, i):
            out.append(Token("number", i, m.end(), m.group()))
            i = m.end()
        else:
            out.append(Token("punct", i, i + 1, c))
            i += 1
    return out


def _matchers(query: str, i: int) -> tuple[int, list[Token]]:
    """The end of the ``{...}`` block at ``i`` and its quoted values (with the operator before each)."""
    strings: list[Token] = []
    j, op = i + 1, ""
    while j < len(query):
        c = query[j]
        if c == "}":
            return j + 1, strings
        if c in "\"'`":
            end = _string_end(query, j)
            strings.append(Token("string", j, end, query[j:end], in_matcher=True, op=op))
            j, op = end, ""
            continue
        if c in "=!~":
            op = (op + c) if op in ("", "!", "=") and len(op) < 2 else c
        elif not c.isspace():
            op = ""
        j += 1
    return len(query), strings


def decode_string(literal: str) -> str:
    """The value of a PromQL string literal (Go's rules: escapes in "..." and '...', none in `...`)."""
    quote, body = literal[0], literal[1:-1] if len(literal) > 1 and literal[-1] == literal[0] else literal[1:]
    if quote == "`":
        return body
    out: list[str] = []
    i = 0
    while i < len(body):
        c = body[i]
        if c != "\\" or i + 1 >= len(body):
            out.append(c)
            i += 1
            continue
        e = body[i + 1]
        if e in _ESCAPES:
            out.append(_ESCAPES[e])
            i += 2
        elif e in "xuU" and (width := {"x": 2, "u": 4, "U": 8}[e]) and re.fullmatch(
                r"[0-9A-Fa-f]+", body[i + 2:i + 2 + width] or "-"):
            out.append(chr(int(body[i + 2:i + 2 + width], 16)))
            i += 2 + width
        elif re.fullmatch(r"[0-7]{3}", body[i + 1:i + 4]):
            out.append(chr(int(body[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(c)
            i += 1
    return "".join(out)


def promql_string(value: str) -> str:
    """``value`` as a double-quoted PromQL string literal that decodes to exactly ``value``.

    ``\\`` and ``"`` are escaped, as are newlines, tabs and every other control character (``\\u00XX``),
    so the literal is one line and cannot end early; other Unicode is written as is (PromQL reads UTF-8).
    """
    out = ['"']
    for c in value:
        if c == "\\":
            out.append("\\\\")
        elif c == '"':
            out.append('\\"')
        elif c == "\n":
            out.append("\\n")
        elif c == "\t":
            out.append("\\t")
        elif c == "\r":
            out.append("\\r")
        elif ord(c) < 0x20 or 0x7F <= ord(c) < 0xA0 or c in "\u2028\u2029":
            out.append(f"\\u{ord(c):04x}")
        else:
            out.append(c)
    out.append('"')
    return "".join(out)


def _regex_escape(value: str) -> str:
    """RE2 metacharacters escaped, so a regex matcher matches the value literally."""
    return "".join("\\" + c if c in _RE_META else c for c in value)


def used_placeholders(query: str) -> set[str]:
    """The known placeholders a query names (anywhere)."""
    return {m.group(1) for m in _PLACEHOLDER.finditer(query) if m.group(1) in PLACEHOLDERS}


def template_issues(query: str, known: tuple[str, ...] = PLACEHOLDERS) -> list[str]:
    """Why ``query`` cannot be a metric() template ([] when it can): a placeholder outside a label value,
    one not in ``known`` (e.g. ``{step}`` in a phase gate), or a string literal left open."""
    issues: list[str] = []
    for tok in tokens(query):
        if tok.kind == "comment":
            continue
        if tok.kind == "string" and (len(tok.text) < 2 or tok.text[-1] != tok.text[0]):
            issues.append(f"the string at col {tok.start + 1} is not closed")
            continue
        names = [m.group(1) for m in _PLACEHOLDER.finditer(tok.text) if m.group(1) in PLACEHOLDERS]
        if tok.kind == "matchers":  # its strings come as their own tokens: look only between them
            names = [m.group(1) for m in _PLACEHOLDER.finditer(_outside_strings(tok.text))
                     if m.group(1) in PLACEHOLDERS]
        for name in names:
            if not (tok.kind == "string" and tok.in_matcher):
                issues.append(f"{{{name}}} at col {tok.start + 1} stands outside a label matcher's quoted value; "
                              'placeholders go only inside one, e.g. {instance="{address}:9100"}')
            elif name not in known:
                issues.append(f"{{{name}}} is not known here (known: {', '.join('{' + k + '}' for k in known)})")
    return issues


def _outside_strings(block: str) -> str:
    out, i = [], 0
    while i < len(block):
        if block[i] in "\"'`":
            j = _string_end(block, i)
            out.append(" " * (j - i))
            i = j
        else:
            out.append(block[i])
            i += 1
    return "".join(out)


def substitute(query: str, values: Mapping[str, str]) -> str:
    """Replace placeholders inside label matchers' quoted values; each such literal is re-encoded whole.

    Call :func:`template_issues` first (``validate`` does): placeholders elsewhere are left as written.
    """
    if not used_placeholders(query):
        return query
    out: list[str] = []
    last = 0
    for tok in tokens(query):
        if tok.kind != "string" or not tok.in_matcher or not _PLACEHOLDER.search(tok.text):
            continue
        regex = tok.op in ("=~", "!~")

        def put(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in values:
                return m.group(0)
            return _regex_escape(values[name]) if regex else values[name]

        out.append(query[last:tok.start])
        out.append(promql_string(_PLACEHOLDER.sub(put, decode_string(tok.text))))
        last = tok.end
    out.append(query[last:])
    return "".join(out)


def vector_selectors(query: str) -> list[str]:
    """The series selectors in ``query`` (``name``, ``name{...}`` or ``{...}``), in order, without repeats."""
    toks = [t for t in tokens(query) if t.kind != "comment" and not (t.kind == "string" and t.in_matcher)]
    found: list[str] = []
    skip_list = False
    depth_list = -1
    depth = 0
    for k, tok in enumerate(toks):
        nxt = toks[k + 1] if k + 1 < len(toks) else None
        if tok.kind == "punct" and tok.text == "(":
            depth += 1
            if skip_list and depth_list < 0:
                depth_list = depth
            continue
        if tok.kind == "punct" and tok.text == ")":
            if depth == depth_list:
                skip_list, depth_list = False, -1
            depth -= 1
            continue
        if depth_list >= 0:
            continue  # a label list: by (le), on (instance)
        if tok.kind == "ident":
            if tok.text in _LABEL_LISTS:
                skip_list = True
                continue
            if tok.text in _KEYWORDS or (nxt is not None and nxt.kind == "punct" and nxt.text == "(") or (
                    nxt is not None and nxt.kind == "ident" and nxt.text in ("by", "without")):
                continue
            text = tok.text + (nxt.text if nxt is not None and nxt.kind == "matchers" else "")
            if text not in found:
                found.append(text)
        elif tok.kind == "matchers":
            prev = toks[k - 1] if k else None
            if prev is None or prev.kind != "ident" or prev.text in _KEYWORDS:
                if tok.text not in found:
                    found.append(tok.text)
    return found
