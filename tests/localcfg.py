"""The smallest real fleet for UI tests that need no SSH: this machine as one local host with one check."""

from __future__ import annotations

#: ``[hosts.local]`` and one service that is always up (``true``), for a config's body
LOCAL_HOST = """\
[hosts.local]
transport = "local"

[services.shell]
on = ["all"]
command = "true"
"""

#: a phase whose gate holds while the local host answers, with one step that does nothing
ONE_PHASE = """\
[[phases]]
id = "one"
gate = ["up(shell)"]

  [[phases.steps]]
  id = "mark"
  on = ["all"]
  run = "true"
"""
