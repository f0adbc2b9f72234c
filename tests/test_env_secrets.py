"""Issue 14, finding 6: secrets reach commands through an ``env`` table, never through an argv.

The values travel on the command's stdin (``export`` lines after sudo's password line, or a
0600 file a detached job opens and deletes), so ``ps`` on the host shows no secret, and the
output, journal and report show ``***``. ``{address}``/``{user}`` from ``${ENV}`` travel the same way.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest
from cockpitcfg import fleet_toml

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.errors import ConfigError
from cockpit.journal import Journal


def _argv_watch(needles: list[str]) -> tuple[Callable[[], list[str]], threading.Event]:
    """Scan every process's argv on this machine until stopped; returns what matched a needle."""
    hits: list[str] = []
    stop = threading.Event()

    def scan() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            for proc in psutil.process_iter(["cmdline"]):
                line = " ".join(proc.info["cmdline"] or [])
                if any(n in line for n in needles):
                    hits.append(line)
            time.sleep(0.02)

    thread = threading.Thread(target=scan, daemon=True)
    thread.start()

    def finish() -> list[str]:
        stop.set()
        thread.join(5)
        return hits

    return finish, stop


ACTION = """
[actions.seed]
key = "s"
on = ["h1"]
run = 'sleep 1; echo "len=${{#REDIS_PASSWORD}} pw=$REDIS_PASSWORD target={{address}}"'
env = {{ REDIS_PASSWORD = "${{REDIS_PASSWORD}}" }}
"""


async def test_env_table_and_secret_address_stay_out_of_every_argv(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = "s3cr3t-" + secrets.token_hex(6)
    address = fleet["h1"].address
    text = fleet_toml(fleet, ACTION.format(), hosts=["h1"]).replace(f'address = "{address}"', 'address = "${ADDR}"')
    path = tmp_path / "c.toml"
    path.write_text(text)
    config = load_config(path, env={"REDIS_PASSWORD": secret, "ADDR": address})
    action = config.actions[0]
    journal = tmp_path / "j.sqlite"
    finish, _ = _argv_watch([secret, f"target={address}"])
    try:
        async with Engine(config) as engine:
            engine.actions.journal = Journal(journal, "alice").open()
            run = await engine.actions.run(action.title, action.run, ["h1"], env=dict(action.env))
    finally:
        hits = finish()
    hr = run.runs[0]
    assert hr.state == "ok", hr
    assert hr.output.strip() == f"len={len(secret)} pw=*** target=***", hr.output  # delivered whole, masked
    assert hits == [], hits
    assert secret not in journal.read_bytes().decode("latin-1")
    assert "${COCKPIT_ADDRESS}" in hr.command and address not in hr.command


async def test_detached_job_keeps_command_and_env_out_of_argv(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = "d3t-" + secrets.token_hex(6)
    marker = "ck-marker-" + secrets.token_hex(4)
    steps = f"""
[[phases]]
id = "p"
title = "P"
  [[phases.steps]]
  id = "long"
  title = "long"
  on = ["h1"]
  detach = true
  run = 'sleep 1.5; echo {marker} "$TOK"; ls "$HOME/.cache/cutover-cockpit" | grep -c "[.]in$" || true'
  env = {{ TOK = "${{TOK}}" }}
"""
    path = tmp_path / "c.toml"
    path.write_text(fleet_toml(fleet, steps, hosts=["h1"]))
    config = load_config(path, env={"TOK": secret})
    step = config.runbook.phases[0].steps[0]
    finish, _ = _argv_watch([secret, marker])
    try:
        async with Engine(config) as engine:
            run = await engine.actions.run("long", step.run or "", ["h1"], detach=True, env=dict(step.env))
    finally:
        hits = finish()
    hr = run.runs[0]
    assert hr.state == "ok", hr
    assert hr.output.split() == [marker, "***", "0"], hr.output  # the 0600 env file was gone once it started
    assert hits == [], hits


def test_env_table_names_and_values_are_checked(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[hosts.h1]\n[actions.a]\nkey = "t"\non = ["h1"]\nrun = "x"\n'
                    'env = { "BAD-NAME" = "1", COCKPIT_ADDRESS = "2", GOOD = "${MISSING}" }\n')
    with pytest.raises(ConfigError) as err:
        load_config(path, env={})
    text = str(err.value)
    assert "'BAD-NAME' cannot be an environment variable" in text
    assert "'COCKPIT_ADDRESS' cannot be" in text and "MISSING is not set" in text


def test_secret_address_inside_single_quotes_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[hosts.h1]\naddress = "${ADDR}"\n[actions.a]\nkey = "t"\non = ["h1"]\n'
                    "run = \"echo '{address}'\"\n")
    with pytest.raises(ConfigError, match="single quotes do not expand"):
        load_config(path, env={"ADDR": "10.1.2.3"})


def test_env_preamble_round_trips_any_value() -> None:
    import subprocess

    from cockpit.sudo import prepare

    value = "a'b\"c$(x)`y`\nline2 ünï \\ end\n"
    p = prepare('printf %s "$V"', sudo=False, password=None, env={"V": value})
    assert value not in p.command
    out = subprocess.run(["sh", "-c", p.command], input=p.stdin, capture_output=True, text=True, timeout=10)
    assert out.stdout == value


async def test_command_check_env_is_masked_and_in_no_argv(fleet, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    secret = "chk-" + secrets.token_hex(6)
    services = ('[services.db]\non = ["h1"]\ncommand = \'sleep 0.5; echo "tok=$TOK len=${#TOK}"\'\n'
                'expect_stdout = "tok="\nenv = { TOK = "${TOK}" }\n'
                '[services.other]\non = ["h1"]\ncommand = \'echo "other=${TOK:-unset}"\'\nexpect_stdout = "other=unset"\n')
    path = tmp_path / "c.toml"
    path.write_text(fleet_toml(fleet, services, hosts=["h1"]))
    finish, _ = _argv_watch([secret])
    try:
        async with Engine(load_config(path, env={"TOK": secret})) as engine:
            snap = await engine.run_round()
    finally:
        hits = finish()
    results = {r.service: r for h in snap.hosts for r in h.results}
    assert results["db"].status == "up", results["db"]
    assert results["other"].status == "up", results["other"]  # another check never sees it
    assert secret not in str(snap) and hits == [], hits
