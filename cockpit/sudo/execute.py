"""Running a command through sudo (:func:`run`), and saying in one line why sudo refused (:func:`explain`).

With a password, :func:`run` tries ``sudo -n`` first and feeds the password only
when sudo said it needs one (see :mod:`cockpit.sudo`, which re-exports this module).
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from cockpit.sudo.rewrite import Prepared, SudoPassword, prepare
from cockpit.transports import DEFAULT_MAX_OUTPUT, CommandResult, OutputCallback

# -- what went wrong --------------------------------------------------------------------

_NOT_IN_SUDOERS = re.compile(r"^(?:sudo: )?(\S+) is not in the sudoers file", re.M)
_NOT_ALLOWED = re.compile(r"^(?:sudo: )?Sorry, user (\S+) is not allowed to execute '(.*)' as (\S+) on ", re.M)
_NOT_ALLOWED_SHORT = re.compile(r"^(?:sudo: )?Sorry, user (\S+) (?:is not allowed|may not run sudo)", re.M)
_UNKNOWN = re.compile(r"^sudo: unknown (user|group):? (\S+)", re.M)
_NOT_FOUND = re.compile(r"(?:^|: )(?:\S*/)?sudo: (?:command )?not found", re.M)
_CMD_NOT_FOUND = re.compile(r"^sudo: (\S+): command not found", re.M)


def needs_password(result: CommandResult) -> bool:
    """Did ``sudo -n`` stop before running anything because it needs a password?

    True only when the command printed nothing of its own: exit status 1, no
    stdout, and every stderr line is sudo's, one of them "a password is required".
    """
    if result.exit_status != 1 or result.stdout.strip():
        return False
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    return bool(lines) and all(ln.startswith("sudo: ") for ln in lines) and "sudo: a password is required" in lines


def explain(host: str, exit_status: int | None, output: str, prepared: Prepared, *,
            user: str | None = None) -> str | None:
    """A one-line operator message when a failure is sudo's (else None).

    ``output``: the command's stderr (or stdout and stderr); ``user``: the login
    user on ``host``, for the requiretty fix.
    """
    if exit_status == 0 or exit_status is None:
        return None
    who = user or "USER"
    if exit_status == 127 and _NOT_FOUND.search(output):
        return f"sudo is not installed on {host} (or not on the PATH of the login user): install it, or run the command without sudo"
    if not prepared.uses_sudo:
        return None
    if "you must have a tty to run sudo" in output:
        return (f"sudo on {host} requires a tty (Defaults requiretty in sudoers): remove requiretty for this user, "
                f"e.g. Defaults:{who} !requiretty")
    if "incorrect password attempt" in output or (prepared.mode == "-S" and "Sorry, try again." in output):
        return f"wrong sudo password on {host}; not retried: restart with --ask-sudo"
    m = _NOT_IN_SUDOERS.search(output)
    if m:
        return f"{m.group(1)} may not run sudo on {host}: not in the sudoers file; ask for a sudoers rule for this command"
    m = _NOT_ALLOWED.search(output)
    if m:
        shell = (" (it contains shell syntax, so it ran as sh -c: sudoers must allow the shell, "
                 "or make it a simple command)") if prepared.via_shell else ""
        return f"{m.group(1)} may not run sudo on {host}: no sudoers rule for '{m.group(2)}' as {m.group(3)}{shell}"
    m = _NOT_ALLOWED_SHORT.search(output)
    if m:
        return f"{m.group(1)} may not run sudo on {host}: sudoers does not allow this command"
    m = _CMD_NOT_FOUND.search(output)
    if m:
        return f"sudo on {host}: {m.group(1)} not found in sudo's secure_path: use its full path"
    m = _UNKNOWN.search(output)
    if m:
        return f"sudo on {host}: unknown {m.group(1)} {m.group(2)} (check sudo -u / -g)"
    if "sudo: a password is required" in output or "a terminal is required to read the password" in output:
        if prepared.mode == "as-written":
            return (f"sudo needs a password on {host}: allow NOPASSWD for this command, or write it as "
                    f"'sudo [-u USER] CMD ARGS' without shell syntax (or set sudo = true) so --ask-sudo can answer")
        if prepared.mode == "-S":  # sudo got an empty line: should not happen
            return f"sudo on {host} did not get the password: restart with --ask-sudo"
        return (f"sudo needs a password on {host}: allow NOPASSWD for this command, "
                f"or start the cockpit with --ask-sudo")
    if "sudo: account validation failure" in output:
        return f"sudo on {host}: the account of {who} is locked or expired (account validation failure)"
    return None


# -- running --------------------------------------------------------------------------------


class Executor(Protocol):
    """What :func:`run` needs: the engine's ``run_command``."""

    def run_command(self, host: str, command: str, *, timeout: float | None,
                    on_output: OutputCallback | None = ..., max_output: int = ...,
                    stdin: str | None = ...) -> Awaitable[CommandResult]: ...


@dataclass(frozen=True)
class SudoRun:
    """The outcome of :func:`run`: the last attempt's result and how it was run."""

    result: CommandResult
    prepared: Prepared  # of the last attempt (its stdin holds the password: do not log it)
    attempts: int  # 2 when sudo -n said a password is needed and it was run again with -S
    message: str | None  # explain() of the last attempt

    @property
    def ok(self) -> bool:
        return self.result.ok


class _HoldSudoLines:
    """Forwards output, but holds back stderr that is only ``sudo:`` lines until it is known to be real.

    During the ``-n`` try, sudo's "a password is required" must not reach the
    operator if the command is then run again with the password.
    """

    def __init__(self, downstream: OutputCallback | None) -> None:
        self.down = downstream
        self.held: list[tuple[str, str]] = []
        self.err = ""
        self.passing = downstream is None

    def __call__(self, stream: str, text: str) -> None:
        if self.down is None:
            return
        if self.passing:
            self.down(stream, text)
            return
        self.held.append((stream, text))
        if stream == "stderr":
            self.err += text
        lines = self.err.split("\n")
        if stream == "stdout" or any(not "sudo: ".startswith(ln[:6]) for ln in lines if ln):
            self.release()

    def release(self) -> None:
        self.passing = True
        if self.down is not None:
            for stream, text in self.held:
                self.down(stream, text)
        self.held = []


async def run(executor: Executor, host: str, command: str, *, sudo: bool,
              password: str | SudoPassword | None, timeout: float | None,
              on_output: OutputCallback | None = None, max_output: int = DEFAULT_MAX_OUTPUT,
              user: str | None = None, clock: Callable[[], float] = time.monotonic,
              env: Mapping[str, str] | None = None) -> SudoRun:
    """Run ``command`` on ``host`` through sudo as :func:`prepare` says, without leaking the password.

    With a password, sudo is first tried with ``-n``; only if it answers that a
    password is required (it then ran nothing) is the command run again with
    ``-S`` and the password on stdin. A wrong password is never retried.
    """
    plain = prepare(command, sudo=sudo, password=None, env=env)
    if password is None or plain.mode != "-n":
        res = await executor.run_command(host, plain.command, timeout=timeout, on_output=on_output,
                                         max_output=max_output, stdin=plain.stdin)
        return SudoRun(res, plain, 1, _explain(host, res, plain, user))
    began = clock()
    hold = _HoldSudoLines(on_output)
    first = await executor.run_command(host, plain.command, timeout=timeout, on_output=hold,
                                       max_output=max_output, stdin=plain.stdin)
    if not needs_password(first):
        hold.release()
        return SudoRun(first, plain, 1, _explain(host, first, plain, user))
    with_pw = prepare(command, sudo=sudo, password=password, env=env)
    left = None if timeout is None else max(0.1, timeout - (clock() - began))
    res = await executor.run_command(host, with_pw.command, timeout=left, on_output=on_output,
                                     max_output=max_output, stdin=with_pw.stdin)
    return SudoRun(res, with_pw, 2, _explain(host, res, with_pw, user))


def _explain(host: str, res: CommandResult, prepared: Prepared, user: str | None) -> str | None:
    return explain(host, res.exit_status, res.stderr + "\n" + res.stdout, prepared, user=user)
