"""One error hierarchy for the whole engine.

Library errors (asyncssh, httpx, OSError) are turned into these at the engine
boundary, with a message an operator can act on::

    CockpitError                 message + optional hint (what to do)
    ├── ConfigError              one or more ConfigIssue (file, key, line, fix); exit 2
    ├── UsageError               bad command line; exit 2
    ├── ConditionError           a gate/verify condition does not parse (column, expected)
    ├── JournalError             the journal cannot be opened or written; actions refused
    │   ├── LeaseLost            a decision refused: this cockpit's lease generation is not the current one
    │   └── JournalUnavailable   the journal's database cannot be reached now (outage): refused, spooled
    ├── RunbookError             a runbook operation is not allowed now (locked, observer…)
    ├── SudoError                sudo used in a way the cockpit refuses (``sudo -i``), a bad password value
    ├── DetachError              a detached job could not be started or controlled
    ├── PlaceholderError         a placeholder's value is not safe in a shell command (typed commands)
    ├── MetricsError             a metrics source (Prometheus) failed or refused a query; names the query
    ├── FilterError              a fleet filter term does not parse (the term, what is allowed)
    └── TransportError           host + short reason code shown in the UI
        ├── ConnectFailed        refused, timeout, dns, unreachable
        ├── AuthFailed           never retried automatically (fail2ban)
        ├── HostKeyError         host-key-unknown / host-key-CHANGED, with fingerprint
        ├── CommandTimeout       the command's deadline passed; it was signalled
        └── DetachTimeout        a detached job's control command got no answer (a hung host)

Every class is defined here, so this tree is complete; ``tests/test_errors.py`` checks it against
``CockpitError.__subclasses__()``. The areas re-export the ones they raise (``cockpit.journal.JournalError``).
"""

from __future__ import annotations

from dataclasses import dataclass


class CockpitError(Exception):
    """Base of every error the cockpit raises on purpose."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message}\n  fix: {self.hint}" if self.hint else self.message


@dataclass(frozen=True)
class ConfigIssue:
    """One problem in a config file, located as precisely as TOML allows."""

    file: str
    key: str
    message: str
    fix: str = ""
    line: int | None = None

    def render(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        key = f" [{self.key}]" if self.key else ""
        fix = f"\n    fix: {self.fix}" if self.fix else ""
        return f"{where}:{key} {self.message}{fix}"


class ConfigError(CockpitError):
    """The config (or an inventory it imports) is invalid; carries every issue found."""

    def __init__(self, issues: list[ConfigIssue] | ConfigIssue) -> None:
        self.issues = [issues] if isinstance(issues, ConfigIssue) else list(issues)
        super().__init__("\n".join(i.render() for i in self.issues))

    def __str__(self) -> str:
        return self.message


class UsageError(CockpitError):
    """The command line is wrong."""


class ConditionError(CockpitError):
    """A condition does not parse; ``reason`` is the one-line form (``col N: expected ..., got ...``)."""

    def __init__(self, text: str, pos: int, reason: str, hint: str | None = None) -> None:
        self.text = text
        self.column = pos + 1
        self.reason = f"col {pos + 1}: {reason}"
        shown = "".join(c if c.isprintable() else " " for c in text)
        super().__init__(f"{self.reason}\n    {shown}\n    {' ' * pos}^", hint)


class JournalError(CockpitError):
    """The journal could not be opened, read or written; the message names the file and what went wrong."""


class LeaseLost(JournalError):
    """A driver decision was refused because another cockpit took the lease (fencing); demote to observer."""


class JournalUnavailable(JournalError):
    """The journal's database does not answer now (down, unreachable, too slow): actions are refused until
    it is back; observations are spooled on disk and flushed in order when it returns."""


class RunbookError(CockpitError):
    """A runbook operation is not allowed now (locked phase, observer, journal unwritable…)."""


class SudoError(CockpitError):
    """A command uses sudo in a way the cockpit refuses (``sudo -i``), or a bad password value."""


class DetachError(CockpitError):
    """A detached job could not be started or controlled (the host answered, but not as expected)."""


class PlaceholderError(CockpitError):
    """A ``{host}``-style placeholder would put a value that is not shell-safe into a command; nothing ran."""


class MetricsError(CockpitError):
    """A metrics source did not answer a query, or answered with an error; ``query`` is the PromQL it ran.

    A condition that meets one is inconclusive with this message (never true): the gate waits on it.
    """

    def __init__(self, message: str, query: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.query = query


class FilterError(CockpitError):
    """A term of the fleet filter (``/``) does not parse; the message names the term and what is allowed."""


class TransportError(CockpitError):
    """A host could not be reached or a command could not complete.

    ``reason`` is the short code the dashboard shows (``refused``, ``timeout``,
    ``auth-failed``, ``host-key-CHANGED`` ...).
    """

    def __init__(self, host: str, reason: str, message: str, hint: str | None = None) -> None:
        super().__init__(message, hint)
        self.host = host
        self.reason = reason


class ConnectFailed(TransportError):
    """TCP or SSH handshake failed: refused, timed out, name not resolved."""


class AuthFailed(TransportError):
    """Authentication was refused. Never retried automatically: fail2ban bans retry loops."""


class HostKeyError(TransportError):
    """The host's key is not in known_hosts (``host-key-unknown``) or differs (``host-key-CHANGED``)."""

    def __init__(self, host: str, reason: str, message: str, fingerprint: str, hint: str | None = None) -> None:
        super().__init__(host, reason, message, hint)
        self.fingerprint = fingerprint


class CommandTimeout(TransportError):
    """A command ran past its deadline; its process group was signalled TERM then KILL."""


class DetachTimeout(TransportError):
    """A control command got no answer in time (a hung host); like a lost connection, worth retrying."""
