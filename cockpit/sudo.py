"""Running commands through sudo without a terminal, without hanging, without leaking the password.

A cockpit command has no PTY and its stdin is /dev/null, so a bare ``sudo`` that
wants a password fails at once ("a terminal is required"). This module rewrites
commands so sudo's behaviour is explicit:

- no password known: ``sudo -n [opts] -- CMD`` (``-n``: fail at once if a password is needed);
- a password known (``--ask-sudo``): ``sudo -S -p '' -k [opts] -- CMD`` with the password on stdin
  (``-S``: read it from stdin; ``-p ''``: print no prompt; ``-k``: ignore and never leave a cached ticket).

A *simple* command (words only: no pipes, redirections, ``;``, ``&&``, ``$``,
globs...) is passed to sudo as its own argv, so a sudoers rule for that exact
command (``NOPASSWD: /usr/bin/systemctl restart app``) matches. Anything else
runs as ``sh -c 'CMD'`` under sudo, which sudoers sees as ``/bin/sh -c ...``: it
needs sudo rights for the shell.

:func:`run` is what callers should use: with a password it first tries ``-n``
and feeds the password only if sudo said it needs one. ``sudo -S`` for a command
sudo lets run without a password (NOPASSWD) would hand the unread password line
to the command's stdin (``cat``, ``tee`` or ``psql`` would read it).

The password never appears on a command line; the caller adds it to the
engine's :class:`~cockpit.secrets.Redactor` (:func:`add_to_redactor`).
"""

from __future__ import annotations

import getpass
import re
import shlex
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from cockpit.errors import CockpitError
from cockpit.secrets import Redactor
from cockpit.transports.base import DEFAULT_MAX_OUTPUT, CommandResult, OutputCallback

__all__ = [
    "Prepared",
    "SudoError",
    "SudoPassword",
    "SudoRun",
    "add_to_redactor",
    "explain",
    "needs_password",
    "prepare",
    "run",
]

Mode = Literal["plain", "-n", "-S", "as-written"]


class SudoError(CockpitError):
    """A command uses sudo in a way the cockpit refuses (``sudo -i``), or a bad password value."""


class SudoPassword:
    """The operator's sudo password, kept in memory only; never shown by ``repr``/``str``.

    Python strings cannot be wiped: the value lives until the process ends. It is
    never written to the journal, a log or a command line.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        _check_password(value)
        self._value = value

    @property
    def value(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "SudoPassword(***)"

    __str__ = __repr__

    def __reduce__(self) -> object:  # no pickling, so it never lands on disk by accident
        raise TypeError("a SudoPassword cannot be pickled")

    @classmethod
    def ask_terminal(cls, prompt: str = "sudo password (kept in memory only): ") -> SudoPassword:
        """Read it from the controlling terminal without echo (headless ``--ask-sudo``)."""
        return cls(getpass.getpass(prompt))


def _check_password(value: str) -> None:
    if not value:
        raise SudoError("empty sudo password", "type the password, or start without --ask-sudo")
    if "\n" in value or "\r" in value:
        raise SudoError("a sudo password cannot contain a line break (sudo -S reads one line)")


def _password_text(password: str | SudoPassword | None) -> str | None:
    if password is None:
        return None
    text = password.value if isinstance(password, SudoPassword) else password
    _check_password(text)
    return text


def add_to_redactor(redactor: Redactor, password: str | SudoPassword) -> None:
    """Mask the password in everything ``redactor`` cleans, in place (every holder sees it)."""
    text = password.value if isinstance(password, SudoPassword) else password
    add = getattr(redactor, "add", None)
    if callable(add):  # a future Redactor.add(secret)
        add(text)
    else:  # the engine shares one Redactor object, so re-initialise it in place
        Redactor.__init__(redactor, (*redactor.secrets, text))


@dataclass(frozen=True)
class Prepared:
    """A command ready for ``Transport.run(command, stdin=...)``."""

    command: str
    stdin: str | None  # the password line for sudo -S, else None (stdin is /dev/null)
    uses_sudo: bool
    mode: Mode = "plain"  # "-n", "-S", "as-written" (a sudo form left unchanged), "plain" (no sudo)
    via_shell: bool = False  # the command runs as ``sh -c`` under sudo (sudoers must allow the shell)
    original: str = ""  # the command as the operator wrote it

    def __repr__(self) -> str:  # stdin holds the password: never show it
        stdin = "None" if self.stdin is None else "'***'"
        return f"Prepared(command={self.command!r}, stdin={stdin}, uses_sudo={self.uses_sudo}, mode={self.mode!r})"


# -- parsing ------------------------------------------------------------------------------

_META = frozenset(";&|<>()`$*?[]{}!~\n\r")
_RESERVED = frozenset({"if", "then", "else", "elif", "fi", "do", "done", "case", "esac", "while", "until", "for",
                       "in", "!", "{", "}", "[[", "]]", "function", "select", "time", "coproc"})


def simple_words(text: str) -> list[str] | None:
    """The words of ``text`` if it is one simple command (words, quotes, backslashes), else None.

    Conservative: any unquoted shell syntax (``; & | < > ( ) $ ` * ? [ ] { } ! ~``,
    a comment, a leading ``NAME=value``, a reserved word) or any ``$``/backquote in
    double quotes makes it "not simple", so it runs through ``sh -c``.
    """
    words: list[str] = []
    cur: list[str] = []
    in_word = False
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            if in_word:
                words.append("".join(cur))
                cur, in_word = [], False
            i += 1
        elif c == "'":
            j = text.find("'", i + 1)
            if j < 0:
                return None
            cur.append(text[i + 1 : j])
            in_word, i = True, j + 1
        elif c == '"':
            i += 1
            while True:
                if i >= n:
                    return None
                d = text[i]
                if d == '"':
                    i += 1
                    break
                if d in "$`":
                    return None
                if d == "\\":
                    if i + 1 >= n:
                        return None
                    e = text[i + 1]
                    if e in '"\\':
                        cur.append(e)
                        i += 2
                        continue
                    if e in "$`\n":
                        return None
                cur.append(d)
                i += 1
            in_word = True
        elif c == "\\":
            if i + 1 >= n or text[i + 1] == "\n":
                return None
            cur.append(text[i + 1])
            in_word, i = True, i + 2
        elif c in _META or (c == "#" and not in_word):
            return None
        else:
            cur.append(c)
            in_word, i = True, i + 1
    if in_word:
        words.append("".join(cur))
    if not words or "=" in words[0] or words[0] in _RESERVED:
        return None
    return words


def _is_sudo_word(word: str) -> bool:
    return word == "sudo" or word.endswith("/sudo")


def _leading_sudo(command: str) -> bool:
    parts = command.split(None, 1)
    return bool(parts) and _is_sudo_word(parts[0])


def _login_refused() -> SudoError:
    return SudoError("sudo -i (a login shell) is not supported by the cockpit",
                     "drop -i: use sudo -u USER -H -- CMD, or put the environment the command needs in the command")


def _parse_sudo(args: list[str]) -> tuple[list[str], list[str]] | None:
    """Split the words after ``sudo`` into (options to keep, command argv); None: cannot rewrite."""
    opts: list[str] = []
    i = 0

    def value(rest: str) -> str | None:
        nonlocal i
        if rest:
            return rest
        i += 1
        return args[i] if i < len(args) else None

    while i < len(args):
        a = args[i]
        if a == "--":
            i += 1
            break
        if a in ("-i", "--login") or (a.startswith("-") and not a.startswith("--") and "i" in a.split("u")[0].split("g")[0]):
            raise _login_refused()
        if a.startswith("--"):
            name, eq, val = a.partition("=")
            if name in ("--user", "--group"):
                v = val if eq else value("")
                if not v:
                    return None
                opts += ["-u" if name == "--user" else "-g", v]
            elif name == "--preserve-env":
                opts.append(a)
            elif name == "--set-home" and not eq:
                opts.append("-H")
            elif name == "--non-interactive" and not eq:
                pass
            else:
                return None
        elif a.startswith("-") and len(a) > 1:
            j = 1
            while j < len(a):
                f = a[j]
                if f in "EH":
                    opts.append("-" + f)
                elif f == "n":
                    pass
                elif f in "ug":
                    v = value(a[j + 1 :])
                    if not v:
                        return None
                    opts += ["-" + f, v]
                    break
                else:
                    return None  # -s, -S, -A, -b, -k, -l, -v, -C, -D, -T, -r, -t, -U ... left as written
                j += 1
        else:
            break
        i += 1
    argv = args[i:]
    if not argv or "=" in argv[0]:  # nothing to run, or sudo's VAR=value form
        return None
    return opts, argv


def _quote(words: list[str]) -> str:
    return " ".join(shlex.quote(w) for w in words)


def prepare(command: str, *, sudo: bool, password: str | SudoPassword | None) -> Prepared:
    """Rewrite ``command`` for a run without a terminal (see the module doc).

    ``sudo``: run the whole command as root. A command starting with ``sudo `` is
    rewritten whatever ``sudo`` says: its options ``-u``, ``-g``, ``-E``, ``-H``
    (and long forms) are kept. A sudo form that cannot be rewritten safely (other
    options, or shell syntax after it: ``sudo a | b`` runs only ``a`` as root) is
    left as written: with stdin /dev/null and no tty it cannot hang.

    Raises:
        SudoError: ``sudo -i`` / ``--login``, or a password with a line break.
    """
    pw = _password_text(password)
    stripped = command.strip()
    leading = _leading_sudo(stripped)
    if not sudo and not leading:
        return Prepared(command, None, False, "plain", original=command)
    prefix = ["sudo"]
    opts: list[str] = []
    via_shell = False
    if leading:
        words = simple_words(stripped)
        head = stripped.split(None, 1)
        if words is None:
            # still refuse -i, which no form makes safe
            tail = head[1].split() if len(head) > 1 else []
            for w in tail:
                if not w.startswith("-") or w == "--":
                    break
                if w in ("-i", "--login") or (not w.startswith("--") and "i" in w.split("u")[0].split("g")[0]):
                    raise _login_refused()
            return Prepared(command, None, True, "as-written", original=command)
        parsed = _parse_sudo(words[1:])
        if parsed is None:
            return Prepared(command, None, True, "as-written", original=command)
        prefix = [words[0]]
        opts, argv = parsed
        if any(_is_sudo_word(w) for w in argv[:1]):  # "sudo sudo x"
            return Prepared(command, None, True, "as-written", original=command)
    else:
        words = simple_words(stripped)
        if words is not None:
            argv = words
        else:
            argv, via_shell = ["sh", "-c", stripped], True
    if pw is None:
        line = _quote([*prefix, "-n", *opts, "--", *argv])
        return Prepared(line, None, True, "-n", via_shell, command)
    line = _quote([*prefix, "-S", "-p", "", "-k", *opts, "--", *argv])
    return Prepared(line, pw + "\n", True, "-S", via_shell, command)


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
              user: str | None = None, clock: Callable[[], float] = time.monotonic) -> SudoRun:
    """Run ``command`` on ``host`` through sudo as :func:`prepare` says, without leaking the password.

    With a password, sudo is first tried with ``-n``; only if it answers that a
    password is required (it then ran nothing) is the command run again with
    ``-S`` and the password on stdin. A wrong password is never retried.
    """
    plain = prepare(command, sudo=sudo, password=None)
    if password is None or plain.mode != "-n":
        res = await executor.run_command(host, plain.command, timeout=timeout, on_output=on_output,
                                         max_output=max_output, stdin=None)
        return SudoRun(res, plain, 1, _explain(host, res, plain, user))
    began = clock()
    hold = _HoldSudoLines(on_output)
    first = await executor.run_command(host, plain.command, timeout=timeout, on_output=hold,
                                       max_output=max_output, stdin=None)
    if not needs_password(first):
        hold.release()
        return SudoRun(first, plain, 1, _explain(host, first, plain, user))
    with_pw = prepare(command, sudo=sudo, password=password)
    left = None if timeout is None else max(0.1, timeout - (clock() - began))
    res = await executor.run_command(host, with_pw.command, timeout=left, on_output=on_output,
                                     max_output=max_output, stdin=with_pw.stdin)
    return SudoRun(res, with_pw, 2, _explain(host, res, with_pw, user))


def _explain(host: str, res: CommandResult, prepared: Prepared, user: str | None) -> str | None:
    return explain(host, res.exit_status, res.stderr + "\n" + res.stdout, prepared, user=user)
