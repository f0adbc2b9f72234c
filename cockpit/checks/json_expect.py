"""``expect_json``: what an HTTP answer's JSON must hold, judged the same way in the cockpit and the worker.

A path is dot-separated keys, a number indexing an array (``result.items.0.id``). Equality is JSON's:
``true`` is not ``1`` and ``"1"`` is not ``1``; an order comparison needs a number on both sides. The
reason a check fails quotes the value found (shortened, sanitised by the caller like any detail).
"""

from __future__ import annotations

import json
import math
from typing import Any

from cockpit.spec import JsonExpectation

#: operators of ``expect_json`` besides plain equality
ORDER_OPS = ("<", "<=", ">", ">=")
OPS = ("==", "!=", *ORDER_OPS, "exists", "absent")
_MISSING = object()


def json_path(doc: Any, path: str) -> Any:
    """The value at ``path`` in ``doc``, or ``_MISSING``."""
    node = doc
    for part in path.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _show(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "..."


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def _equal(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if _number(a) and _number(b):
        return bool(a == b)
    return type(a) is type(b) and a == b


def json_failure(text: str, expectations: tuple[JsonExpectation, ...]) -> str | None:
    """Why the body ``text`` does not meet ``expectations`` (the first that fails), or None when it does."""
    try:
        doc = json.loads(text)
    except ValueError as exc:
        return f"the body is not JSON ({exc.msg} at line {getattr(exc, 'lineno', '?')})"
    for path, op, want in expectations:
        got = json_path(doc, path)
        if op == "exists":
            if got is _MISSING:
                return f"no {path} in the JSON answer"
            continue
        if op == "absent":
            if got is not _MISSING:
                return f"{path} is present ({_show(got)}), expected absent"
            continue
        if got is _MISSING:
            return f"no {path} in the JSON answer (expected {op} {_show(want)})"
        if op == "==" and not _equal(got, want):
            return f"{path} is {_show(got)}, expected {_show(want)}"
        if op == "!=" and _equal(got, want):
            return f"{path} is {_show(got)}, expected anything else"
        if op in ORDER_OPS:
            if not _number(got):
                return f"{path} is {_show(got)}, not a number (expected {op} {_show(want)})"
            ok = {"<": got < want, "<=": got <= want, ">": got > want, ">=": got >= want}[op]  # type: ignore[operator]
            if not ok:
                return f"{path} is {_show(got)}, expected {op} {_show(want)}"
    return None
