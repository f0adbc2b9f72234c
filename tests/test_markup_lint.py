"""Issue 14, item 3: no text from outside reaches Textual's markup parser.

In Textual 8.2.8 ``notify()``, ``Static(str)``, ``Label(str)``, a plain ``str`` cell in a DataTable,
``border_title``, tooltips and palette hits parse markup: a host name or title like ``[link=...]``
renders as markup or raises ``MarkupError``. Every such call in ``screens/`` must be fed a literal,
a ``rich.text.Text`` (or a helper of ``screens.render`` that returns one), or ``markup=False``. A line
may carry ``# text-safe: WHY`` when the value is known to be ``Text`` already.
"""

from __future__ import annotations

import ast
from pathlib import Path

SCREENS = Path(__file__).resolve().parents[1] / "screens"
CALLS = {"notify", "Static", "Label", "add_row", "add_rows", "update_cell", "update", "write", "Hit", "DiscoveryHit",
         "SystemCommand"}
ATTRS = {"border_title", "border_subtitle", "tooltip"}
#: calls that return rich Text (or build it from stripped text)
SAFE_CALLS = {"Text", "Text.assemble", "Text.from_ansi", "render.plain", "render.status", "render.clock_time", "render.literal",
              "run_line", "plain", "status", "literal", "Content"}
#: positional arguments that are not text: update_cell(row_key, column_key, VALUE), update(dict) on sets...
TEXT_ARGS = {"update_cell": slice(2, 3), "Hit": slice(1, 2), "DiscoveryHit": slice(0, 1),
             "SystemCommand": slice(0, 2)}


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return ""


def _safe(node: ast.expr) -> bool:
    if isinstance(node, ast.Constant):
        return True
    if isinstance(node, ast.JoinedStr):
        return all(isinstance(v, ast.Constant) for v in node.values)
    if isinstance(node, ast.IfExp):
        return _safe(node.body) and _safe(node.orelse)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):  # Text + Text
        return _safe(node.left) and _safe(node.right) and not (
            isinstance(node.left, ast.JoinedStr) or isinstance(node.right, ast.JoinedStr))
    if isinstance(node, ast.Call):
        name = _name(node.func)
        return name in SAFE_CALLS or name.split(".")[-1] in SAFE_CALLS or name.endswith(".append_text") \
            or name.endswith(".append")
    return False


def violations(source: str, filename: str) -> list[str]:
    tree = ast.parse(source)
    lines = source.splitlines()
    found = []

    def flag(node: ast.AST, what: str) -> None:
        line = lines[node.lineno - 1]  # type: ignore[attr-defined]
        if "# text-safe:" not in line:
            found.append(f"{filename}:{node.lineno}: {what}: {line.strip()}")  # type: ignore[attr-defined]

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _name(node.func).split(".")[-1]
            if name not in CALLS:
                continue
            if any(k.arg == "markup" and isinstance(k.value, ast.Constant) and k.value.value is False
                   for k in node.keywords):
                continue
            if name == "update" and not isinstance(node.func, ast.Attribute):
                continue
            args = node.args[TEXT_ARGS.get(name, slice(None))]
            kwargs = [k.value for k in node.keywords if k.arg in ("renderable", "content", "message", "title", "help",
                                                                  "tooltip", "label")]
            for arg in [*args, *kwargs]:
                if isinstance(arg, ast.Starred) or not _safe(arg):
                    flag(node, f"{name}() fed text that may hold markup")
                    break
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Attribute) and t.attr in ATTRS and node.value is not None \
                        and not _safe(node.value):
                    flag(node, f"{t.attr} = text that may hold markup")
        elif isinstance(node, ast.keyword) and node.arg in ATTRS and not _safe(node.value):
            flag(node.value, f"{node.arg}= text that may hold markup")
    return found


def test_no_untrusted_text_reaches_markup_in_screens() -> None:
    found = [v for path in sorted(SCREENS.rglob("*.py"))
             for v in violations(path.read_text(), str(path.relative_to(SCREENS.parent)))]
    assert found == [], "\n" + "\n".join(found)


def test_the_lint_catches_what_it_should() -> None:
    bad = 'self.notify(f"{run.title} done")\nyield Static(name)\ntable.add_row(host, Text("x"))\n' \
          'self.border_title = title\nBinding("k", "a", "d", tooltip=title)\nlog.write(line)\n'
    assert len(violations(bad, "x.py")) == 6
    good = 'self.notify(f"{run.title} done", markup=False)\nyield Static(Text(name))\n' \
           'table.add_row(render.plain(host), Text("x"))\nself.border_title = "Plan"\nyield Label("Keys")\n' \
           'log.write(Text(line))\nx.update(cells)  # text-safe: cells are Text\n'
    assert violations(good, "x.py") == []
