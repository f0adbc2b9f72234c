"""When each dashboard key can act, and where: one answer for the footer, the `?` help and the palette.

A mixin of :class:`screens.dashboard.DashboardScreen`: ``check_action`` (Textual greys a key out or hides it),
and the reason the palette shows beside a command that cannot run now.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from cockpit.runbook import PlanView

#: actions that fire something; disabled in --read-only
FIRING = frozenset({"probe", "adhoc", "run_configured", "cancel", "cancel_all", "retry", "run_step", "skip_step",
                    "override_phase", "tick_step", "fail_step", "rollback", "quick_rollback", "baseline", "take_over",
                    "continue_step", "accept_plan"})
#: runbook keys (they need a runbook)
PLAN_ACTIONS = frozenset({"run_step", "skip_step", "override_phase", "tick_step", "fail_step", "rollback",
                          "quick_rollback", "baseline", "take_over", "continue_step", "accept_plan"})


#: where each dashboard key acts, for the help's "Where" column and the palette (the rest: "dashboard")
WHERE = {
    "toggle_select": "fleet table (the host under the cursor)", "detail": "fleet table (the host under the cursor)",
    "retry": "fleet table (the host under the cursor)", "filter": "fleet table",
    "other_columns": "fleet table, below 100 columns", "cancel": "output pane (the host of its tab)",
    "cancel_all": "output pane (the action shown)", "skip_step": "plan (the selected step)",
    "tick_step": "plan (the selected step)", "fail_step": "plan (the selected step)",
    "override_phase": "plan (the selected phase)", "rollback": "plan (the selected step or phase)",
    "continue_step": "plan (the paused rolling step)",
}



class KeyAvailability:
    """``check_action`` and its reasons; the screen has ``app``, ``read_only``, ``plan`` and ``plan_selection``."""

    WHERE = WHERE
    #: keys hidden while there is nothing to act on, but always worth knowing (help lists them)
    NOT_NOW = frozenset({"cancel", "cancel_all", "other_columns"})

    if TYPE_CHECKING:
        app: Any
        read_only: bool
        plan: PlanView | None

        def has_class(self, name: str) -> bool: ...

        def plan_selection(self) -> str | None: ...

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        return self.availability(action)[0]

    def availability(self, action: str) -> tuple[bool | None, str]:
        """(what check_action answers, why not): the footer, the help and the palette grey a key out alike.

        False: the key is hidden (nothing to act on); None: greyed out (read-only, observer).
        """
        app = self.app
        if action in ("cancel", "cancel_all") and not app.engine.actions.running():  # type: ignore[attr-defined]
            return False, "nothing is running"  # shown only while something runs
        if action == "other_columns" and not self.has_class("-compact"):
            return False, "every column is on screen (it swaps columns below 100 columns)"
        if action in PLAN_ACTIONS and not self.has_runbook:
            return False, "the config has no runbook ([[phases]])"
        if action == "quick_rollback" and not app.engine.config.runbook.rollback:  # type: ignore[attr-defined]
            return False, "the config has no [rollback]"
        if action in FIRING and (why := self.firing_reason(action != "take_over")):
            return None, why  # greyed out in the footer; on_key explains read-only
        return True, ""

    def firing_reason(self, observer_too: bool = True) -> str:
        """Why this cockpit fires nothing now ("" when it may): read-only, or an observer (T takes over)."""
        if self.read_only:
            return "read-only: this cockpit fires nothing (started with --read-only)"
        if observer_too and self.plan is not None and self.plan.observer:
            return f"observer: {self.plan.driver or 'another cockpit'} drives the runbook (T takes over a stale lease)"
        return ""

    def unavailable(self, action: str) -> str:
        """Why ``action`` cannot run now ("" when it can): the palette lists it greyed with this reason."""
        ok, why = self.availability(action)
        if ok is not True:
            return why
        selected = self.plan_selection() or ""
        if action in ("skip_step", "tick_step", "fail_step", "run_step") and not selected.startswith("step:"):
            return "select a step in the plan first (3, or the plan beside the table)"
        if action == "override_phase" and not selected.startswith(("phase:", "step:")):
            return "select a phase in the plan first"
        if action == "rollback" and not selected:
            return "select a step or a phase in the plan first"
        if action == "continue_step" and not any(
                s.waiting.startswith("paused") for p in (self.plan.phases if self.plan else ()) for s in p.steps):
            return "no rolling step is waiting for you"
        session = self.app.session  # type: ignore[attr-defined]
        if action == "accept_plan" and (session is None or session.pending is None):
            return "the config on disk has no plan change to accept"
        if action == "load_driver_plan" and session is None:
            return "no journal: there is no driver's plan to load"
        if action == "take_over" and not (self.plan is not None and self.plan.observer):
            return "this cockpit drives the runbook already"
        return ""
