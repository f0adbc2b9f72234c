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

A command's ``env`` (secrets for it) travels the same way: ``export`` lines on stdin after the password
line, read by the shell that runs the command (``sh -c`` under sudo), never on a command line.

The password never appears on a command line; the caller adds it to the
engine's :class:`~cockpit.secrets.Redactor` (:func:`add_to_redactor`).

The code lives in :mod:`cockpit.sudo.rewrite` (rewriting, the password) and
:mod:`cockpit.sudo.execute` (running, explaining failures), which imports the first;
both are re-exported here, so import from this module.
"""

from __future__ import annotations

from cockpit.errors import SudoError
from cockpit.sudo.execute import SudoRun, explain, needs_password, run
from cockpit.sudo.rewrite import ENV_READ, Prepared, SudoPassword, add_to_redactor, env_preamble, prepare, simple_words

__all__ = [
    "ENV_READ",
    "Prepared",
    "SudoError",
    "SudoPassword",
    "SudoRun",
    "add_to_redactor",
    "env_preamble",
    "explain",
    "needs_password",
    "prepare",
    "run",
    "simple_words",
]
