"""The real cockpit in a real terminal: ``python -m cockpit`` inside tmux, against the loopback fleet.

Pilot tests drive Textual's own event loop; this one goes through a terminal
emulator, the CLI entry point, real key presses and a real exit, the way an
operator meets the cockpit. Each run uses a private tmux server (``tmux -L``),
so a user's tmux is never touched, and stops every process it started by pid.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psutil
import pytest
from cockpitcfg import fleet_toml

ROOT = Path(__file__).resolve().parents[1]

SERVICES = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"

[actions.hello]
key = "h"
title = "Say hello"
on = ["h1"]
run = "echo hello-from-$COCKPIT_TEST_HOST"
"""

pytestmark = pytest.mark.skipif(shutil.which("tmux") is None, reason="tmux not installed: apt-get install -y tmux")

SGR = re.compile(r"\x1b\[([0-9;]*)m")
GREYS_256 = {0, 7, 8, 15, 16, 231, *range(232, 256)}


def hues(screen: str) -> set[str]:
    """Every non-grey colour in the SGR sequences of a ``capture-pane -e`` dump.

    NO_COLOR makes Textual render in greys (it still sets shades), so "no colour" means
    "no hue": only the grey ramp, equal RGB components, black, white and the defaults.
    """
    found: set[str] = set()
    for params in SGR.findall(screen):
        p = [int(x) if x else 0 for x in params.split(";")]
        i = 0
        while i < len(p):
            code = p[i]
            if code in (38, 48, 58) and i + 2 < len(p) and p[i + 1] == 5:
                if p[i + 2] not in GREYS_256:
                    found.add(f"{code};5;{p[i + 2]}")
                i += 3
            elif code in (38, 48, 58) and i + 4 < len(p) and p[i + 1] == 2:
                r, g, b = p[i + 2:i + 5]
                if not r == g == b:
                    found.add(f"{code};2;{r};{g};{b}")
                i += 5
            else:
                if 31 <= code <= 36 or 41 <= code <= 46 or 91 <= code <= 96 or 101 <= code <= 106:
                    found.add(str(code))
                i += 1
    return found


class Tmux:
    """One private tmux server (its own socket) with one session."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.pids: set[int] = set()
        self.socket: Path | None = None

    def __call__(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        return subprocess.run(["tmux", "-L", self.name, "-f", "/dev/null", *args], capture_output=True, text=True,
                              timeout=10, check=check)

    def start(self, command: str, width: int = 120, height: int = 40) -> None:
        self("new-session", "-d", "-s", self.name, "-x", str(width), "-y", str(height), command)
        out = self("display-message", "-p", "-t", self.name, "#{pid} #{pane_pid} #{socket_path}").stdout.split()
        self.pids.update(int(p) for p in out[:2])
        self.socket = Path(out[2])

    def alive(self) -> bool:
        return self("has-session", "-t", self.name, check=False).returncode == 0

    def screen(self, escapes: bool = False) -> str:
        args = ["capture-pane", "-p", "-t", self.name] + (["-e"] if escapes else [])
        res = self(*args, check=False)
        return res.stdout if res.returncode == 0 else ""

    def keys(self, *keys: str) -> None:
        self("send-keys", "-t", self.name, *keys)

    def wait(self, cond: Callable[[], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if cond():
                return
            time.sleep(0.1)
        pytest.fail(f"timed out after {timeout:g}s waiting for {what}; screen:\n{self.screen()}")

    def close(self) -> None:
        """Kill the session and the server, then make sure every process we saw is gone (by pid)."""
        self("kill-session", "-t", self.name, check=False)
        self("kill-server", check=False)
        procs = []
        for pid in self.pids:
            try:
                p = psutil.Process(pid)
                procs += [p, *p.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
        _, alive = psutil.wait_procs(procs, timeout=3)
        for p in alive:
            p.kill()
        psutil.wait_procs(alive, timeout=3)
        left = [p.pid for p in alive if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        if self.socket is not None:
            self.socket.unlink(missing_ok=True)  # the server leaves its socket file behind
        assert not left, f"processes left behind: {left}"


@pytest.fixture
def tmux() -> Iterator[Tmux]:
    t = Tmux(f"cockpit-test-{os.getpid()}-{uuid.uuid4().hex[:8]}")
    try:
        yield t
    finally:
        t.close()


@pytest.mark.parametrize("term,no_color", [("tmux-256color", False), ("screen-256color", False),
                                           ("tmux-256color", True)],
                         ids=["tmux-256color", "screen-256color", "NO_COLOR"])
def test_cockpit_in_tmux(fleet, tmux: Tmux, tmp_path: Path, term: str, no_color: bool) -> None:  # type: ignore[no-untyped-def]
    for h in fleet.hosts:
        fleet.set_systemd(h, "fleet-agent", "active running")
    config = tmp_path / "cockpit.toml"
    config.write_text(fleet_toml(fleet, SERVICES))
    rc_file = tmp_path / "rc"
    env = {"PYTHONPATH": str(ROOT), "TERM": term, "COCKPIT_OPERATOR": "tmux-test"}
    if no_color:
        env["NO_COLOR"] = "1"
    else:
        env["COLORTERM"] = "truecolor"
    # Textual draws on stderr, so neither stream is redirected; the exit status goes to a file
    cockpit = " ".join([shlex.quote(sys.executable), "-m", "cockpit", "-c", shlex.quote(str(config))])
    exports = " ".join(f"{k}={shlex.quote(v)}" for k, v in env.items())
    if no_color:
        exports = "env -u COLORTERM " + exports
    tmux.start(f"cd {shlex.quote(str(tmp_path))} && {exports} {cockpit}; echo $? > {shlex.quote(str(rc_file))}")

    def host_line(screen: str, host: str) -> str:
        return next((ln for ln in screen.splitlines() if re.search(rf"\b{host}\b.*\bok\b", ln)), "")

    def fleet_shown() -> bool:  # every host reachable, with its one service up
        s = tmux.screen()
        return all("1/1" in host_line(s, h) for h in ("h1", "h2", "h3"))

    tmux.wait(fleet_shown, 10, "h1 h2 h3 reachable with 1/1 services up")
    screen = tmux.screen()
    coloured = hues(tmux.screen(escapes=True))
    if no_color:
        assert not coloured, f"NO_COLOR is set, yet the screen has colours: {sorted(coloured)[:10]}"
        assert "● ok" in screen and "● up" in screen  # status still reads as glyph + word
    else:
        assert coloured

    tmux.keys("h")
    tmux.wait(lambda: "hello-from-h1" in tmux.screen(), 8, "the action's output")

    tmux.keys("q")
    tmux.wait(lambda: not tmux.alive(), 5, "the cockpit to exit on q")
    assert rc_file.read_text().strip() == "0"
