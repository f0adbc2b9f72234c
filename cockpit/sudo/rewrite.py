"""Rewriting a command so sudo runs it without a terminal: :func:`prepare`, and the password it may carry.

The rules (``-n`` without a password, ``-S -p '' -k`` with one, simple commands
as their own argv, anything else as ``sh -c``) are described in :mod:`cockpit.sudo`,
which re-exports everything public here.
"""

from __future__ import annotations

import getpass
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from cockpit.errors import SudoError
from cockpit.secrets import Redactor

Mode = Literal["plain", "-n", "-S", "as-written"]


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
    stdin: str | None  # the password line for sudo -S, then the env's export lines; None: stdin is /dev/null
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


#: prefixed to a command that has an environment: the shell reads the ``export`` lines sent on its stdin
#: (after sudo's password line), so no value is ever in an argv on either side
ENV_READ = 'eval "$(cat)"; '


def env_preamble(env: Mapping[str, str] | None) -> str:
    """The ``export NAME='value'`` lines :data:`ENV_READ` evaluates (values quoted for any content)."""
    return "".join(f"export {name}={shlex.quote(value)}\n" for name, value in (env or {}).items())


def prepare(command: str, *, sudo: bool, password: str | SudoPassword | None,
            env: Mapping[str, str] | None = None) -> Prepared:
    """Rewrite ``command`` for a run without a terminal (see the module doc).

    ``sudo``: run the whole command as root. A command starting with ``sudo `` is
    rewritten whatever ``sudo`` says: its options ``-u``, ``-g``, ``-E``, ``-H``
    (and long forms) are kept. A sudo form that cannot be rewritten safely (other
    options, or shell syntax after it: ``sudo a | b`` runs only ``a`` as root) is
    left as written: with stdin /dev/null and no tty it cannot hang.

    ``env``: variables for the command, sent on stdin (after the password line) and read by
    :data:`ENV_READ` in the shell that runs it: under sudo, the command then runs as ``sh -c``
    (sudo clears the environment it was started with). A sudo form left as written gets
    them outside sudo only.

    Raises:
        SudoError: ``sudo -i`` / ``--login``, or a password with a line break.
    """
    pw = _password_text(password)
    stripped = command.strip()
    leading = _leading_sudo(stripped)
    preamble = env_preamble(env)
    if not sudo and not leading:
        if preamble:
            return Prepared(ENV_READ + command, preamble, False, "plain", original=command)
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
            return _as_written(command, preamble)
        parsed = _parse_sudo(words[1:])
        if parsed is None:
            return _as_written(command, preamble)
        prefix = [words[0]]
        opts, argv = parsed
        if any(_is_sudo_word(w) for w in argv[:1]):  # "sudo sudo x"
            return _as_written(command, preamble)
    else:
        words = simple_words(stripped)
        if words is not None:
            argv = words
        else:
            argv, via_shell = ["sh", "-c", stripped], True
    if preamble:
        argv, via_shell = ["sh", "-c", ENV_READ + (argv[2] if via_shell else _quote(argv))], True
    if pw is None:
        line = _quote([*prefix, "-n", *opts, "--", *argv])
        return Prepared(line, preamble or None, True, "-n", via_shell, command)
    line = _quote([*prefix, "-S", "-p", "", "-k", *opts, "--", *argv])
    return Prepared(line, pw + "\n" + preamble, True, "-S", via_shell, command)


def _as_written(command: str, preamble: str) -> Prepared:
    if preamble:
        return Prepared(ENV_READ + command, preamble, True, "as-written", original=command)
    return Prepared(command, None, True, "as-written", original=command)
