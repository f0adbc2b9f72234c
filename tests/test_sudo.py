"""sudo without a terminal: rewriting (unit), messages (recorded from Debian's sudo 1.9), and REAL sudo over the fleet.

The fleet tests log in (over a loopback sshd) as a throwaway user ``cockpit-sudo``
with a random password and a sudoers drop-in (see ``tests/sudoers.py``):

- NOPASSWD: ``/usr/bin/id -u`` and ``/bin/sh -c id -u; id -un``; anything as ``nobody``;
- password required: ``/usr/bin/whoami`` and ``/bin/sh -c whoami; id -un``; anything as ``daemon``;
- for one test, a second drop-in ``Defaults:cockpit-sudo requiretty``.

They need root (useradd, /etc/sudoers.d) and are skipped otherwise.
"""

from __future__ import annotations

import os
import pickle
import select
import shlex
import subprocess
import sys
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cockpitcfg import write_config
from fleet import Fleet, fleet_unavailable_reason
from sudoers import SudoUser, create_sudo_user, strip_sudo_warnings, sudo_unavailable_reason

from cockpit.config import load_config
from cockpit.engine import Engine
from cockpit.secrets import Redactor
from cockpit.sudo import (
    Prepared, SudoError, SudoPassword, add_to_redactor, explain, needs_password, prepare, run, simple_words,
)
from cockpit.transports import CommandResult

# -- prepare(): rewriting ------------------------------------------------------------------


@pytest.mark.parametrize("command", ["ls -l /tmp", "  echo hi | wc -l", "systemctl restart app", "echo sudo x"])
def test_commands_without_sudo_are_unchanged(command: str) -> None:
    p = prepare(command, sudo=False, password="pw")
    assert p == Prepared(command, None, False, "plain", original=command)


def test_sudo_true_runs_a_simple_command_as_its_own_argv() -> None:
    assert prepare("id -u", sudo=True, password=None).command == "sudo -n -- id -u"
    p = prepare("  systemctl restart 'my app'  ", sudo=True, password="hunter2")
    assert p.command == "sudo -S -p '' -k -- systemctl restart 'my app'"
    assert p.stdin == "hunter2\n" and p.uses_sudo and p.mode == "-S" and not p.via_shell


@pytest.mark.parametrize("command", [
    "echo $HOME && ls 'a b'", "id -u; id -un", "cat /etc/hosts | wc -l", "ls *.log", "echo \"$(date)\"",
    "FOO=1 env", "[ -f /etc/hosts ]", "ls ~", "if true; then id; fi", "echo x # comment", "a 'unterminated",
])
def test_shell_syntax_runs_through_sh_c_quoted_exactly(command: str) -> None:
    p = prepare(command, sudo=True, password=None)
    assert p.via_shell and p.mode == "-n"
    assert shlex.split(p.command) == ["sudo", "-n", "--", "sh", "-c", command]


@pytest.mark.parametrize(("command", "expected"), [
    ("sudo -u postgres psql -c 'select 1;'", "sudo -n -u postgres -- psql -c 'select 1;'"),
    ("  sudo   -E -H -g adm -- ls /var/log", "sudo -n -E -H -g adm -- ls /var/log"),
    ("sudo -EHupostgres id", "sudo -n -E -H -u postgres -- id"),
    ("sudo -u i id", "sudo -n -u i -- id"),
    ("sudo --user=pg --preserve-env=LANG,TZ --set-home id", "sudo -n -u pg --preserve-env=LANG,TZ -H -- id"),
    ("sudo --user pg --group adm id", "sudo -n -u pg -g adm -- id"),
    ("sudo -n systemctl restart app", "sudo -n -- systemctl restart app"),
    ("/usr/bin/sudo id -u", "/usr/bin/sudo -n -- id -u"),
    ("sudo systemctl restart \"my app\"", "sudo -n -- systemctl restart 'my app'"),
    ("sudo -- -weird-name arg", "sudo -n -- -weird-name arg"),
])
def test_leading_sudo_keeps_its_options(command: str, expected: str) -> None:
    for flag in (False, True):  # sudo = true on a command that already says sudo: one sudo, not two
        assert prepare(command, sudo=flag, password=None).command == expected
    with_pw = prepare(command, sudo=False, password="pw")
    assert with_pw.command == expected.replace("sudo -n", "sudo -S -p '' -k", 1)
    assert with_pw.stdin == "pw\n"


@pytest.mark.parametrize("command", [
    "sudo -s id", "sudo -S id", "sudo -A id", "sudo -b id", "sudo whoami | cat", "sudo a && b", "sudo",
    "sudo -u", "sudo FOO=1 env", "sudo sudo id", "sudo --chdir=/ id",
])
def test_sudo_forms_that_cannot_be_rewritten_stay_as_written(command: str) -> None:
    for flag in (False, True):
        p = prepare(command, sudo=flag, password="pw")
        assert (p.command, p.stdin, p.uses_sudo, p.mode) == (command, None, True, "as-written")


@pytest.mark.parametrize("command", ["sudo -i id", "sudo -Hi id", "sudo -iu pg id", "sudo --login id",
                                     "sudo -i id | head"])
def test_sudo_login_shell_is_refused(command: str) -> None:
    with pytest.raises(SudoError, match="sudo -i"):
        prepare(command, sudo=False, password=None)


def test_password_only_on_stdin() -> None:
    pw = "a b'c\"d$e\\f;g"
    p = prepare("whoami", sudo=True, password=SudoPassword(pw))
    assert pw not in p.command and "'***'" in repr(p) and pw not in repr(p)
    assert p.stdin == pw + "\n"
    for bad in ("", "two\nlines", "cr\r"):
        with pytest.raises(SudoError):
            prepare("whoami", sudo=True, password=bad)


def test_simple_words_agrees_with_shlex_on_what_it_accepts() -> None:
    for text in ["a 'b c' \"d e\" f\\ g", "x '' \"\"", "psql -c 'select 1; -- $x'", "a\\$b \"q\\\"q\""]:
        assert simple_words(text) == shlex.split(text)


# -- SudoPassword ----------------------------------------------------------------------------


def test_sudo_password_never_shows_itself() -> None:
    pw = SudoPassword("s3cret")
    assert pw.value == "s3cret"
    assert "s3cret" not in repr(pw) and "s3cret" not in str(pw) and "s3cret" not in f"{pw}"
    with pytest.raises(TypeError):
        pickle.dumps(pw)
    with pytest.raises(SudoError):
        SudoPassword("")


def test_ask_terminal_reads_without_echo_from_a_real_terminal() -> None:
    """A real pty: the typed password must not be echoed back, and comes back whole."""
    master, slave = os.openpty()
    code = (
        "import os; os.close(os.open(os.ttyname(0), os.O_RDWR));"  # session leader opens it: controlling tty
        "from cockpit.sudo import SudoPassword; p = SudoPassword.ask_terminal('PW? ');"
        "print('GOT', len(p.value), p.value == 'typed-s3cret', repr(p), flush=True)"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True, cwd=Path(__file__).parent.parent)
    os.close(slave)
    seen = b""

    def read_until(marker: bytes, deadline: float) -> None:
        nonlocal seen
        while marker not in seen and time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(master, 4096)
                except OSError:  # EIO: the child closed the terminal
                    return
                if not chunk:
                    return
                seen += chunk

    try:
        read_until(b"PW? ", time.monotonic() + 15)
        assert b"PW? " in seen, seen
        os.write(master, b"typed-s3cret\n")
        read_until(b"SudoPassword(***)", time.monotonic() + 15)
    finally:
        proc.wait(timeout=15)
        os.close(master)
    text = seen.decode(errors="replace")
    assert "GOT 12 True SudoPassword(***)" in text, text
    assert "typed-s3cret" not in text  # not echoed


def test_add_to_redactor_changes_the_shared_object() -> None:
    red = Redactor(["token-1"])
    holder = red
    add_to_redactor(red, SudoPassword("pw-9"))
    assert holder.redact("token-1 pw-9") == "*** ***"


# -- explain(): sudo's real messages (Debian 12, sudo 1.9.13p3, recorded) --------------------

N = prepare("whoami", sudo=True, password=None)
S = prepare("whoami", sudo=True, password="pw")
ASIS = prepare("sudo whoami | cat", sudo=False, password=None)
SHELL = prepare("ls / | head", sudo=True, password="pw")
PLAIN = prepare("ls", sudo=False, password=None)

PASSWORD_REQUIRED = "sudo: a password is required\n"
NO_TTY = ("sudo: a terminal is required to read the password; either use the -S option to read from standard input "
          "or configure an askpass helper\nsudo: a password is required\n")
REQUIRETTY = "sudo: sorry, you must have a tty to run sudo\n"
WRONG_ONE = "Sorry, try again.\n\nsudo: no password was provided\nsudo: 1 incorrect password attempt\n"
WRONG_THREE = "Sorry, try again.\nSorry, try again.\nsudo: 3 incorrect password attempts\n"
NOT_IN_SUDOERS = "alice is not in the sudoers file.\n"
NOT_IN_SUDOERS_OLD = "alice is not in the sudoers file.  This incident will be reported.\n"
NOT_ALLOWED = "Sorry, user alice is not allowed to execute '/usr/bin/ls /nonexist' as root on vm.\n"
UNKNOWN_USER = "sudo: unknown user nosuchuser\nsudo: error initializing audit plugin sudoers_audit\n"
RESOLVE = "sudo: unable to resolve host vm: Name or service not known\n"


@pytest.mark.parametrize(("status", "output", "prepared", "expected"), [
    (1, PASSWORD_REQUIRED, N, "sudo needs a password on h1: allow NOPASSWD for this command, "
                              "or start the cockpit with --ask-sudo"),
    (1, RESOLVE + PASSWORD_REQUIRED, N, "sudo needs a password on h1: allow NOPASSWD for this command, "
                                        "or start the cockpit with --ask-sudo"),
    (1, NO_TTY, ASIS, "sudo needs a password on h1: allow NOPASSWD for this command, or write it as "
                      "'sudo [-u USER] CMD ARGS' without shell syntax (or set sudo = true) so --ask-sudo can answer"),
    (1, REQUIRETTY, N, "sudo on h1 requires a tty (Defaults requiretty in sudoers): remove requiretty for this "
                       "user, e.g. Defaults:deploy !requiretty"),
    (1, WRONG_ONE, S, "wrong sudo password on h1; not retried: restart with --ask-sudo"),
    (1, WRONG_THREE, S, "wrong sudo password on h1; not retried: restart with --ask-sudo"),
    (1, NOT_IN_SUDOERS, S, "alice may not run sudo on h1: not in the sudoers file; ask for a sudoers rule for this command"),
    (1, NOT_IN_SUDOERS_OLD, S, "alice may not run sudo on h1: not in the sudoers file; ask for a sudoers rule for this command"),
    (1, NOT_ALLOWED, S, "alice may not run sudo on h1: no sudoers rule for '/usr/bin/ls /nonexist' as root"),
    (1, NOT_ALLOWED, SHELL, "alice may not run sudo on h1: no sudoers rule for '/usr/bin/ls /nonexist' as root "
                            "(it contains shell syntax, so it ran as sh -c: sudoers must allow the shell, "
                            "or make it a simple command)"),
    (1, UNKNOWN_USER, N, "sudo on h1: unknown user nosuchuser (check sudo -u / -g)"),
    (1, "sudo: frobnicate: command not found\n", N,
     "sudo on h1: frobnicate not found in sudo's secure_path: use its full path"),
    (127, "sh: 1: sudo: not found\n", N, "sudo is not installed on h1 (or not on the PATH of the login user): "
                                         "install it, or run the command without sudo"),
    (127, "bash: line 1: sudo: command not found\n", N, "sudo is not installed on h1 (or not on the PATH of the "
                                                         "login user): install it, or run the command without sudo"),
])
def test_explain_recorded_messages(status: int, output: str, prepared: Prepared, expected: str) -> None:
    assert explain("h1", status, output, prepared, user="deploy") == expected


@pytest.mark.parametrize(("status", "output", "prepared"), [
    (0, PASSWORD_REQUIRED, N),  # success is never sudo's failure
    (None, PASSWORD_REQUIRED, N),  # killed / timed out
    (1, "ls: cannot access '/nope': No such file or directory\n", N),
    (1, RESOLVE, N),  # a warning only: the command's own failure
    (2, PASSWORD_REQUIRED, PLAIN),  # no sudo in the command
    (127, "sh: 1: frobnicate: not found\n", N),
])
def test_explain_leaves_other_failures_alone(status: int | None, output: str, prepared: Prepared) -> None:
    assert explain("h1", status, output, prepared) is None


def test_needs_password_only_when_sudo_ran_nothing() -> None:
    def res(status: int, out: str, err: str) -> CommandResult:
        return CommandResult(status, out, err, 0.01)

    assert needs_password(res(1, "", PASSWORD_REQUIRED))
    assert needs_password(res(1, "", RESOLVE + PASSWORD_REQUIRED))
    assert not needs_password(res(1, "partial output\n", PASSWORD_REQUIRED))  # the command ran
    assert not needs_password(res(1, "", "error: x\n" + PASSWORD_REQUIRED))
    assert not needs_password(res(1, "", REQUIRETTY))
    assert not needs_password(res(0, "", PASSWORD_REQUIRED))


# -- real sudo over the fleet ------------------------------------------------------------------

RULES = """
Defaults:{u} !lecture
{u} ALL=(root) NOPASSWD: /usr/bin/id -u, /bin/sh -c id -u; id -un
{u} ALL=(root) /usr/bin/whoami, /bin/sh -c whoami; id -un
{u} ALL=(nobody) NOPASSWD: ALL
{u} ALL=(daemon) ALL
"""


@dataclass
class SudoFleet:
    user: SudoUser
    fleet: Fleet
    config: Path

    @property
    def password(self) -> str:
        return self.user.password


@pytest.fixture(scope="module")
def sudo_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SudoFleet]:
    reason = sudo_unavailable_reason() or fleet_unavailable_reason()
    if reason is not None:
        pytest.skip(reason)
    user = create_sudo_user()
    fleet: Fleet | None = None
    try:
        user.install_dropin(RULES.format(u=user.name))
        fleet = Fleet(1, user=user.name).start()
        config = write_config(tmp_path_factory.mktemp("sudo"), fleet)
        yield SudoFleet(user, fleet, config)
    finally:
        if fleet is not None:
            fleet.close()  # stops sshd and every process of the user's sessions, by pid
        user.close()
        assert not Path(user.dropin_path()).exists()


class Counting:
    """Delegates to the engine and records what ran (to show what was, and was not, retried)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.calls: list[tuple[str, bool]] = []

    async def run_command(self, host: str, command: str, **kw: Any) -> CommandResult:
        self.calls.append((command, kw.get("stdin") is not None))
        return await self.engine.run_command(host, command, **kw)


def clean(text: str) -> str:
    return strip_sudo_warnings(text)


async def test_nopasswd_command_runs_without_a_password(sudo_fleet: SudoFleet) -> None:
    async with Engine(load_config(sudo_fleet.config)) as engine:
        p = prepare("id -u", sudo=True, password=None)
        raw = await engine.run_command("h1", p.command, timeout=10, stdin=p.stdin)
        assert (raw.exit_status, raw.stdout, clean(raw.stderr)) == (0, "0\n", "")
        done = await run(engine, "h1", "id -u", sudo=True, password=None, timeout=10)
        assert done.ok and done.result.stdout == "0\n" and done.attempts == 1 and done.message is None
        # an operator's own "sudo -u" is kept: anything as nobody is NOPASSWD
        as_nobody = await run(engine, "h1", "sudo -u nobody id -un", sudo=False, password=None, timeout=10)
        assert as_nobody.result.stdout == "nobody\n"
        assert as_nobody.prepared.command == "sudo -n -u nobody -- id -un"


async def test_password_command_without_password_fails_fast(sudo_fleet: SudoFleet) -> None:
    async with Engine(load_config(sudo_fleet.config)) as engine:
        await engine.run_command("h1", "true", timeout=10)  # connected: time sudo, not the handshake
        began = time.monotonic()
        done = await run(engine, "h1", "whoami", sudo=True, password=None, timeout=30, user=sudo_fleet.user.name)
        elapsed = time.monotonic() - began
    assert elapsed < 2.0, elapsed  # -n: no prompt, no wait for the 30 s deadline
    assert done.result.exit_status == 1 and not done.result.timed_out and done.result.stdout == ""
    assert done.message == ("sudo needs a password on h1: allow NOPASSWD for this command, "
                            "or start the cockpit with --ask-sudo")


async def test_password_command_with_password(sudo_fleet: SudoFleet) -> None:
    pw = sudo_fleet.password
    streamed: list[tuple[str, str]] = []
    async with Engine(load_config(sudo_fleet.config)) as engine:
        add_to_redactor(engine.redactor, SudoPassword(pw))
        counting = Counting(engine)
        done = await run(counting, "h1", "whoami", sudo=True, password=SudoPassword(pw), timeout=10,
                         on_output=lambda s, t: streamed.append((s, t)))
        assert done.ok, done
        assert done.result.stdout == "root\n" and clean(done.result.stderr) == ""  # -p '': no prompt printed
        assert done.attempts == 2 and done.prepared.mode == "-S" and done.message is None
        assert counting.calls == [("sudo -n -- whoami", False), ("sudo -S -p '' -k -- whoami", True)]
        assert all(pw not in c for c, _ in counting.calls)  # never on a command line
        # the -n try's "a password is required" was held back, not streamed to the operator
        assert "".join(t for _, t in streamed if "resolve host" not in t) == "root\n"
        # through sh -c too (the rule names the shell)
        both = await run(engine, "h1", "whoami; id -un", sudo=True, password=pw, timeout=10)
        assert both.result.stdout == "root\nroot\n" and both.prepared.via_shell
        # and as another user that needs the password
        daemon = await run(engine, "h1", "sudo -u daemon id -un", sudo=False, password=pw, timeout=10)
        assert daemon.result.stdout == "daemon\n" and daemon.attempts == 2
        for res in (done.result, both.result, daemon.result):
            raw = res.stdout + res.stderr
            assert pw not in raw and engine.redactor.redact(raw) == raw
        assert engine.redactor.redact(f"x{pw}y") == "x***y"


async def test_wrong_password_fails_once_and_is_not_retried(sudo_fleet: SudoFleet) -> None:
    wrong = "not-" + sudo_fleet.password
    async with Engine(load_config(sudo_fleet.config)) as engine:
        add_to_redactor(engine.redactor, wrong)
        counting = Counting(engine)
        done = await run(counting, "h1", "whoami", sudo=True, password=wrong, timeout=15)
    res = done.result
    assert res.exit_status == 1 and res.stdout == ""
    assert done.message == "wrong sudo password on h1; not retried: restart with --ask-sudo"
    assert "1 incorrect password attempt" in res.stderr  # one line fed, so sudo tried it once
    assert [with_stdin for _, with_stdin in counting.calls] == [False, True]  # and the cockpit did not retry
    for secret in (wrong, sudo_fleet.password):
        assert secret not in res.stdout + res.stderr


async def test_password_is_never_fed_to_a_command_that_needs_none(sudo_fleet: SudoFleet) -> None:
    """Why run() tries -n first: sudo -S for a NOPASSWD command leaves the password on the command's stdin."""
    pw = sudo_fleet.password
    async with Engine(load_config(sudo_fleet.config)) as engine:
        add_to_redactor(engine.redactor, pw)
        blunt = prepare("sudo -u nobody cat", sudo=False, password=pw)
        leaked = await engine.run_command("h1", blunt.command, timeout=10, stdin=blunt.stdin)
        assert leaked.stdout == pw + "\n"  # the hazard is real...
        assert engine.redactor.redact(leaked.stdout) == "***\n"  # ...and the redactor masks it in output
        done = await run(engine, "h1", "sudo -u nobody cat", sudo=False, password=pw, timeout=10)
        assert done.ok and done.result.stdout == "" and done.attempts == 1  # -n sufficed: stdin stayed /dev/null


async def test_not_allowed_and_sudo_missing(sudo_fleet: SudoFleet) -> None:
    pw = sudo_fleet.password
    u = sudo_fleet.user.name
    async with Engine(load_config(sudo_fleet.config)) as engine:
        done = await run(engine, "h1", "ls /", sudo=True, password=pw, timeout=15)
        assert done.message == f"{u} may not run sudo on h1: no sudoers rule for '/usr/bin/ls /' as root"
        # under -n sudo does not say "not allowed" before authenticating: it asks for the password
        blind = await run(engine, "h1", "ls /", sudo=True, password=None, timeout=10)
        assert blind.message is not None and blind.message.startswith("sudo needs a password on h1")
        p = prepare("id -u", sudo=True, password=None)
        missing = await engine.run_command("h1", "PATH=/nonexistent; " + p.command, timeout=10)
        assert missing.exit_status == 127
        assert explain("h1", missing.exit_status, missing.stderr, p) == (
            "sudo is not installed on h1 (or not on the PATH of the login user): install it, "
            "or run the command without sudo")


async def test_sudo_as_written_cannot_hang(sudo_fleet: SudoFleet) -> None:
    async with Engine(load_config(sudo_fleet.config)) as engine:
        began = time.monotonic()
        done = await run(engine, "h1", "sudo whoami && echo ran", sudo=False, password=sudo_fleet.password,
                         timeout=30)
        assert time.monotonic() - began < 5
    assert done.prepared.mode == "as-written" and done.attempts == 1
    assert "a terminal is required to read the password" in done.result.stderr
    assert done.message is not None and "without shell syntax" in done.message


async def test_requiretty_is_explained(sudo_fleet: SudoFleet) -> None:
    u = sudo_fleet.user.name
    tty = sudo_fleet.user.install_dropin(f"Defaults:{u} requiretty", suffix="tty")
    try:
        async with Engine(load_config(sudo_fleet.config)) as engine:
            for pw in (None, sudo_fleet.password):
                done = await run(engine, "h1", "id -u", sudo=True, password=pw, timeout=10, user=u)
                assert done.result.exit_status == 1 and done.attempts == 1
                assert done.message == (f"sudo on h1 requires a tty (Defaults requiretty in sudoers): remove "
                                        f"requiretty for this user, e.g. Defaults:{u} !requiretty")
    finally:
        sudo_fleet.user.remove_dropin(tty)
    assert not tty.exists()


def test_sudo_step_in_the_runbook_fails_fast_then_works_with_the_password(sudo_fleet: SudoFleet, tmp_path: Path) -> None:
    """A runbook step with sudo = true: no password -> fails at once with the fix; --ask-sudo -> runs;
    the password is in no output, journal or report."""
    import asyncio

    from cockpit.report import build_report
    from cockpit.session import Session

    text = """
[[phases]]
id = "p"
title = "Privileged"

  [[phases.steps]]
  id = "who"
  title = "Who am I as root"
  on = ["h1"]
  run = "whoami"
  sudo = true
"""
    path = write_config(tmp_path, sudo_fleet.fleet, text)
    pw = sudo_fleet.password

    async def run() -> None:
        s = Session(load_config(path), "alice")
        try:
            await s.engine.run_round()
            began = time.monotonic()
            view = await s.runbook.run_step("p.who")
            assert time.monotonic() - began < 5
            assert view.state == "failed"
            assert "sudo needs a password on h1" in view.checks[0].detail
            s.engine.actions.set_sudo_password(SudoPassword(pw))
            view = await s.runbook.run_step("p.who")
            assert view.state == "done", view
            assert s.journal is not None
            actions = s.journal.actions()
            assert actions[-1]["runs"][0]["output"].strip().endswith("root")
            everything = repr(s.journal.timeline(output=True)) + build_report(s.config, s.journal)
            assert pw not in everything
        finally:
            await s.close()

    asyncio.run(run())


async def test_ask_sudo_in_the_cockpit_is_masked_and_used(sudo_fleet: SudoFleet, tmp_path: Path) -> None:
    from textual.widgets import Input

    from cockpit.session import Session
    from screens.app import CockpitApp

    text = '[actions.who]\nkey = "w"\ntitle = "whoami as root"\non = ["h1"]\nrun = "sudo whoami"\n'
    path = write_config(tmp_path, sudo_fleet.fleet, text)
    session = Session(load_config(path), "alice")
    app = CockpitApp(session.engine, quiet=True, session=session, ask_sudo=True)
    pw = sudo_fleet.password
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.pause(0.2)
        assert app.screen.__class__.__name__ == "ReasonPrompt"
        box = app.screen.query_one(Input)
        assert box.password  # masked
        await pilot.press(*pw)
        await pilot.pause(0.1)
        screen_text = app.export_screenshot()
        assert pw not in screen_text and "•" * 4 in screen_text  # what the operator sees: bullets
        await pilot.press("enter")
        await pilot.pause(0.2)
        assert app.engine.actions.sudo_password is not None
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not (app.snapshot and app.snapshot.hosts[0].reachable):
            await pilot.pause(0.1)
        await pilot.press("w")
        while time.monotonic() < deadline and not (app.engine.actions.history and app.engine.actions.history[-1].done):
            await pilot.pause(0.1)
        run = app.engine.actions.history[-1]
        assert run.runs[0].state == "ok" and run.runs[0].output.strip().endswith("root")
        assert pw not in run.runs[0].output


async def test_env_reaches_the_command_under_sudo_after_the_password_and_never_an_argv(
        sudo_fleet: SudoFleet) -> None:
    """Issue 14, finding 6: ``env`` under sudo -n and sudo -S (password line first, then the exports)."""
    import threading

    import psutil

    secret = "env-" + secrets.token_hex(6)
    pw = sudo_fleet.password
    hits: list[str] = []
    stop = threading.Event()

    def scan() -> None:
        deadline = time.monotonic() + 30
        while not stop.is_set() and time.monotonic() < deadline:
            for proc in psutil.process_iter(["cmdline"]):
                line = " ".join(proc.info["cmdline"] or [])
                if secret in line or pw in line:
                    hits.append(line)
            time.sleep(0.02)

    watcher = threading.Thread(target=scan, daemon=True)
    watcher.start()
    try:
        async with Engine(load_config(sudo_fleet.config)) as engine:
            nobody = await run(engine, "h1", "sudo -u nobody sh -c 'sleep 0.5; id -un; printenv TOK'", sudo=False,
                               password=None, timeout=10, env={"TOK": secret})
            daemon = await run(engine, "h1", "sudo -u daemon sh -c 'sleep 0.5; id -un; printenv TOK'", sudo=False,
                               password=pw, timeout=10, env={"TOK": secret})
    finally:
        stop.set()
        watcher.join(5)
    assert nobody.result.stdout == f"nobody\n{secret}\n" and nobody.prepared.mode == "-n", nobody
    assert daemon.result.stdout == f"daemon\n{secret}\n" and daemon.prepared.mode == "-S", daemon
    assert hits == []
