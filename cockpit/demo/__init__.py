"""The embedded demo cutover (a front end): real local processes, an optional throwaway sshd, the scenario.

Parts: ``scenario`` (``run_demo``: the TUI or headless), ``env`` (the demo's world), ``config`` (its config),
``ctl`` and ``httpsvc`` (the processes it starts, run as ``python -m``).
"""

from __future__ import annotations

from cockpit.demo.scenario import run_demo

__all__ = [
    "run_demo",
]
