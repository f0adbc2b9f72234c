"""Reading ``cockpit.toml``: file errors, TOML syntax errors, line numbers and typed values.

tomllib gives no positions, so :class:`Locator` finds a key's line by scanning
the source; :class:`Reader` collects every issue instead of raising on the first,
so one ``cockpit validate`` run shows them all.
"""

from __future__ import annotations

import difflib
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from cockpit.durations import ACCEPTED_FORMS, format_duration, parse_duration
from cockpit.errors import ConfigError, ConfigIssue
from cockpit.sanitize import strip_control
from cockpit.secrets import BadReference, MissingEnvVar, resolve_env

__all__ = [
    "DEFAULT_FILE", "KeyPath", "Locator", "Reader", "key_path", "read_text", "resolve_path", "short_list",
    "suggest", "syntax_issue",
]

DEFAULT_FILE = "cockpit.toml"

KeyPath = tuple[str, ...]

_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")
_ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
#: variables the cockpit sets itself (secret placeholder values): an env table may not name them
RESERVED_ENV = ("COCKPIT_ADDRESS", "COCKPIT_USER")


def key_path(path: Iterable[str]) -> str:
    """Render a key path as TOML would spell it: ``services."a.b".http``."""
    return ".".join(p if _BARE_KEY.fullmatch(p) else '"' + p.replace('"', '\\"') + '"' for p in path)


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return names.get(type(value), "date/time")


def suggest(word: str, options: Iterable[str]) -> str | None:
    """The closest option, for a "did you mean" hint."""
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def short_list(items: Iterable[str], limit: int = 12) -> str:
    """Items joined for a message, capped so a big fleet does not flood it."""
    items = list(items)
    if not items:
        return "(none)"
    head = ", ".join(items[:limit])
    return head if len(items) <= limit else f"{head}, ... ({len(items)} in all)"


# --------------------------------------------------------------------------- line locator

_KEY_PART = re.compile(r'\s*(?:([A-Za-z0-9_-]+)|"((?:[^"\\]|\\.)*)"|\'([^\']*)\')\s*')


def _read_key(text: str, pos: int = 0) -> tuple[list[str], int] | None:
    """Parse a dotted TOML key at ``pos``; return its parts and the end position."""
    parts: list[str] = []
    while True:
        m = _KEY_PART.match(text, pos)
        if m is None:
            return None
        bare, basic, literal = m.groups()
        if basic is not None:
            try:
                basic = tomllib.loads(f'k = "{basic}"')["k"]
            except tomllib.TOMLDecodeError:
                pass
        parts.append(bare if bare is not None else basic if basic is not None else literal or "")
        pos = m.end()
        if pos < len(text) and text[pos] == ".":
            pos += 1
            continue
        return parts, pos


class Locator:
    """Best-effort map from key paths to 1-based line numbers of the source."""

    def __init__(self, text: str) -> None:
        self.first: dict[KeyPath, int] = {}
        self.by_line: dict[int, KeyPath] = {}
        table: KeyPath = ()
        in_string: str | None = None
        for lineno, line in enumerate(text.splitlines(), start=1):
            if in_string is not None:
                if line.count(in_string) % 2 == 1:
                    in_string = None
                continue
            stripped = line.strip()
            if stripped.startswith("["):
                parsed = _read_key(stripped, 2 if stripped.startswith("[[") else 1)
                if parsed is not None:
                    table = tuple(parsed[0])
                    self._note(table, lineno)
                continue
            parsed = _read_key(line)
            if parsed is None or not line[parsed[1]:].startswith("="):
                continue
            full = table + tuple(parsed[0])
            self._note(full, lineno)
            rest = line[parsed[1] + 1:]
            for m in re.finditer(r"[{,]\s*([A-Za-z0-9_-]+|\"[^\"]*\")\s*=", rest):  # inline tables
                self.first.setdefault(full + (m.group(1).strip('"'),), lineno)
            for quote in ('"""', "'''"):
                if rest.count(quote) % 2 == 1:
                    in_string = quote
                    break

    def _note(self, path: KeyPath, lineno: int) -> None:
        self.by_line.setdefault(lineno, path)
        for n in range(1, len(path) + 1):
            self.first.setdefault(path[:n], lineno)

    def line(self, path: KeyPath) -> int | None:
        for n in range(len(path), 0, -1):
            if path[:n] in self.first:
                return self.first[path[:n]]
        return None


# --------------------------------------------------------------------------- reading the file

def read_text(path: Path) -> str:
    """The file as text; an unreadable or non-UTF-8 file is a ConfigError, not an OSError."""
    file = str(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(ConfigIssue(file, "", "config file does not exist",
                                      "check the path, or create it (see docs/config.md)")) from None
    except IsADirectoryError:
        raise ConfigError(ConfigIssue(file, "", "this is a directory, not a config file",
                                      f"point at the TOML file inside it, e.g. {path / DEFAULT_FILE}")) from None
    except PermissionError:
        raise ConfigError(ConfigIssue(file, "", "permission denied reading the config file",
                                      "check the file's permissions (chmod u+r)")) from None
    except OSError as exc:
        raise ConfigError(ConfigIssue(file, "", f"cannot read the config file: {exc.strerror or exc}",
                                      "check the path and permissions")) from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise ConfigError(ConfigIssue(file, "", f"not UTF-8 text (byte 0x{data[exc.start]:02x})",
                                      "TOML files must be UTF-8: re-save the file as UTF-8", line)) from None


_POSITION = re.compile(r"\s*\((?:at line (\d+), column (\d+)|at end of document)\)\s*$")


def syntax_issue(file: str, text: str, exc: tomllib.TOMLDecodeError) -> ConfigIssue:
    """Turn tomllib's message into an issue with a key path and a fix an operator can act on."""
    raw = str(exc)
    m = _POSITION.search(raw)
    reason = raw[: m.start()] if m else raw
    if m and m.group(1):
        line, col = int(m.group(1)), int(m.group(2))
    else:
        line, col = max(1, text.count("\n") + (0 if text.endswith("\n") else 1)), None
    where = f"line {line}, column {col}" if col else f"line {line} (end of file)"
    locator = Locator(text)
    key = locator.by_line.get(line, ())
    fix = "fix the TOML syntax at that spot (see https://toml.io/en/v1.0.0)"
    dup = re.match(r"Cannot declare \((.*)\) twice", reason)
    if dup:
        key = tuple(re.findall(r"'((?:[^'\\]|\\.)*)'", dup.group(1))) or key
        first = locator.first.get(key)
        reason = f"table [{key_path(key)}] is declared twice" + (f" (first at line {first})" if first else "")
        fix = f"each table may appear only once: merge the two [{key_path(key)}] tables into one"
    elif reason.startswith("Cannot overwrite a value"):
        first = locator.first.get(key)
        if key:
            reason = f"key {key[-1]!r} is set twice" + (f" (first at line {first})" if first and first != line else "")
        fix = "a key may appear only once per table: remove or merge the duplicate"
    elif reason.startswith("Invalid value"):
        fix = 'check the value: strings need quotes ("..."), lists [...], durations are strings ("5s")'
    elif reason.startswith("Expected newline"):
        fix = 'one key = value per line; quote strings and durations (interval = "5s")'
    elif "Unclosed" in reason or "Illegal character" in reason or "Unterminated" in reason:
        fix = "close the string, list or table that starts on this line"
    return ConfigIssue(file, key_path(key), f"TOML syntax error: {where}: {reason}", fix, line)


# --------------------------------------------------------------------------- typed reading

class Reader:
    """Collects issues while converting raw TOML values; converters return a default on error."""

    def __init__(self, file: str, text: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.locator = Locator(text)
        self.env = env
        self.issues: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.secrets: set[str] = set()

    def issue(self, path: KeyPath, message: str, fix: str = "", line: int | None = None) -> None:
        self.issues.append(ConfigIssue(self.file, key_path(path), message, fix,
                                       line if line is not None else self.locator.line(path)))

    def warn(self, path: KeyPath, message: str, fix: str = "", line: int | None = None) -> None:
        """Valid, but likely not what the operator means: ``cockpit validate`` shows it with the fix."""
        self.warnings.append(ConfigIssue(self.file, key_path(path), message, fix,
                                         line if line is not None else self.locator.line(path)))

    def known(self, path: KeyPath, table: Mapping[str, Any], keys: Iterable[str]) -> None:
        keys = tuple(keys)
        for key in table:
            if key not in keys:
                guess = suggest(key, keys)
                fix = f"did you mean {guess!r}?" if guess else f"remove it; valid keys here: {', '.join(keys)}"
                self.issue((*path, key), f"unknown key {key!r}", fix)

    def table(self, path: KeyPath, value: Any) -> dict[str, Any]:
        if isinstance(value, dict):
            return value
        self.issue(path, f"expected a table, got {_type_name(value)}",
                   f"write it as a [{key_path(path)}] section with key = value lines")
        return {}

    def string(self, path: KeyPath, value: Any, default: str = "", *, example: str = '"..."') -> str:
        if isinstance(value, str) and value.strip():
            return value
        got = "an empty string" if isinstance(value, str) else f"{_type_name(value)} {value!r}"
        self.issue(path, f"expected a non-empty string, got {got}", f"write {path[-1]} = {example}")
        return default

    def title(self, path: KeyPath, value: Any, default: str = "") -> str:
        """A string shown on screen and journaled (a title): one line, without control or format characters."""
        return " ".join(strip_control(self.string(path, value, default)).split()) or default

    def env_string(self, path: KeyPath, value: Any, default: str = "", *, example: str = '"..."') -> str:
        raw = self.string(path, value, "", example=example)
        if not raw:
            return default
        try:
            resolved, found = resolve_env(raw, self.env)
        except MissingEnvVar as exc:
            self.issue(path, f"environment variable {exc.name} is not set; export it before starting the cockpit",
                       f"export {exc.name}=... in the shell that starts the cockpit (write $${{ for a literal ${{)")
            return default
        except BadReference as exc:
            self.issue(path, str(exc), "write ${NAME} to use an environment variable, or $${ for a literal ${")
            return default
        self.secrets |= found
        return resolved

    def env_table(self, path: KeyPath, value: Any) -> tuple[tuple[str, str], ...]:
        """An ``env = { NAME = "${NAME}" }`` table: variables for a command, delivered on its stdin."""
        out: list[tuple[str, str]] = []
        for name, raw in self.table(path, value).items():
            if not _ENV_NAME.fullmatch(name) or name in RESERVED_ENV:
                self.issue((*path, name), f"{name!r} cannot be an environment variable of a command",
                           "use letters, digits and _ (not starting with a digit); "
                           f"{', '.join(RESERVED_ENV)} are the cockpit's own")
                continue
            text = self.env_string((*path, name), raw, example='"${NAME}"')
            if "\x00" in text:
                self.issue((*path, name), "the value holds a NUL character, which no environment can carry",
                           "remove it")
                continue
            out.append((name, text))
        return tuple(out)

    def boolean(self, path: KeyPath, value: Any, default: bool = False) -> bool:
        if isinstance(value, bool):
            return value
        self.issue(path, f"expected true or false, got {_type_name(value)} {value!r}",
                   f"write {path[-1]} = true or {path[-1]} = false (no quotes)")
        return default

    def integer(self, path: KeyPath, value: Any, lo: int, hi: int, default: int, what: str = "an integer") -> int:
        if not isinstance(value, int) or isinstance(value, bool):
            digits = isinstance(value, str) and value.strip().isdigit()
            example = f"{value.strip()} (no quotes)" if digits else str(default)  # type: ignore[union-attr]
            self.issue(path, f"expected {what} from {lo} to {hi}, got {_type_name(value)} {value!r}",
                       f"write {path[-1]} = {example}")
            return default
        if not lo <= value <= hi:
            self.issue(path, f"{value} is out of range: {what} must be from {lo} to {hi}",
                       f"use a value from {lo} to {hi}")
            return default
        return value

    def port(self, path: KeyPath, value: Any) -> int:
        return self.integer(path, value, 1, 65535, 1, "a port number")

    def duration(self, path: KeyPath, value: Any, default: float = 1.0, *, zero_ok: bool = False) -> float:
        try:
            seconds = parse_duration(value)
        except ValueError:
            self.issue(path, f"{value!r} is not a duration", f"use {ACCEPTED_FORMS}")
            return default
        if seconds == 0 and not zero_ok:
            self.issue(path, "duration must be greater than zero", f'e.g. {path[-1]} = "{format_duration(default)}"')
            return default
        return seconds

    def strings(self, path: KeyPath, value: Any, *, bare_ok: bool = False, example: str = '["..."]') -> list[str]:
        if bare_ok and isinstance(value, str):
            value = [value]
        if not isinstance(value, list):
            self.issue(path, f"expected an array of strings, got {_type_name(value)} {value!r}",
                       f"write {path[-1]} = {example}")
            return []
        out = []
        for item in value:
            if isinstance(item, str) and item.strip():
                out.append(item)
            else:
                got = "an empty string" if isinstance(item, str) else f"{_type_name(item)} {item!r}"
                self.issue(path, f"expected an array of non-empty strings, but an element is {got}",
                           f"write {path[-1]} = {example}")
        return out

    def regex(self, path: KeyPath, value: Any) -> str | None:
        pattern = self.string(path, value, example='"v2\\\\.[0-9]+"')
        if not pattern:
            return None
        try:
            re.compile(pattern)
        except re.error as exc:
            where = f" at position {exc.pos}" if exc.pos is not None else ""
            self.issue(path, f"regular expression does not compile: {exc.msg}{where}",
                       "fix the pattern (Python re syntax; in TOML use '...' literal strings to avoid doubling \\)")
            return None
        return pattern


def resolve_path(base: Path, text: str) -> Path:
    """Relative paths in a config are relative to its directory, not the working directory."""
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p
