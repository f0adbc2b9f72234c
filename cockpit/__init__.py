"""Cutover Cockpit: the engine (this package) and its front ends (``cockpit.cli``, ``cockpit.demo``).

The one place where warnings the project cannot fix are filtered, so that every entry point (the
``cockpit`` command, the TUI, the demo's helper processes, step output that runs ``python -m cockpit``)
starts quiet: asyncssh 2.24 names DSA types at import time, which cryptography 51 deprecates (10 lines
of ``CryptographyDeprecationWarning`` on every command). ``pyproject.toml`` bounds cryptography below
51 for fresh installs; this filter covers an environment that has 51 anyway. Narrow on purpose: only
that message, only when raised from asyncssh's modules.
"""

from __future__ import annotations

import warnings

warnings.filterwarnings("ignore", message=r"DSA is deprecated", module=r"asyncssh(\.|$)")
