"""The layout holds: faces, contracts, the error tree, the architecture page, bench/ and tools/.

- each area's face (``cockpit/AREA/__init__.py``) defines nothing of its own, exports exactly its public
  names in ``__all__`` and never a name that is also one of its parts (httpx's ``test_exported_members``);
- ``lint-imports`` keeps every contract on the real tree, and breaks each one on a copy with a violation
  injected (a contract that cannot fail proves nothing);
- importing the engine (and ``cockpit.cli``) loads no Textual, checked at run time in a subprocess;
- every ``CockpitError`` subclass is drawn in the tree in ``cockpit/errors.py``, under its real parent;
- docs/architecture.md names only folders that exist and lists exactly the contracts in pyproject.toml;
- every bench/ and tools/ module imports, and imports engine areas only through their faces.
"""

from __future__ import annotations

import __future__
import ast
import importlib
import inspect
import os
import pkgutil
import re
import shutil
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import cockpit
from cockpit import errors

ROOT = Path(__file__).resolve().parent.parent
AREAS = sorted(p.parent.name for p in (ROOT / "cockpit").glob("*/__init__.py"))
FRONT_ENDS = {"cli", "demo"}
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def test_the_areas_are_the_documented_ones() -> None:
    assert AREAS == sorted(["config", "conditions", "transports", "checks", "engine", "journal", "runbook",
                            "report", "sudo", "detach", "cli", "demo", "metrics", "notify"])


def test_no_area_part_module_left_at_the_top() -> None:
    """A second file for an area means a folder, not ``area_part.py`` beside it."""
    stale = [p.name for p in (ROOT / "cockpit").glob("*.py")
             if any(p.stem == a or p.stem.startswith(a + "_") for a in AREAS)]
    assert stale == []


@pytest.mark.parametrize("area", AREAS)
def test_face_defines_nothing_and_exports_its_public_names(area: str) -> None:
    path = ROOT / "cockpit" / area / "__init__.py"
    tree = ast.parse(path.read_text())
    for i, node in enumerate(tree.body):
        if i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue  # the docstring
        if isinstance(node, ast.ImportFrom):
            assert node.module == "__future__" or node.module == "cockpit.errors" or \
                (node.module or "").startswith(f"cockpit.{area}."), f"{path}: imports {node.module}"
            continue
        assert isinstance(node, ast.Assign) and [t.id for t in node.targets if isinstance(t, ast.Name)] == ["__all__"], \
            f"{path}:{node.lineno}: a face only re-exports ({type(node).__name__})"
    face = importlib.import_module(f"cockpit.{area}")
    parts = {m.name for m in pkgutil.iter_modules(face.__path__)}
    public = {name for name, value in vars(face).items()
              if not name.startswith("_") and not isinstance(value, (types.ModuleType, __future__._Feature))}
    assert sorted(face.__all__) == sorted(public)
    assert len(set(face.__all__)) == len(face.__all__)
    assert not parts & set(face.__all__), f"cockpit.{area} exports a name that is also a part"
    assert parts, f"cockpit.{area} has no parts"


def test_lint_imports_keeps_every_contract() -> None:
    res = subprocess.run([str(LINT_IMPORTS)], cwd=ROOT, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert " 0 broken" in res.stdout


# (file to append to, line appended, contract names that must break)
VIOLATIONS = [
    ("cockpit/engine/load.py", "from cockpit.session import Session", ["Layers"]),
    ("cockpit/report/base.py", "from cockpit.config import load_config", ["Layers"]),
    ("cockpit/journal/read.py", "import textual", ["The engine never imports"]),
    ("cockpit/checks/remote.py", "from cockpit.cli import main", ["The engine never imports", "Layers"]),
    ("cockpit/cli/fleet.py", "import screens.app", ["Only the TUI command, the browser command and the demo import"]),
    ("cockpit/cli/browser.py", "import textual_serve", ["No module under cockpit/ imports Textual or textual-serve"]),
    ("cockpit/runbook/views.py", "from cockpit.runbook.phases import Runbook", ["No import cycle"]),
    ("cockpit/session.py", "from cockpit.journal.records import Journal as _J",
     ["cockpit.journal: its parts are imported only through its face"]),
    ("cockpit/model.py", "from cockpit.engine import Engine as _E", ["The shared top-level modules import no area"]),
]


@pytest.mark.slow
def test_each_contract_breaks_on_a_violation(tmp_path: Path) -> None:
    """One copy of the tree with every violation injected; each named contract must report BROKEN."""
    for name in ("cockpit", "screens"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    for rel, line, _ in VIOLATIONS:
        with open(tmp_path / rel, "a") as f:
            f.write(f"\n{line}\n")
    res = subprocess.run([str(LINT_IMPORTS)], cwd=tmp_path, capture_output=True, text=True, timeout=120,
                         env={**os.environ, "PYTHONPATH": str(tmp_path), "COLUMNS": "400"})
    assert res.returncode != 0
    broken = {line.rsplit(" ", 1)[0] for line in res.stdout.splitlines() if line.endswith(" BROKEN")}
    for rel, line, contracts in VIOLATIONS:
        for c in contracts:
            assert any(b.startswith(c) for b in broken), f"{line!r} in {rel} did not break {c!r}:\n{res.stdout}"


def test_engine_never_imports_textual() -> None:
    """Every engine module, imported in a fresh interpreter, loads no Textual; nor does the CLI's face."""
    code = (
        "import sys, pkgutil, importlib, cockpit\n"
        "n = 0\n"
        "for m in pkgutil.walk_packages(cockpit.__path__, 'cockpit.'):\n"
        "    if m.name == 'cockpit.__main__' or m.name.split('.')[1] in ('cli', 'demo'): continue\n"
        "    importlib.import_module(m.name); n += 1\n"
        "bad = [m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'screens'))]\n"
        "import cockpit.cli\n"
        "late = [m for m in sys.modules if m == 'textual' or m.startswith(('textual.', 'screens'))]\n"
        "print(n, bad, late)\n"
        "sys.exit(1 if bad or late else 0)\n"
    )
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60,
                         env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert res.returncode == 0, res.stdout + res.stderr
    assert int(res.stdout.split()[0]) > 40  # it really imported the engine


def _tree() -> dict[str, str | None]:
    """{class name: parent name} as drawn in errors.py's docstring."""
    doc = errors.__doc__ or ""
    drawn: dict[str, str | None] = {}
    stack: list[tuple[int, str]] = []
    for line in doc.splitlines():
        m = re.match(r"^(\s*)(?:([│ ]*)[├└]── )?(\w+Error|\w+Failed|\w+Timeout|\w+Lost|\w+Unavailable)\s", line + " ")
        if not m or (m.group(3) != "CockpitError" and "──" not in line):
            continue
        depth = 0 if "──" not in line else line.index("──") // 4
        while stack and stack[-1][0] >= depth:
            stack.pop()
        drawn[m.group(3)] = stack[-1][1] if stack else None
        stack.append((depth, m.group(3)))
    return drawn


def _all_subclasses(cls: type) -> list[type]:
    out = []
    for sub in cls.__subclasses__():
        out += [sub, *_all_subclasses(sub)]
    return out


def test_error_tree_is_complete() -> None:
    for m in pkgutil.walk_packages(cockpit.__path__, "cockpit."):
        if m.name != "cockpit.__main__" and m.name.split(".")[1] not in ("cli", "demo"):
            importlib.import_module(m.name)
    importlib.import_module("cockpit.cli")
    drawn = _tree()
    assert drawn["CockpitError"] is None and len(drawn) > 10
    real = {c.__name__: c for c in _all_subclasses(errors.CockpitError) if c.__module__.startswith("cockpit")}
    missing = sorted(set(real) - set(drawn))
    assert missing == [], f"CockpitError subclasses missing from the tree in cockpit/errors.py: {missing}"
    for name, parent in drawn.items():
        if name == "CockpitError":
            continue
        assert name in real, f"the tree draws {name}, which does not exist"
        assert real[name].__bases__[0].__name__ == parent, f"{name} is drawn under {parent}"
    elsewhere = sorted(n for n, c in real.items() if c.__module__ != "cockpit.errors")
    assert elsewhere == [], f"defined outside cockpit/errors.py: {elsewhere}"


def _contract_ids() -> list[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return [c["id"] for c in data["tool"]["importlinter"]["contracts"]]


def test_architecture_page_is_true() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text()
    folders = set(re.findall(r"`((?:cockpit|screens)/[\w/]*)/`", text))
    later: set[str] = set()  # places named for later areas (none left)
    assert folders - later, "the page names no folder"
    for folder in sorted(folders - later):
        assert (ROOT / folder).is_dir(), f"docs/architecture.md names {folder}/, which does not exist"
    for area in AREAS:
        assert f"`cockpit/{area}/`" in text, f"docs/architecture.md does not describe cockpit/{area}/"
    section = text.split("## Contracts", 1)[1].split("\n## ", 1)[0]
    documented = re.findall(r"^\| `([\w-]+)` \|", section, re.M)
    ids = _contract_ids()
    face_ids = sorted(i for i in ids if i.startswith("face-"))
    assert sorted(face_ids) == sorted(f"face-{a}" for a in AREAS)
    for fid in face_ids:
        assert f"`{fid}`" in section, f"docs/architecture.md does not list {fid}"
    assert sorted(documented) == sorted([i for i in ids if not i.startswith("face-")] + ["face-AREA"])


BENCH_TOOLS = sorted([*(ROOT / "bench").glob("*.py"), *(ROOT / "tools").glob("*.py")])


@pytest.mark.parametrize("path", BENCH_TOOLS, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bench_and_tools_import_only_faces(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            parts = node.module.split(".")
            assert not (parts[0] == "cockpit" and len(parts) > 2 and parts[1] in AREAS), \
                f"{path.name}:{node.lineno}: import {node.module} through its face, cockpit.{parts[1]}"
            assert not (node.module in {f"cockpit.{a}" for a in AREAS} and any(
                (ROOT / "cockpit" / parts[1] / f"{a.name}.py").exists() for a in node.names)), \
                f"{path.name}:{node.lineno}: imports a part of cockpit.{parts[1]} as a module"


def test_every_bench_and_tools_module_imports() -> None:
    """In one fresh interpreter, as their own scripts set up sys.path; a move can never break them silently."""
    code = (
        "import importlib.util, sys\n"
        "for path in sys.argv[1:]:\n"
        "    d = path.rsplit('/', 1)[0]\n"
        "    if d not in sys.path: sys.path.insert(0, d)\n"
        "    spec = importlib.util.spec_from_file_location('_imp_' + path.replace('/', '_')[:-3], path)\n"
        "    mod = importlib.util.module_from_spec(spec); sys.modules[spec.name] = mod\n"
        "    spec.loader.exec_module(mod)\n"
        "print('imported', len(sys.argv) - 1)\n"
    )
    res = subprocess.run([sys.executable, "-c", code, *map(str, BENCH_TOOLS)], capture_output=True, text=True,
                         cwd=ROOT, timeout=120, env={**os.environ, "PYTHONPATH": f"{ROOT}:{ROOT / 'tests'}"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert res.stdout.strip() == f"imported {len(BENCH_TOOLS)}"
    assert len(BENCH_TOOLS) >= 15


def test_a_face_is_what_callers_see() -> None:
    """The entry point and a few names callers use resolve through the faces."""
    from cockpit.cli import main
    from cockpit.config import load_config
    from cockpit.journal import Journal

    assert inspect.getmodule(main).__name__ == "cockpit.cli.dispatch"
    assert load_config.__module__ == "cockpit.config.loader"
    assert Journal.__module__ == "cockpit.journal.records"
