"""Real servers the tests need beyond sshd (Docker, Prometheus, PostgreSQL, Chromium…): skip or fail.

A developer's machine without a package gets a skip that names it and the command that installs it.
CI must run everything: ``.ci/run`` sets ``COCKPIT_REQUIRE_SERVICES=1``, and then a missing server
fails the test instead of skipping it, so a green CI always means these tests ran.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

REQUIRE_ENV = "COCKPIT_REQUIRE_SERVICES"


def need(what: str, reason: str) -> None:
    """Skip (or, under CI, fail) because ``what`` is unavailable for ``reason``."""
    message = f"{what} unavailable: {reason}"
    if os.environ.get(REQUIRE_ENV) == "1":
        pytest.fail(f"{message} ({REQUIRE_ENV}=1: CI requires it; `make test` as root installs it)", pytrace=False)
    pytest.skip(message)


def binary(name: str, package: str, *extra_dirs: str) -> str:
    """The path of ``name`` on PATH or in ``extra_dirs``; ``need()`` with the Debian package otherwise."""
    found = shutil.which(name)
    for d in extra_dirs:
        if found is None and (Path(d) / name).is_file():
            found = str(Path(d) / name)
    if found is None:
        need(name, f"not installed (apt-get install -y {package})")
    assert found is not None
    return found
