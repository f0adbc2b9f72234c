"""The cockpit in a browser (issue 29, item 2): ``cockpit serve`` driven by a real headless Chromium.

Against the loopback sshd fleet: the page shows the fleet table's host names; an action key typed in
the browser is refused on screen and reaches no host (no marker on any host, no action in the journal, and
with a driver on the journal the tab shows its view and the test sshds see no login from it at all);
beyond loopback a token is required to start, and with one set every request without it (the page,
its files, the websocket) is refused while the browser signs in with a form.
"""

from __future__ import annotations

import base64
import http.client
import os
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from cockpitcfg import fleet_toml
from fleet import Fleet
from servetools import ROOT, browser, free_port, serving, wait_for_text
from view_driver import Driver, accepted

from cockpit.journal import Journal

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("browser")]

MARK = 'echo fired >> "$COCKPIT_SHIM_STATE/systemd/marker-action"'
TOKEN = "s3cret-browser-token-29"


def _config(tmp_path: Path, fleet: Fleet) -> Path:
    services = f"""
[journal]
path = "{tmp_path / 'journal.sqlite'}"

[services.agent]
on = ["all"]
systemd = "fleet-agent"

[actions.mark]
key = "h"
title = "Mark every host"
on = ["all"]
run = '{MARK}'
"""
    path = tmp_path / "cockpit.toml"
    path.write_text(fleet_toml(fleet, services))
    with Journal(tmp_path / "journal.sqlite", "setup"):
        pass  # the journal exists: the read-only view may read it, and we can look for actions in it
    return path


def _markers(fleet: Fleet) -> list[str]:
    return [h.name for h in fleet if (fleet.state_dir(h) / "systemd" / "marker-action").exists()]


def _type_into_terminal(driver: object, keys: str) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, ".xterm-helper-textarea")  # type: ignore[attr-defined]
    box.send_keys(keys)


def test_browser_shows_the_fleet_and_an_action_key_reaches_no_host(tmp_path: Path, fleet: Fleet) -> None:
    """With a driver on the journal the tab shows the driver's view: no SSH login at all from the tab."""
    for h in fleet:
        fleet.set_systemd(h, "fleet-agent", "active")
    config = _config(tmp_path, fleet)
    driver = Driver(config)
    try:
        assert driver.line() == "DRIVER"
        before = accepted(fleet)  # the driver has logged in everywhere (it says DRIVER after a full round)
        listen = f"127.0.0.1:{free_port()}"
        with serving(config, listen) as served, browser() as driver_page:
            driver_page.get(served.url)  # type: ignore[attr-defined]
            wait_for_text(driver_page, *[h.name for h in fleet], "agent", "DRIVER'S VIEW")
            _type_into_terminal(driver_page, "h")
            wait_for_text(driver_page, "READ-ONLY")  # the key reached the cockpit, which refused it on screen
            tab = [p for p in served.children() if "run" in p.cmdline() and "--read-only" in p.cmdline()]
            assert tab, f"no read-only cockpit behind the tab: {[p.cmdline() for p in served.children()]}"
        assert accepted(fleet) == before, "the browser tab logged in to a host"
    finally:
        driver.stop()
    assert _markers(fleet) == []
    with Journal(tmp_path / "journal.sqlite", "check", readonly=True) as j:
        assert j.actions() == []
    assert not [p for p in served.seen if psutil.pid_exists(p)], "a per-tab cockpit outlived the server"


def test_beyond_loopback_without_a_token_it_refuses_to_start(tmp_path: Path, fleet: Fleet) -> None:
    config = _config(tmp_path, fleet)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    r = subprocess.run([sys.executable, "-m", "cockpit", "-c", str(config), "serve", "--listen",
                        f"0.0.0.0:{free_port()}"], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2, r.stderr
    assert "beyond loopback) needs a token" in r.stderr and "--token-env NAME" in r.stderr
    assert "Traceback" not in r.stderr
    r = subprocess.run([sys.executable, "-m", "cockpit", "-c", str(config), "serve", "--listen", "0.0.0.0",
                        "--token", TOKEN], env=env, capture_output=True, text=True, timeout=60, check=False)
    assert r.returncode == 2 and "--token" in r.stderr  # there is no option for a token in argv
    assert TOKEN not in r.stderr and "Traceback" not in r.stderr


def _beyond_loopback_address() -> str | None:
    """An address of this machine outside 127/8 (a real interface), when it has one."""
    for addrs in psutil.net_if_addrs().values():
        for a in addrs:
            if a.family.name == "AF_INET" and not a.address.startswith("127."):
                return str(a.address)
    return None


def _status(host: str, port: int, path: str, headers: dict[str, str] | None = None) -> int:
    conn = http.client.HTTPConnection(host, port, timeout=20)
    try:
        conn.request("GET", path, headers=headers or {})
        return conn.getresponse().status
    finally:
        conn.close()


def _websocket_upgrade(host: str, port: int, headers: dict[str, str] | None = None) -> int:
    key = base64.b64encode(os.urandom(16)).decode()
    upgrade = {"Connection": "Upgrade", "Upgrade": "websocket", "Sec-WebSocket-Version": "13",
               "Sec-WebSocket-Key": key, **(headers or {})}
    return _status(host, port, "/ws?width=80&height=24", upgrade)


def test_with_a_token_every_request_without_it_is_refused(tmp_path: Path, fleet: Fleet) -> None:
    config = _config(tmp_path, fleet)
    address = _beyond_loopback_address() or "127.0.0.1"  # no such interface: the per-request check on loopback
    port = free_port(address)
    with serving(config, f"{address}:{port}", {"VIEW_TOKEN": TOKEN}, "--token-env", "VIEW_TOKEN") as served:
        assert _status(address, port, "/") == 401
        assert _status(address, port, "/static/js/textual.js") == 401
        assert _websocket_upgrade(address, port) == 401
        assert _status(address, port, "/", {"Authorization": "Bearer wrong"}) == 401
        assert _status(address, port, "/", {"Authorization": f"Bearer {TOKEN}"}) == 200
        bearer = {"Authorization": f"Bearer {TOKEN}"}
        assert _websocket_upgrade(address, port, {**bearer, "Origin": "http://elsewhere.example"}) == 403
        with browser() as driver:
            from selenium.webdriver.common.by import By

            driver.get(served.url)  # type: ignore[attr-defined]
            assert "needs the token" in driver.page_source  # type: ignore[attr-defined]
            driver.find_element(By.ID, "token").send_keys("not-it")  # type: ignore[attr-defined]
            driver.find_element(By.ID, "sign-in").click()  # type: ignore[attr-defined]
            # the click posts the form: the answer is a new page, which may not be loaded yet (bounded wait)
            deadline = time.monotonic() + 15
            while "not the one this view was started with" not in driver.page_source:  # type: ignore[attr-defined]
                assert time.monotonic() < deadline, driver.page_source  # type: ignore[attr-defined]
                time.sleep(0.1)
            driver.find_element(By.ID, "token").send_keys(TOKEN)  # type: ignore[attr-defined]
            driver.find_element(By.ID, "sign-in").click()  # type: ignore[attr-defined]
            wait_for_text(driver, *[h.name for h in fleet])
            cookies = {c["name"]: c for c in driver.get_cookies()}  # type: ignore[attr-defined]
            assert TOKEN not in str(cookies) and cookies["cockpit_view"]["httpOnly"] is True
            tabs = [p for p in served.children() if "--read-only" in p.cmdline()]
            assert tabs
            for p in tabs:  # the per-tab cockpit never inherits the token, nor has it in its argv
                assert TOKEN not in Path(f"/proc/{p.pid}/environ").read_bytes().decode(errors="replace")
                assert TOKEN not in " ".join(p.cmdline())
        assert TOKEN not in served.text()
