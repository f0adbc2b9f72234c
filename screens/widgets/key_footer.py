"""The footer: keys by priority, so rollback and the keys of the moment never fall off the edge.

Textual's Footer lays keys out in binding order and cuts the last ones (``f Inject fa…`` at 200
columns; ``R Rollback`` gone at 80 while an action ran). Here each key has a priority
(:func:`priority`): the rollback key, ``?`` and the screen's context keys always show; the others
go, lowest priority first, and the footer then ends with ``+N more on ?`` (the help lists every key).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from rich.text import Text
from textual.screen import Screen
from textual.widget import Widget

#: always on the footer: the way back from a bad change, and the way to every other key
ALWAYS = frozenset({"quick_rollback", "app.help", "help"})
#: keys of the current context (shown only when they do something): they outrank the rest
CONTEXT = frozenset({"cancel", "cancel_all", "app.pop_screen", "continue_step", "take_over", "other_columns"})
#: configured actions and the palette go first when room runs out (help and the palette list them)
LOW = ("run_configured", "command_palette", "app.command_palette", "toggle_wrap", "save", "copy")  # (the output pane's)
KEY_STYLE = "bold reverse"


@dataclass(frozen=True)
class FooterKey:
    key: str  # as shown: "R", "?", "^p"
    label: str
    enabled: bool
    rank: int  # 0 never drops; higher drops first


def priority(action: str) -> int:
    """0: never dropped; 1: context; 2: the screen's own keys; 3: configured actions and the palette."""
    name = action.split("(", 1)[0]
    if name in ALWAYS:
        return 0
    if name in CONTEXT:
        return 1
    if name.startswith(LOW):
        return 3
    return 2


def _width(k: FooterKey) -> int:
    return len(k.key) + 2 + len(k.label) + 1  # " R " + "Rollback" + " "


def fit(keys: list[FooterKey], width: int) -> tuple[list[FooterKey], int]:
    """The keys that fit in ``width`` cells, in their order, dropping the lowest ranks (last first) first."""
    shown = list(keys)
    more = f"+{len(keys)} more on ?"

    def total(ks: list[FooterKey]) -> int:
        dropped = len(keys) - len(ks)
        return sum(_width(k) for k in ks) + (len(more) + 1 if dropped else 0)

    while total(shown) > width:
        droppable = [k for k in shown if k.rank > 0]
        if not droppable:
            break
        worst = max(droppable, key=lambda k: (k.rank, shown.index(k)))
        shown.remove(worst)
    return shown, len(keys) - len(shown)


def render_keys(keys: list[FooterKey], width: int) -> Text:
    shown, dropped = fit(keys, width)
    t = Text(no_wrap=True, overflow="ellipsis")
    for k in shown:
        t.append(f" {k.key} ", style=KEY_STYLE if k.enabled else "dim reverse")
        t.append(f"{k.label} ", style="" if k.enabled else "dim strike")
    if dropped:
        t.append(f"+{dropped} more on ?", style="italic")
    return t


class KeyFooter(Widget):
    """One line of keys; recomputed when the screen's bindings change or the terminal is resized."""

    DEFAULT_CSS = """
    KeyFooter { dock: bottom; height: 1; background: $panel; color: $text; }
    """

    def on_mount(self) -> None:
        self.screen.bindings_updated_signal.subscribe(self, self._changed)

    def on_unmount(self) -> None:
        self.screen.bindings_updated_signal.unsubscribe(self)

    def _changed(self, screen: Screen[object]) -> None:
        self.refresh()

    def keys(self) -> list[FooterKey]:
        """The screen's active, shown bindings (one per action), with their priority."""
        out: list[FooterKey] = []
        seen: set[str] = set()
        active: Iterable[tuple[object, ...]] = self.screen.active_bindings.values()
        for _node, binding, enabled, _tooltip in active:  # type: ignore[misc]
            if not binding.show or binding.action in seen:  # type: ignore[attr-defined]
                continue
            seen.add(binding.action)  # type: ignore[attr-defined]
            out.append(FooterKey(self.app.get_key_display(binding), binding.description,  # type: ignore[arg-type, attr-defined]
                                 bool(enabled), priority(binding.action)))  # type: ignore[attr-defined]
        if self.app.ENABLE_COMMAND_PALETTE and self.app.COMMAND_PALETTE_BINDING in self.screen.active_bindings:
            out.append(FooterKey("^p", "palette", True, 3))
        return out

    def render(self) -> Text:
        return render_keys(self.keys(), self.size.width)
