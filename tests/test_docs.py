"""The docs cannot drift from the code: generated files are current, every key and command is documented,
every link resolves.

- docs/keybindings.md is what tools/gen_keybindings.py writes now (regenerate with ``make docs``);
- every config key the loader accepts is in docs/config.md, written as `key`;
- every ``cockpit`` subcommand (and every option of the cockpit screen) is in docs/headless.md or docs/ui.md;
- every relative link in README.md and docs/*.md points at a file that exists (and a heading that exists).
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
from pathlib import Path

import pytest

from cockpit.config import loader as config
from cockpit.config import actions as config_actions
from cockpit.config import hosts as config_hosts
from cockpit.config import integrations as config_integrations
from cockpit.config import runbook as config_runbook
from cockpit.config import services as config_services

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"


def _tool(name: str):  # type: ignore[no-untyped-def]
    """Import tools/NAME.py (tools/ is not a package)."""
    spec = importlib.util.spec_from_file_location(f"_docs_{name}", ROOT / "tools" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def keybindings():  # type: ignore[no-untyped-def]
    gen = _tool("gen_keybindings")
    data = gen.collect()
    return gen, data


# -- generated key reference -------------------------------------------------------------------

def test_keybindings_md_is_current(keybindings) -> None:  # type: ignore[no-untyped-def]
    gen, data = keybindings
    committed = (DOCS / "keybindings.md").read_text(encoding="utf-8")
    assert gen.render(data) == committed, "docs/keybindings.md is out of date: run make docs and commit it"


def test_every_bound_key_is_in_keybindings_md(keybindings) -> None:  # type: ignore[no-untyped-def]
    _gen, data = keybindings
    text = (DOCS / "keybindings.md").read_text(encoding="utf-8")
    rows = data["rows"]
    assert rows, "binding_rows() returned nothing"
    missing = [key for key, _desc, _where in rows if f"`{key}`" not in text]
    assert not missing, f"keys bound in the cockpit but missing from docs/keybindings.md: {missing}"


def test_keybindings_md_says_it_is_generated() -> None:
    head = (DOCS / "keybindings.md").read_text(encoding="utf-8")[:600]
    assert "GENERATED" in head and "make docs" in head


# -- config reference --------------------------------------------------------------------------

KEY_LISTS = {
    "top level": config.TOP_KEYS,
    "[cockpit]": config.COCKPIT_KEYS,
    "[ssh]": config.SSH_KEYS,
    "[inventory]": config_hosts.INVENTORY_KEYS,
    "[hosts.NAME]": config_hosts.HOST_KEYS,
    "[services.NAME]": config_services.SERVICE_KEYS,
    "check kinds": tuple(config_services.KIND_OPTIONS),
    "[actions.NAME]": config_actions.ACTION_KEYS,
    "[runbook]": config_runbook.RUNBOOK_KEYS,
    "[[phases]]": config_runbook.PHASE_KEYS,
    "[[phases.steps]]": config_runbook.STEP_KEYS,
    "[rollback]": config_runbook.ROLLBACK_KEYS,
    "[[notify]]": config_integrations.NOTIFY_KEYS,
    "[alertmanager]": config_integrations.ALERTMANAGER_KEYS,
    "[grafana]": config_integrations.GRAFANA_KEYS,
}


@pytest.mark.parametrize("where", list(KEY_LISTS))
def test_every_config_key_is_in_config_md(where: str) -> None:
    text = (DOCS / "config.md").read_text(encoding="utf-8")

    def documented(key: str) -> bool:
        if f"`{key}`" in text:
            return True
        # tables are written as headings: `[cockpit]`, `[hosts.NAME]`, `[[phases]]`, `[[phases.steps]]`
        return where == "top level" and re.search(rf"`\[\[?{re.escape(key)}[\].]", text) is not None

    missing = [k for k in KEY_LISTS[where] if not documented(k)]
    assert not missing, f"{where} keys the loader accepts but docs/config.md does not mention as `key`: {missing}"


# -- command line ------------------------------------------------------------------------------

def _subcommands(parser: argparse.ArgumentParser, prefix: str = "cockpit") -> list[str]:
    out: list[str] = []
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out.append(f"{prefix} {name}")
                out += _subcommands(sub, f"{prefix} {name}")
    return out


def _parser() -> argparse.ArgumentParser:
    from cockpit.cli.dispatch import _parser as parser

    return parser()


def test_every_subcommand_is_documented() -> None:
    text = "\n".join((DOCS / name).read_text(encoding="utf-8") for name in ("headless.md", "ui.md"))
    commands = _subcommands(_parser())
    assert "cockpit validate" in commands and "cockpit step run" in commands
    missing = [c for c in commands if c not in text]
    assert not missing, f"subcommands missing from docs/headless.md and docs/ui.md: {missing}"


def test_every_cockpit_screen_option_is_in_ui_md() -> None:
    text = (DOCS / "ui.md").read_text(encoding="utf-8")
    run = next(a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)).choices["run"]
    options = [s for a in run._actions for s in a.option_strings
               if s.startswith("--") and s not in ("--help", "--config")]
    assert "--read-only" in options
    missing = [o for o in options if f"`{o}" not in text]
    assert not missing, f"options of the cockpit screen missing from docs/ui.md: {missing}"


# -- links -------------------------------------------------------------------------------------

LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def _slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to dashes."""
    text = re.sub(r"[^\w\- ]", "", heading.strip().lower())
    return text.replace(" ", "-")


def _anchors(path: Path) -> set[str]:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    return {_slug(m.group(1)) for m in re.finditer(r"^#{1,6}\s+(.*)$", text, re.M)}


def _markdown_files() -> list[Path]:
    return [ROOT / "README.md", *sorted(DOCS.glob("*.md"))]


@pytest.mark.parametrize("path", _markdown_files(), ids=lambda p: str(p.relative_to(ROOT)))
def test_links_resolve(path: Path) -> None:
    text = re.sub(r"```.*?```", "", path.read_text(encoding="utf-8"), flags=re.S)
    broken = []
    for m in LINK.finditer(text):
        target = m.group(1) or m.group(2)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target):  # http:, https:, mailto:
            continue
        file_part, _, anchor = target.partition("#")
        dest = (path.parent / file_part).resolve() if file_part else path
        if not dest.exists():
            broken.append(f"{target} (no such file)")
        elif anchor and dest.suffix == ".md" and anchor not in _anchors(dest):
            broken.append(f"{target} (no heading #{anchor} in {dest.name})")
    assert not broken, f"broken links in {path.relative_to(ROOT)}: {broken}"


def test_screenshots_exist_and_are_small() -> None:
    shots = _tool("screenshots")
    files = [DOCS / "screenshots" / f"{s.name}.svg" for s in shots.SHOTS]
    missing = [f.name for f in files if not f.exists()]
    assert not missing, f"missing screenshots (run make screenshots): {missing}"
    total = sum(f.stat().st_size for f in files)
    assert total < 1_000_000, f"docs/screenshots/*.svg are {total} bytes: keep them under ~1 MB"
