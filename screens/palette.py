"""The command palette's own commands: every key's action by its name and its key, and the runbook's.

Textual's palette machinery (a :class:`~textual.command.Provider` in ``CockpitApp.COMMANDS``) with one list
behind it, :func:`key_commands`, which the ``?`` help and docs/keybindings.md read too: a key is named, placed
("Where") and explained once. An action that cannot run now is listed greyed, with the reason (read-only,
observer, nothing running, no step selected, a locked phase); choosing it says the reason and runs nothing.
Text from the config (action and step titles) is shown as plain text, never parsed as markup.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from textual.binding import Binding
from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from screens import render

if TYPE_CHECKING:
    from textual.dom import DOMNode
    from textual.screen import Screen

#: Textual's bindings that mean nothing to an operator (the palette's own keys get a row in the help)
UNLISTED_ACTIONS = frozenset({"app.focus_next", "app.focus_previous", "screen.copy_text", "command_palette",
                              "app.command_palette"})
GREYED = "dim"
#: what the help and the palette call a screen's keys' place (the dashboard's panes have their own, WHERE)
PLACES = {"HostDetailScreen": "host detail", "ConfirmScreen": "confirmation", "SortPicker": "sort picker"}
#: a query that is exactly a command's key puts it first (fuzzy scores of names stay well below this)
KEY_SCORE = 1000.0
#: a hit on a command's longer line counts for less than one on its name
DESCRIPTION_WEIGHT = 0.5


@dataclass(frozen=True)
class KeyCommand:
    """One thing an operator can do: its name, its key ("" for palette-only), where it acts, and why not now."""

    name: str
    key: str
    where: str
    description: str  # the longer line: the help's "Does" column and the palette's second line
    reason: str = ""  # "": runs now; else why it cannot, said in the palette and when chosen
    hidden: bool = False  # means nothing in this cockpit (no runbook…): found by search, not listed up front
    run: Callable[[], Awaitable[Any] | Any] | None = None
    palette_name: str = ""  # when the palette shows another name (configured actions: "Action: TITLE")

    @property
    def title(self) -> str:
        return self.palette_name or self.name


def _label(b: Binding, key: str) -> str:
    return b.key_display or key


def _binding_commands(app: Any, node: DOMNode, where_default: str) -> Iterable[KeyCommand]:
    """The bindings of ``node`` as commands (in binding order), each with its availability on ``node``."""
    titles = {f"run_configured('{a.name}')": a.title for a in app.engine.config.actions}
    # a widget's own keys only (the fleet table's `o`), not the cursor keys it inherits from DataTable
    own = None if node is app or node is node.screen else {
        (b.key, b.action) for b in type(node).__dict__.get("BINDINGS", []) if isinstance(b, Binding)}
    for key, bindings in node._bindings.key_to_bindings.items():
        for b in bindings:
            if b.system or b.action in UNLISTED_ACTIONS or (own is not None and (b.key, b.action) not in own):
                continue
            action = b.action
            on_app = action.startswith("app.") or node is app
            name_of = action.removeprefix("app.").split("(")[0]
            target: DOMNode = app if on_app else node
            # an app action bound on a screen (q, ? on the dashboard; Escape's pop_screen) is global only when
            # the App binds that key too
            global_key = node is app or (on_app and key in app._bindings.key_to_bindings)
            where = "everywhere" if global_key else getattr(node, "WHERE", {}).get(name_of, where_default)
            if on_app:
                reason, hidden = "", False
            else:
                check = node.check_action(name_of, ())
                hidden = check is False and name_of not in getattr(node, "NOT_NOW", ())
                why = getattr(node, "unavailable", None)
                reason = why(name_of) if why is not None else ("" if check else "not available here")
            bare = action.removeprefix("app.")
            configured = titles.get(action)
            name = render.clean(configured) if configured else (b.description or name_of)
            description = render.clean(configured) if configured else (b.tooltip or b.description or name_of)
            yield KeyCommand(name=name, key=_label(b, key), where=where, description=description, reason=reason,
                             hidden=hidden, run=lambda a=bare, t=target: app.run_action(a, t),
                             palette_name=f"Action: {render.clean(configured)}" if configured else "")


def _runbook_commands(app: Any) -> Iterable[KeyCommand]:
    """Palette-only: each step of the runbook (Enter on it in the plan), the named rollbacks, closing the cutover."""
    spec = app.engine.config.runbook
    dash = app.dashboard
    ok, firing = dash.availability("run_step")  # read-only, observer; not "select a step": this names its step
    firing = "" if ok is True else firing
    for phase in spec.phases:
        locked = app.runbook.phase_state(phase) == "locked"
        for step in phase.steps:
            ref = f"{phase.id}.{step.id}"
            reason = firing or ("manual: K ticks it done, F marks it failed" if step.run is None else "") or (
                f"phase {phase.id} is locked: an earlier phase is not done (its gate has not held, or a step is "
                "open)" if locked else "")
            yield KeyCommand(name=f"Run step {ref}: {render.clean(step.title)}", key="", where="plan",
                             description=f"run {ref} (confirmed first: hosts, command, verify, rollback readiness)",
                             reason=reason, run=lambda r=ref: app.action_run_step(r))
    fire = dash.unavailable("quick_rollback") if spec.rollback else ""
    for rb in spec.rollbacks:
        yield KeyCommand(name=f"Rollback: {render.clean(rb.title)}", key="", where="everywhere",
                         description=f"[rollback.{rb.name}] within a {rb.budget:g}s budget (confirmed first)",
                         reason=fire, run=lambda n=rb.name: app.action_quick_rollback(n))
    if spec.rollbacks or spec.phases:
        yield KeyCommand(name="Close cutover as rolled back", key="", where="everywhere",
                         description="end the cutover as rolled back, with a reason (journaled)",
                         reason=dash.firing_reason(), run=app.action_close_rolled_back)


def key_commands(app: Any, screen: Screen[Any] | None = None, *, palette: bool = True) -> list[KeyCommand]:
    """Every command for ``screen`` (the dashboard by default): its keys, the fleet table's, the App's, and
    (``palette``) the runbook's palette-only ones. A key bound on the screen and on the App is listed once, as
    the screen's; the palette then folds the keys of one command into one row (``q / ctrl+q``)."""
    screen = screen if screen is not None else app.dashboard
    place = "dashboard" if screen is app.dashboard else PLACES.get(type(screen).__name__, "this screen")
    nodes: list[tuple[DOMNode, str]] = [(screen, place)]
    if screen is app.dashboard:
        nodes.append((screen.query_one("#fleet"), "fleet table"))
        nodes.append((screen.query_one("#output"), "output pane"))
    nodes.append((app, "everywhere"))
    out: list[KeyCommand] = []
    seen: set[tuple[str, str]] = set()
    for node, where in nodes:
        for c in _binding_commands(app, node, where):
            if (c.key, c.name) in seen or (c.where == "everywhere" and any(o.key == c.key for o in out)):
                continue
            seen.add((c.key, c.name))
            out.append(c)
    if palette and screen is app.dashboard:
        out += _runbook_commands(app)
    return out


def _prompt(c: KeyCommand, name: Content, keys: tuple[str, ...]) -> Content:
    prompt = name
    if keys:
        prompt = prompt + Content("  ") + Content.styled(" / ".join(keys), "bold")
    return prompt.stylize(GREYED) if c.reason else prompt


def _help(c: KeyCommand) -> str:
    text = f"unavailable: {c.reason}" if c.reason else f"{c.description} · {c.where}"
    return render.literal(text)  # the palette parses help as markup


class KeyCommands(Provider):
    """Every action by name or key (``S``, ``ctrl+q``); greyed with the reason when it cannot run now."""

    def _commands(self) -> list[tuple[KeyCommand, tuple[str, ...]]]:
        """One row per command name, with every key that does it (``q`` and ``ctrl+q`` are one Quit)."""
        rows: dict[str, tuple[KeyCommand, tuple[str, ...]]] = {}
        for c in key_commands(self.app, self.screen):
            first, keys = rows.get(c.title, (c, ()))
            rows[c.title] = (first, keys + ((c.key,) if c.key else ()))
        return list(rows.values())

    def _runner(self, c: KeyCommand) -> Callable[[], Any]:
        app = self.app

        async def run() -> None:
            if c.reason:
                app.notify(f"{c.title}: {c.reason}", severity="warning", timeout=6, markup=False)
                return
            if c.run is not None:
                result = c.run()
                if isinstance(result, Awaitable):
                    await result

        return run

    async def discover(self) -> Hits:
        for c, keys in self._commands():
            if not c.hidden:
                yield DiscoveryHit(_prompt(c, Content(c.title), keys), self._runner(c),  # text-safe: Content, literal
                                   text=c.title, help=_help(c))

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        typed = query.strip()
        for c, keys in self._commands():
            if any(typed == k or typed.lower() == f"key {k}".lower() for k in keys):
                score = KEY_SCORE  # by its key: case matters (r and R are different keys)
            else:  # the name first; the longer line too ("command" finds "Run cmd"), ranked below names
                score = max(matcher.match(c.title), matcher.match(c.description) * DESCRIPTION_WEIGHT)
            if score <= 0:
                continue
            name = Content(c.title)
            found, offsets = matcher.fuzzy_search.match(matcher.query, c.title)
            if found:
                for i in offsets:
                    name = name.stylize(matcher.match_style, i, i + 1)
            yield Hit(score, _prompt(c, name, keys), self._runner(c), text=c.title,  # text-safe: Content, literal
                      help=_help(c))


def help_rows(app: Any) -> list[tuple[str, str, str]]:
    """(key, what it does, where) for the ``?`` help and docs/keybindings.md: the same list as the palette's."""
    return [(c.key, c.description, c.where) for c in key_commands(app, palette=False) if c.key and not c.hidden]

