"""A real ``cockpit serve`` process and a real headless Chromium driven by selenium, for the browser tests.

The page draws the terminal on a canvas (xterm.js with its WebGL or canvas renderer), so the text is not
in the DOM. Before any page script runs, :func:`browser` wraps ``WebSocket`` to keep what the page
receives from the cockpit (the same bytes xterm.js draws), readable as text with escapes stripped.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil
import services

ROOT = Path(__file__).resolve().parents[1]
ESCAPES = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
RECORDER = """
(() => {
  const Real = window.WebSocket;
  const decoder = new TextDecoder();
  window.__received = "";
  window.WebSocket = function (url, protocols) {
    const ws = protocols === undefined ? new Real(url) : new Real(url, protocols);
    ws.addEventListener("message", (event) => {
      if (typeof event.data === "string") { window.__received += event.data; }
      else if (event.data instanceof ArrayBuffer) { window.__received += decoder.decode(event.data, {stream: true}); }
      else if (event.data && event.data.arrayBuffer) {
        event.data.arrayBuffer().then((b) => { window.__received += decoder.decode(b, {stream: true}); });
      }
    });
    return ws;
  };
  window.WebSocket.prototype = Real.prototype;
  Object.assign(window.WebSocket, {CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3});
})();
"""


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return int(s.getsockname()[1])


class Served:
    """One ``cockpit serve`` child process; stopped by its pid, with the per-tab cockpits it started."""

    def __init__(self, config: Path, listen: str, env: dict[str, str] | None = None, *extra: str) -> None:
        self.url = "http://" + listen + "/"
        full_env = {**os.environ, "PYTHONPATH": str(ROOT), **(env or {})}
        self.log = tempfile.NamedTemporaryFile(prefix="serve-", suffix=".log", delete=False)  # noqa: SIM115
        self.proc = subprocess.Popen([sys.executable, "-m", "cockpit", "-c", str(config), "serve", "--listen", listen,
                                      *extra], env=full_env, stdout=self.log, stderr=subprocess.STDOUT)
        self.seen: set[int] = set()

    def text(self) -> str:
        return Path(self.log.name).read_text(errors="replace")

    def wait_ready(self, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if "browser view on" in self.text():
                return
            if self.proc.poll() is not None:
                raise AssertionError(f"cockpit serve exited {self.proc.returncode}: {self.text()}")
            time.sleep(0.1)
        raise AssertionError(f"cockpit serve not ready in {timeout}s: {self.text()}")

    def children(self) -> list[psutil.Process]:
        try:
            kids = psutil.Process(self.proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            return []
        self.seen.update(k.pid for k in kids)
        return kids

    def stop(self) -> None:
        kids = self.children()
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=5)
        _gone, alive = psutil.wait_procs(kids, timeout=10)
        for p in alive:
            p.kill()
        Path(self.log.name).unlink(missing_ok=True)


@contextmanager
def serving(config: Path, listen: str, env: dict[str, str] | None = None, *extra: str) -> Iterator[Served]:
    s = Served(config, listen, env, *extra)
    try:
        s.wait_ready()
        yield s
    finally:
        s.stop()


def chromium_options_args(profile: str) -> list[str]:
    return ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
            "--disable-component-update", "--disable-sync", "--no-first-run", f"--user-data-dir={profile}",
            "--window-size=1400,900"]


@contextmanager
def browser() -> Iterator[object]:
    """Debian's headless Chromium through its own chromedriver (Selenium Manager cannot download one here)."""
    chromium = services.binary("chromium", "chromium")
    driver_path = services.binary("chromedriver", "chromium-driver")
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        services.need("selenium", "not installed (pip install -e '.[test]')")
        raise
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for arg in chromium_options_args(profile):
            options.add_argument(arg)
        driver = webdriver.Chrome(service=Service(driver_path), options=options)
        try:
            driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": RECORDER})
            yield driver
        finally:
            driver.quit()


def screen_text(driver: object) -> str:
    """What the page received from the cockpit so far, escapes stripped."""
    raw = driver.execute_script("return window.__received || '';")  # type: ignore[attr-defined]
    return ESCAPES.sub("", str(raw))


def wait_for_text(driver: object, *needles: str, timeout: float = 30.0) -> str:
    deadline = time.monotonic() + timeout
    text = ""
    while time.monotonic() < deadline:
        text = screen_text(driver)
        if all(n in text for n in needles):
            return text
        time.sleep(0.2)
    missing = [n for n in needles if n not in text]
    raise AssertionError(f"the page never showed {missing} in {timeout}s; it got {len(text)} chars: {text[-2000:]!r}")
