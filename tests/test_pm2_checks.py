"""pm2 checks over a real loopback SSH host: status, rising restarts, no daemon, and no secret leaves the host."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from cockpitcfg import write_config
from pm2host import Pm2Home, app

from cockpit.checks import check_snippet, judge
from cockpit.config import load_config
from cockpit.session import Session
from cockpit.spec import Pm2Check

SECRETS = {"DB_PASSWORD": "hunter2-pm2-secret", "STRIPE_KEY": "sk_live_pm2_51HqT"}
SERVICES = """
[services.chat]
on = ["h1"]
pm2 = "lonestar-chat"

[services.chat-v3]
on = ["h1"]
pm2 = "lonestar-chat-v3"

[services.gone]
on = ["h1"]
pm2 = "lonestar-gone"
"""


@pytest.fixture
def pm2_fleet(fleet_factory):  # type: ignore[no-untyped-def]
    import tempfile

    root = Path(tempfile.mkdtemp(prefix="cockpit-pm2-"))
    root.chmod(0o755)
    home = Pm2Home(root)
    fleet = fleet_factory(1, extra_config=f"SetEnv PM2_HOME={home.dir} PATH={home.bin}:/usr/local/bin:/usr/bin:/bin")
    try:
        yield fleet, home
    finally:
        home.stop_daemon()
        import shutil

        shutil.rmtree(root, ignore_errors=True)


async def test_pm2_apps_as_the_operator_sees_them_and_no_secret_leaves_the_host(tmp_path: Path, pm2_fleet) -> None:  # type: ignore[no-untyped-def]
    fleet, home = pm2_fleet
    home.jlist([app("lonestar-chat", 0, "online", 3, SECRETS), app("lonestar-chat-v3", 1, "stopped", 0, SECRETS)])
    home.start_daemon()
    cfg = load_config(write_config(tmp_path, fleet, SERVICES,
                                   cockpit={"state_dir": str(tmp_path / "state")}), env={})
    s = Session(cfg, "alice")
    try:
        snap = await s.engine.run_round()
        r = {x.service: x for x in snap.hosts[0].results}
        assert (r["chat"].status, r["chat"].detail) == ("up", "online, 3 restarts")
        assert dict(r["chat"].extra) == {"restarts": 3, "instances": 1, "cpu": 1.5, "mem_bytes": 50 * 1024 * 1024}
        assert (r["chat-v3"].status, r["chat-v3"].detail) == ("down", "stopped, 0 restarts")
        assert (r["gone"].status, r["gone"].detail) == ("down", "no pm2 app named lonestar-gone")
        # pm2 restarted it twice since: a finding, though it is online right now
        home.jlist([app("lonestar-chat", 0, "online", 5, SECRETS), app("lonestar-chat-v3", 1, "stopped", 0, SECRETS)])
        r = {x.service: x for x in (await s.engine.run_round()).hosts[0].results}
        assert (r["chat"].status, r["chat"].detail) == (
            "degraded", "restarted 2 times since the last round; online, 5 restarts")
        r = {x.service: x for x in (await s.engine.run_round()).hosts[0].results}
        assert r["chat"].status == "up"  # steady again
        # the daemon dies: "pm2 not running", and no pm2 command ran (one would have started a daemon)
        calls = len(home.calls())
        home.stop_daemon()
        r = {x.service: x for x in (await s.engine.run_round()).hosts[0].results}
        assert r["chat"].status == "down" and r["chat"].detail.startswith("pm2 not running"), r["chat"]
        assert len(home.calls()) == calls and all(c == "jlist" for c in home.calls())
        seen = repr(s.engine.snapshot())
    finally:
        await s.close()
    journal = b"".join(p.read_bytes() for p in (tmp_path / "state").rglob("*") if p.is_file()) + \
        b"".join(p.read_bytes() for p in tmp_path.glob("*.sqlite*"))
    assert journal, "the journal was written"
    for secret in SECRETS.values():
        assert secret not in seen and secret.encode() not in journal


def test_what_crosses_the_wire_holds_no_environment(pm2_fleet) -> None:  # type: ignore[no-untyped-def]
    fleet, home = pm2_fleet
    home.jlist([app("lonestar-chat", 0, "online", 1, SECRETS), app("lonestar-chat", 1, "online", 2, SECRETS)])
    home.start_daemon()
    code = check_snippet(Pm2Check("lonestar-chat"), 10)
    res = subprocess.run(fleet.hosts[0].ssh_argv(code), capture_output=True, text=True, timeout=30)
    assert "NODE_ENV" not in res.stdout and all(v not in res.stdout + res.stderr for v in SECRETS.values())
    v = judge(Pm2Check("lonestar-chat"), res.stdout + res.stderr, res.returncode)
    assert (v.status, v.detail) == ("up", "online, 2 instances, 3 restarts")


def test_without_node_python3_reads_jlist_the_same(tmp_path: Path) -> None:
    home = Pm2Home(tmp_path, user="root")
    tools = tmp_path / "tools"
    tools.mkdir()
    for tool in ("sh", "cat", "python3"):  # the system's own (a pyenv shim would need bash)
        found = next((f"{d}/{tool}" for d in ("/usr/bin", "/bin") if os.path.exists(f"{d}/{tool}")), None)
        assert found is not None, tool
        (tools / tool).symlink_to(os.path.realpath(found))
    home.jlist([app("api", 0, "errored", 15, SECRETS)])
    home.start_daemon()
    try:
        env = {"PATH": f"{home.bin}:{tools}", "PM2_HOME": str(home.dir), "HOME": str(tmp_path)}
        res = subprocess.run(["/bin/sh", "-c", check_snippet(Pm2Check("api"), 10)], capture_output=True, text=True,
                             env=env, timeout=30)
    finally:
        home.stop_daemon()
    assert all(v not in res.stdout for v in SECRETS.values())
    v = judge(Pm2Check("api"), res.stdout + res.stderr, res.returncode)
    assert (v.status, v.detail) == ("down", "errored, 15 restarts"), res


def test_a_pm2_user_sudo_refuses_is_unknown_with_the_fix(pm2_fleet) -> None:  # type: ignore[no-untyped-def]
    fleet, home = pm2_fleet
    check = Pm2Check("lonestar-chat", user="root")  # the login user has no sudo rule for it
    res = subprocess.run(fleet.hosts[0].ssh_argv(check_snippet(check, 10)), capture_output=True, text=True, timeout=30)
    v = judge(check, res.stdout + res.stderr, res.returncode)
    assert v.status == "unknown" and v.detail.startswith("sudo -n -u root refused: sudo:"), v
    assert v.detail.endswith("(allow it in sudoers)")
    assert home.calls() == []  # pm2 never ran


def test_as_the_login_user_pm2_user_needs_no_sudo(pm2_fleet) -> None:  # type: ignore[no-untyped-def]
    fleet, home = pm2_fleet
    home.jlist([app("lonestar-chat", 0, "online", 0, SECRETS)])
    home.start_daemon()
    check = Pm2Check("lonestar-chat", user=fleet.user)
    res = subprocess.run(fleet.hosts[0].ssh_argv(check_snippet(check, 10)), capture_output=True, text=True, timeout=30)
    assert judge(check, res.stdout + res.stderr, res.returncode).status == "up", res
