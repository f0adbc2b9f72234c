"""``${NAME}`` substitution from the environment, and redaction of what it produced.

Only a few config fields are resolved (addresses, users, URLs, headers); the
values they pull in are treated as secrets and replaced by ``***`` wherever the
cockpit shows or writes text. ``$${`` writes a literal ``${``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping

__all__ = ["MASK", "SHOWN_MASK", "BadReference", "MissingEnvVar", "Redactor", "resolve_env"]

MASK = "***"
#: what a confirmation and ``--dry-run`` show in place of a secret (the command as it will run, secrets hidden)
SHOWN_MASK = "••••"

# $${ (escape) | ${NAME} | ${ anything else (malformed)
_TOKEN = re.compile(r"\$\$\{|\$\{([A-Za-z_][A-Za-z0-9_]*)\}|\$\{")


class MissingEnvVar(KeyError):
    """A ``${NAME}`` reference names a variable that is not set."""

    def __init__(self, name: str) -> None:
        super().__init__(name)
        self.name = name

    def __str__(self) -> str:
        return f"environment variable {self.name} is not set"


class BadReference(ValueError):
    """A ``${`` is not followed by ``NAME}``."""

    def __init__(self, text: str, position: int) -> None:
        snippet = text[position : position + 20]
        super().__init__(f"malformed reference {snippet!r}: expected ${{NAME}} with NAME made of letters, digits and _")
        self.position = position


def resolve_env(text: str, env: Mapping[str, str]) -> tuple[str, frozenset[str]]:
    """Substitute ``${NAME}`` in ``text`` from ``env``.

    Returns the resolved text and the non-empty values that were substituted
    (the secrets to redact).

    Raises:
        MissingEnvVar: the first referenced variable that ``env`` lacks.
        BadReference: a ``${`` that does not start a valid reference.
    """
    if "${" not in text:
        return text, frozenset()
    found: set[str] = set()

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "$${":
            return "${"
        name = match.group(1)
        if name is None:
            raise BadReference(text, match.start())
        if name not in env:
            raise MissingEnvVar(name)
        value = env[name]
        if value:
            found.add(value)
        return value

    return _TOKEN.sub(replace, text), frozenset(found)


def _forms(secret: str) -> set[str]:
    """The ways a secret shows up in text: as is, escaped by repr/bytes repr/JSON, and line by line.

    An exception's message is often a ``repr`` (``b'Bearer a\\nb'``, ``'M\\xfcller'``): masking only the
    exact value would let those through. A multi-line secret's lines (4 characters or more) are masked
    on their own, since a message may print just one of them.
    """
    forms = {secret, repr(secret)[1:-1], secret.encode("unicode_escape").decode("ascii"),
             str(secret.encode("utf-8"))[2:-1], json.dumps(secret)[1:-1], json.dumps(secret, ensure_ascii=False)[1:-1]}
    lines = secret.splitlines()
    if len(lines) > 1:
        forms |= {line for line in lines if len(line) >= 4}
    return {f for f in forms if f}


class Redactor:
    """Replaces every occurrence of any secret (in any of its escaped forms) with ``***``.

    Longest forms are matched first so that a secret containing another is
    masked whole. With no secrets, both methods return their input unchanged.
    """

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets: tuple[str, ...] = tuple(sorted({s for s in secrets if s}, key=lambda s: (-len(s), s)))
        unique = sorted({f for s in self.secrets for f in _forms(s)}, key=lambda s: (-len(s), s))
        if unique:
            self._text: re.Pattern[str] | None = re.compile("|".join(re.escape(s) for s in unique))
            encoded = sorted({s.encode() for s in unique}, key=lambda b: (-len(b), b))
            self._bytes: re.Pattern[bytes] | None = re.compile(b"|".join(re.escape(b) for b in encoded))
        else:
            self._text = None
            self._bytes = None

    def add(self, secret: str) -> None:
        """Mask one more secret from now on (the --ask-sudo password), for every holder of this redactor."""
        if secret and secret not in self.secrets:
            self.__init__((*self.secrets, secret))  # type: ignore[misc]

    def __bool__(self) -> bool:
        return bool(self.secrets)

    def __repr__(self) -> str:
        return f"Redactor({len(self.secrets)} secrets)"

    def redact(self, text: str, mask: str = MASK) -> str:
        """Return ``text`` with every secret replaced by ``mask`` (``***``)."""
        if self._text is None:
            return text
        return self._text.sub(mask, text)

    def redact_bytes(self, data: bytes) -> bytes:
        """Return ``data`` with every UTF-8-encoded secret replaced by ``b"***"``."""
        if self._bytes is None:
            return data
        return self._bytes.sub(MASK.encode(), data)
