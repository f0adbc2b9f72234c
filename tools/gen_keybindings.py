"""Write docs/keybindings.md from the cockpit's real bindings (``make docs``).

The cockpit is started headless (Textual's ``run_test``, ``live=False``: nothing is
contacted) on a small config that has a runbook, a quick rollback and a configured
action, so every binding that only shows up with those is listed. The dashboard and
global keys come from ``CockpitApp.binding_rows()`` (the same rows the help screen
shows); the other screens' keys from their ``BINDINGS``.

    python tools/gen_keybindings.py           # rewrite docs/keybindings.md
    python tools/gen_keybindings.py --check   # exit 1 when the file is out of date

``tests/test_docs.py`` regenerates it and compares, so the file cannot drift.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from textual.binding import Binding  # noqa: E402
from textual.keys import format_key  # noqa: E402

OUTPUT = ROOT / "docs" / "keybindings.md"
WIDTH = 115  # the docs' line length

#: a config with everything that adds keys: a runbook, a [rollback] and one configured action
CONFIG = """\
[cockpit]
title = "keybindings"

[hosts.local]
transport = "local"

[services.shell]
on = ["all"]
command = "true"

[actions.restart-proxy]
key = "t"
title = "Restart reverse proxy"
on = ["all"]
run = "true"
confirm = true

[[phases]]
id = "one"

  [[phases.steps]]
  id = "step"
  on = ["all"]
  run = "true"

[rollback]
on = ["all"]
run = "true"
"""

#: the configured action of CONFIG: shown as an example, not as a built-in key
EXAMPLE_ACTION_KEY = "t"

#: keys that act through a widget rather than a binding, so no binding lists them (kept by hand here)
WIDGET_KEYS = [
    ("enter", "on a step in the plan: run it (always confirmed first; disabled with `--read-only`)", "dashboard, plan"),
    ("enter", "on an analysis row that ended inconclusive or failed: retry the analysis (asks why, journaled)",
     "dashboard, plan"),
    ("up / down / pageup / pagedown / home / end", "move the cursor in the table or plan that has focus", "dashboard"),
    ("tab / shift+tab", "move focus between the fleet table, the services grid and the plan", "everywhere"),
    ("enter / escape", "in the filter box (`/`): keep the filter / clear it", "filter box"),
]

SCREENS = [
    ("Host detail", "screens.host_detail", "HostDetailScreen",
     "`enter` on a host row opens it; it shows every service with detail, latency and last change, the load "
     "history and the host's last actions."),
    ("Confirmation", "screens.confirm", "ConfirmScreen",
     "Before an action with `confirm = true`, every ad-hoc command, every runbook step and every rollback. "
     "**Enter alone never confirms.** On more than 5 hosts `y` and `n` are disabled: type the number of hosts "
     "and press Enter, or Escape to cancel."),
    ("Output pane", "screens.widgets.output_pane", "OutputPane",
     "The Output tab (`4`, or where an action's output opens) while it has focus; elsewhere `/` filters the fleet. "
     "Search, save and copy read each host's spool file, so they cover every line, not just those on screen; "
     "a rolling step's batches are one view, with a tab per host and a merged tab. `Y` needs "
     "`[cockpit] clipboard = true` (OSC 52). Escape ends a search and goes back to the live output."),
    ("Help", "screens.help", "HelpScreen", "`?` opens it: the dashboard and global keys of the table above."),
    ("Sort the fleet", "screens.sort_picker", "SortPicker",
     "`o` on the fleet table opens it; one more key sorts, the same key again reverses (docs/ui.md, \"Filter and "
     "sort\")."),
    ("Reason / typed confirmation", "screens.reason", "ReasonPrompt",
     "Asks for a reason or note (skip, override, tick, take-over; journaled), for a typed word (`NOT READY`, "
     "an irreversible step's id) or the `--ask-sudo` password. Enter submits a non-empty answer."),
    ("Ad-hoc command", "screens.prompt", "CommandPrompt",
     "`!` opens it: the hosts (names, globs, `tag:X`, `all`) and the command. Enter goes on to the "
     "confirmation, never straight to running."),
]


def key_label(b: Binding) -> str:
    """How a key is written in the docs: as the help screen writes it (`space`, `ctrl+q`, `?`)."""
    if b.key_display:
        return b.key_display
    if b.key in ("escape", "space", "enter", "tab") or "+" in b.key:
        return b.key
    return format_key(b.key)


def _bindings(cls: type) -> list[Binding]:
    out = []
    for b in cls.BINDINGS:
        out.append(b if isinstance(b, Binding) else Binding(*b))
    return out


async def _collect() -> dict[str, object]:
    from cockpit.config import load_config
    from cockpit.engine import Engine
    from screens.app import CockpitApp
    from screens.dashboard_keys import FIRING, PLAN_ACTIONS

    with tempfile.TemporaryDirectory(prefix="cockpit-keys-") as tmp:
        path = Path(tmp) / "cockpit.toml"
        path.write_text(CONFIG)
        app = CockpitApp(Engine(load_config(path)), live=False, operator="docs", clock=lambda: 0.0)
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            rows = app.binding_rows()
            firing: set[str] = set()
            runbook: list[str] = []
            for node in (app.dashboard, app):
                for key, bindings in node._bindings.key_to_bindings.items():
                    for b in bindings:
                        action = b.action.split("(")[0]
                        if action in FIRING:
                            firing.add(b.key_display or key)
                        if node is app.dashboard and action in PLAN_ACTIONS:
                            runbook.append(b.key_display or key)
    return {"rows": rows, "firing": firing, "runbook": runbook}


def collect() -> dict[str, object]:
    return asyncio.run(_collect())


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _code(key: str) -> str:
    return " / ".join(f"`{k.strip()}`" for k in key.split(" / ")) if " / " in key else f"`{key}`"


def render(data: dict[str, object]) -> str:
    import importlib

    rows: list[tuple[str, str, str]] = data["rows"]  # type: ignore[assignment]
    firing: set[str] = data["firing"]  # type: ignore[assignment]
    runbook: list[str] = data["runbook"]  # type: ignore[assignment]
    out = [
        "# Key bindings",
        "",
        "<!-- GENERATED by tools/gen_keybindings.py from the cockpit's real bindings: do not edit by hand. -->",
        "<!-- Regenerate with `make docs`; tests/test_docs.py fails when this file is out of date. -->",
        "",
        "Generated from the bindings themselves (`CockpitApp.binding_rows()`, the rows the `?` help screen shows and",
        "the command palette lists, and each screen's `BINDINGS`), on a config with a runbook, a `[rollback]` and one",
        "configured action. What each key does in detail: [ui.md](ui.md). Keys are case-sensitive: `r` and `R` are",
        "different keys. \"Where\" says where a key acts: `everywhere`, the `dashboard`, or one pane of it (the",
        "`fleet table`, the `plan`, the `output pane`); a key of a pane acts on what is selected there. Every key's",
        "action is also in the command palette (`:` or `ctrl+p`), by its name or its key, greyed with the reason",
        "when it cannot run now.",
        "",
        "## Dashboard and everywhere",
        "",
        "The last column says what `--read-only` does to the key: **disabled** keys are greyed out and refused with a",
        "notice.",
        "",
        *textwrap.wrap(f"Runbook keys (`{' '.join(runbook)}`) exist only when the config has a runbook, `R` only "
                       "with a `[rollback]`; `x` and `X` act only while an action runs. Keys that act on a step or "
                       "a phase need that row selected in the plan.", WIDTH),
        "",
        "| key | does | where | with `--read-only` |",
        "| --- | --- | --- | --- |",
    ]
    example = None
    for key, desc, where in rows:
        if key == EXAMPLE_ACTION_KEY:
            example = (key, desc, where)
            continue
        out.append(f"| `{_cell(key)}` | {_cell(desc)} | {where} | {'**disabled**' if key in firing else 'works'} |")
    if example is not None:
        key, desc, where = example
        out.append(f"| `{_cell(key)}` (example) | a configured action, here \"{_cell(desc)}\": every "
                   f"`[actions.NAME]` adds its own `key` | {where} | {'**disabled**' if key in firing else 'works'} |")
    out += [
        "",
        "Keys that act through a widget (no binding of their own):",
        "",
        "| key | does | where |",
        "| --- | --- | --- |",
    ]
    for key, desc, where in WIDGET_KEYS:
        out.append(f"| {_code(key)} | {desc} | {where} |")
    out += [
        "",
        "A configured action may not use any key above (`cockpit validate` says so); see",
        "[config.md](config.md#actionsname).",
    ]
    for title, module, cls_name, note in SCREENS:
        cls = getattr(importlib.import_module(module), cls_name)
        out += ["", f"## {title} (`{cls_name}`)", "", *textwrap.wrap(note, WIDTH), "", "| key | does |",
                "| --- | --- |"]
        seen: set[tuple[str, str]] = set()
        for b in _bindings(cls):
            label = key_label(b)
            desc = b.tooltip or b.description or b.action  # as binding_rows(): the tooltip is the long form
            if (label, desc) in seen:
                continue
            seen.add((label, desc))
            out.append(f"| `{_cell(label)}` | {_cell(desc)} |")
    out.append("")
    return "\n".join(out)


def generate() -> str:
    return render(collect())


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--check", action="store_true", help="exit 1 when docs/keybindings.md is out of date")
    p.add_argument("-o", "--output", type=Path, default=OUTPUT)
    args = p.parse_args(argv)
    text = generate()
    if args.check:
        current = args.output.read_text() if args.output.exists() else ""
        if current != text:
            print(f"{args.output} is out of date: run make docs", file=sys.stderr)
            return 1
        return 0
    args.output.write_text(text)
    print(f"wrote {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
