"""Load ``cockpit.toml`` into the frozen dataclasses of :mod:`cockpit.spec`.

Every problem is collected before anything is raised, so one ``cockpit validate``
run shows them all; each names the file, the key path, the line (found by
scanning the source: tomllib gives no positions) and a fix. A user's mistake
only ever surfaces as :class:`~cockpit.errors.ConfigError`.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cockpit.durations import ACCEPTED_FORMS, format_duration, parse_duration
from cockpit.errors import ConfigError, ConfigIssue
from cockpit.inventory import is_glob, is_valid_selector, load_ansible, select, selector_kind
from cockpit.secrets import BadReference, MissingEnvVar, Redactor, resolve_env
from cockpit.spec import (
    Check, CockpitSettings, CommandCheck, Config, DockerCheck, HostSpec, HttpCheck,
    LaunchdCheck, PortCheck, ProcessCheck, ServiceSpec, SshSettings, SystemdCheck, TcpCheck,
)

__all__ = ["DEFAULT_FILE", "ENV_VAR", "describe", "find_config", "key_path", "load_config"]

DEFAULT_FILE = "cockpit.toml"
ENV_VAR = "COCKPIT_CONFIG"

KeyPath = tuple[str, ...]

TOP_KEYS = ("cockpit", "ssh", "inventory", "hosts", "services")
COCKPIT_KEYS = ("title", "interval", "journal", "history", "phases")
SSH_KEYS = ("config", "known_hosts", "host_keys", "connect_timeout", "command_timeout",
            "max_sessions", "max_startups", "keepalive", "identity_files")
INVENTORY_KEYS = ("ansible",)
HOST_KEYS = ("address", "port", "user", "tags", "transport", "login_shell", "mounts", "identity_file")
COMMON_SERVICE_KEYS = ("on", "critical", "timeout")
KIND_OPTIONS: dict[str, tuple[str, ...]] = {
    "systemd": (), "launchd": (), "docker": (), "process": (),
    "port": ("port_owner", "port_free"),
    "http": ("expect_status", "expect_body", "expect_body_regex", "max_latency", "headers",
             "follow_redirects", "verify_tls", "connect_to", "via"),
    "tcp": ("tcp_host", "via"),
    "command": ("expect_stdout", "expect_stdout_regex"),
}
KIND_EXAMPLES = {
    "systemd": 'systemd = "nginx.service"', "launchd": 'launchd = "com.example.agent"',
    "docker": 'docker = "traefik"', "process": 'process = "fleet-agent --serve"',
    "port": "port = 8080", "http": 'http = "https://example.net/health"', "tcp": "tcp = 5432",
    "command": 'command = "test -f /etc/fleet/v2.toml"',
}
SERVICE_KEYS = COMMON_SERVICE_KEYS + tuple(KIND_OPTIONS) + tuple(
    dict.fromkeys(o for opts in KIND_OPTIONS.values() for o in opts)
)
HOST_KEY_POLICIES = ("strict", "accept-new")
_BARE_KEY = re.compile(r"[A-Za-z0-9_-]+")


def key_path(path: Iterable[str]) -> str:
    """Render a key path as TOML would spell it: ``services."a.b".http``."""
    return ".".join(p if _BARE_KEY.fullmatch(p) else '"' + p.replace('"', '\\"') + '"' for p in path)


def _type_name(value: object) -> str:
    names = {bool: "boolean", int: "integer", float: "float", str: "string", list: "array", dict: "table"}
    return names.get(type(value), "date/time")


def _a(word: str) -> str:
    return "an" if word[:1] in "aeioh" else "a"


def _suggest(word: str, options: Iterable[str]) -> str | None:
    close = difflib.get_close_matches(word, list(options), n=1, cutoff=0.6)
    return close[0] if close else None


def _short_list(items: Iterable[str], limit: int = 12) -> str:
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


class _Locator:
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

def _read_text(path: Path) -> str:
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


def _syntax_issue(file: str, text: str, exc: tomllib.TOMLDecodeError) -> ConfigIssue:
    raw = str(exc)
    m = _POSITION.search(raw)
    reason = raw[: m.start()] if m else raw
    if m and m.group(1):
        line, col = int(m.group(1)), int(m.group(2))
    else:
        line, col = max(1, text.count("\n") + (0 if text.endswith("\n") else 1)), None
    where = f"line {line}, column {col}" if col else f"line {line} (end of file)"
    locator = _Locator(text)
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

class _Reader:
    """Collects issues while converting raw TOML values; converters return a default on error."""

    def __init__(self, file: str, text: str, env: Mapping[str, str]) -> None:
        self.file = file
        self.locator = _Locator(text)
        self.env = env
        self.issues: list[ConfigIssue] = []
        self.secrets: set[str] = set()

    def issue(self, path: KeyPath, message: str, fix: str = "", line: int | None = None) -> None:
        self.issues.append(ConfigIssue(self.file, key_path(path), message, fix,
                                       line if line is not None else self.locator.line(path)))

    def known(self, path: KeyPath, table: Mapping[str, Any], keys: Iterable[str]) -> None:
        keys = tuple(keys)
        for key in table:
            if key not in keys:
                guess = _suggest(key, keys)
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


def _resolve_path(base: Path, text: str) -> Path:
    p = Path(text).expanduser()
    return p if p.is_absolute() else base / p


# --------------------------------------------------------------------------- sections

def _cockpit(r: _Reader, raw: Any, config_path: Path) -> CockpitSettings:
    p: KeyPath = ("cockpit",)
    t = r.table(p, raw)
    r.known(p, t, COCKPIT_KEYS)
    d = CockpitSettings()
    journal_text = r.string((*p, "journal"), t["journal"], example='"cutover.sqlite"') if "journal" in t else ""
    journal = _resolve_path(config_path.parent, journal_text or f"{config_path.stem}.journal.sqlite")
    return CockpitSettings(
        title=r.string((*p, "title"), t["title"], d.title) if "title" in t else d.title,
        interval=r.duration((*p, "interval"), t["interval"], d.interval) if "interval" in t else d.interval,
        journal=journal,
        history=r.integer((*p, "history"), t["history"], 1, 100_000, d.history) if "history" in t else d.history,
        phases=tuple(r.strings((*p, "phases"), t["phases"], example='["Decommission v1", "Canary 10%"]'))
        if "phases" in t else (),
    )


def _ssh(r: _Reader, raw: Any, base: Path) -> SshSettings:
    p: KeyPath = ("ssh",)
    t = r.table(p, raw)
    r.known(p, t, SSH_KEYS)
    d = SshSettings()
    config = None
    if "config" in t and (text := r.string((*p, "config"), t["config"], example='"~/.ssh/config"')):
        config = _resolve_path(base, text)
        if not config.is_file():
            r.issue((*p, "config"), f"ssh config file {str(config)!r} does not exist",
                    "create it, fix the path, or remove ssh.config (asyncssh then reads ~/.ssh/config if present)")
    known_hosts = d.known_hosts
    if "known_hosts" in t and (text := r.string((*p, "known_hosts"), t["known_hosts"])):
        known_hosts = _resolve_path(base, text)
    policy = d.host_keys
    if "host_keys" in t:
        value = t["host_keys"]
        if value in HOST_KEY_POLICIES:
            policy = value
        else:
            r.issue((*p, "host_keys"), f"host_keys must be 'strict' or 'accept-new', got {value!r}",
                    "use 'strict' (key must be in known_hosts) or 'accept-new' (trust a host's first key); "
                    "no setting accepts a changed key")

    def dur(key: str, default: float, zero_ok: bool = False) -> float:
        return r.duration((*p, key), t[key], default, zero_ok=zero_ok) if key in t else default

    def num(key: str, lo: int, hi: int, default: int) -> int:
        return r.integer((*p, key), t[key], lo, hi, default) if key in t else default

    identity = r.strings((*p, "identity_files"), t["identity_files"], bare_ok=True,
                         example='["~/.ssh/id_ed25519"]') if "identity_files" in t else []
    return SshSettings(
        config=config, known_hosts=known_hosts, host_keys=policy,
        connect_timeout=dur("connect_timeout", d.connect_timeout),
        command_timeout=dur("command_timeout", d.command_timeout),
        max_sessions=num("max_sessions", 1, 64, d.max_sessions),
        max_startups=num("max_startups", 1, 100, d.max_startups),
        keepalive=dur("keepalive", d.keepalive, zero_ok=True),
        identity_files=tuple(str(_resolve_path(base, f)) for f in identity),
    )


def _inventory(r: _Reader, raw: Any, base: Path) -> list[HostSpec]:
    p: KeyPath = ("inventory",)
    t = r.table(p, raw)
    r.known(p, t, INVENTORY_KEYS)
    if "ansible" not in t or not (text := r.string((*p, "ansible"), t["ansible"], example='"hosts.ini"')):
        return []
    try:
        return load_ansible(_resolve_path(base, text))
    except ConfigError as exc:
        if len(exc.issues) == 1 and not exc.issues[0].key and exc.issues[0].line is None:
            issue = exc.issues[0]  # the file itself is unusable: point at the config key that names it
            r.issue((*p, "ansible"), f"{issue.message}: {issue.file}", issue.fix)
        else:
            r.issue((*p, "ansible"), f"the inventory has {len(exc.issues)} problem(s), listed below",
                    "fix the inventory, or remove [inventory] ansible")
            r.issues.extend(exc.issues)
        return []


def _name_problem(name: str, what: str) -> str | None:
    if not name.strip() or any(c.isspace() or not c.isprintable() for c in name):
        return f"{what} name {name!r} must be non-empty, without spaces or control characters"
    if what == "host" and (name == "all" or name.startswith("tag:") or is_glob(name)):
        return f"host name {name!r} would read as a selector (all, tag:X, or a glob with * ? [)"
    return None


def _hosts(r: _Reader, raw: Any, inventory: list[HostSpec], base: Path) -> list[HostSpec]:
    table = r.table(("hosts",), raw)
    from_inventory = {h.name: h for h in inventory}
    hosts: list[HostSpec] = []
    for name, body in table.items():
        p: KeyPath = ("hosts", name)
        if (problem := _name_problem(name, "host")) is not None:
            r.issue(p, problem, "rename the host (letters, digits, '.', '-', '_')")
        t = r.table(p, body)
        r.known(p, t, HOST_KEYS)
        old = from_inventory.get(name)
        transport = old.transport if old else "ssh"
        if "transport" in t:
            if t["transport"] in ("ssh", "local"):
                transport = t["transport"]
            else:
                r.issue((*p, "transport"), f"transport must be 'ssh' or 'local', got {t['transport']!r}",
                        'use transport = "ssh" (default) or "local" (run checks on this machine)')
        default_address = old.address if old else ("localhost" if transport == "local" else name)
        address = r.env_string((*p, "address"), t["address"], default_address, example='"host.example.net"') \
            if "address" in t else default_address
        tags = list(old.tags) if old else []
        for tag in r.strings((*p, "tags"), t["tags"], example='["web", "eu"]') if "tags" in t else []:
            if tag not in tags:
                tags.append(tag)
        mounts = old.mounts if old else ("/",)
        if "mounts" in t:
            given = r.strings((*p, "mounts"), t["mounts"], example='["/", "/var"]')
            bad = [m for m in given if not m.startswith("/")]
            if bad or t["mounts"] == []:
                r.issue((*p, "mounts"), "mounts must be a non-empty list of absolute paths"
                        + (f"; not absolute: {', '.join(bad)}" if bad else ""), 'e.g. mounts = ["/", "/var"]')
            mounts = tuple(given) or ("/",)
        identity = old.identity_file if old else None
        if "identity_file" in t and (text := r.string((*p, "identity_file"), t["identity_file"])):
            identity = str(_resolve_path(base, text))
        hosts.append(HostSpec(
            name=name, address=address,
            port=r.port((*p, "port"), t["port"]) if "port" in t else (old.port if old else None),
            user=r.env_string((*p, "user"), t["user"], example='"ops"') or None if "user" in t
            else (old.user if old else None),
            tags=tuple(tags), transport=transport,
            login_shell=r.boolean((*p, "login_shell"), t["login_shell"], False) if "login_shell" in t
            else (old.login_shell if old else False),
            mounts=mounts, identity_file=identity,
        ))
    declared = {h.name for h in hosts}
    hosts.extend(h for h in inventory if h.name not in declared)
    if not hosts:
        r.issue(("hosts",), "no hosts: the config declares none and imports none",
                'add a [hosts.NAME] table (e.g. [hosts.web1] address = "web1.example.net") '
                "or point [inventory] ansible at an inventory")
    return hosts


def _selectors(r: _Reader, p: KeyPath, raw: Any, hosts: list[HostSpec]) -> tuple[str, ...]:
    selectors = r.strings(p, raw, bare_ok=True, example='["web1", "web*", "tag:nixos", "all"]')
    if not selectors and isinstance(raw, (list, str)):
        r.issue(p, "on must name at least one host selector",
                'e.g. on = ["tag:web"]; selectors: a host name, a glob like web*, tag:NAME, or all')
    names = [h.name for h in hosts]
    for sel in selectors:
        if not is_valid_selector(sel):
            r.issue(p, f"{sel!r} is not a selector", "selectors: a host name, a glob like web*, tag:NAME, or all")
            continue
        if not hosts or select(hosts, sel):
            continue
        kind = selector_kind(sel)
        if kind == "name":
            guess = _suggest(sel, names)
            r.issue(p, f"no host named {sel!r}; known hosts: {_short_list(names)}",
                    (f"did you mean {guess!r}? " if guess else "")
                    + "use a host name, a glob like web*, tag:NAME, or all")
        elif kind == "tag":
            tags = list(dict.fromkeys(t for h in hosts for t in h.tags))
            guess = _suggest(sel[4:], tags)
            r.issue(p, f"selector {sel!r} matches no host: no host has a tag matching {sel[4:]!r}; "
                    f"known tags: {_short_list(tags)}",
                    f"did you mean 'tag:{guess}'?" if guess else f'add tags = ["{sel[4:]}"] to the hosts it means')
        else:
            r.issue(p, f"glob {sel!r} matches no host; known hosts: {_short_list(names)}",
                    "fix the pattern (fnmatch: * any text, ? one character, [ab] a set) or use tag:NAME")
    return tuple(selectors)


def _via(r: _Reader, p: KeyPath, raw: Any, hosts: list[HostSpec]) -> str | None:
    name = r.string(p, raw, example='"bastion"')
    if name and all(h.name != name for h in hosts):
        guess = _suggest(name, [h.name for h in hosts])
        r.issue(p, f"via names no host: no host named {name!r}; known hosts: {_short_list(h.name for h in hosts)}",
                f"did you mean {guess!r}?" if guess else "via takes one host name from [hosts] or the inventory")
        return None
    return name or None


def _connect_to(r: _Reader, p: KeyPath, raw: Any) -> str | None:
    value = r.env_string(p, raw, example='"10.0.0.5:443"')
    if not value:
        return None
    m = re.fullmatch(r"(\[[0-9A-Fa-f:.]+\]|[^:\[\]\s]+)(?::(\d+))?", value)
    if m is None or (m.group(2) is not None and not 1 <= int(m.group(2)) <= 65535):
        r.issue(p, f"connect_to must be IP or IP:PORT, got {raw!r}",
                'e.g. connect_to = "10.0.0.5:443" ([::1]:443 for IPv6)')
        return None
    return value


def _check(r: _Reader, p: KeyPath, t: dict[str, Any], kind: str, hosts: list[HostSpec]) -> Check:
    def key(k: str) -> KeyPath:
        return (*p, k)

    def opt(k: str, conv: Callable[[KeyPath, Any], Any], default: Any = None) -> Any:
        """Convert ``t[k]`` when present; an empty string (a rejected value) counts as absent."""
        value = conv(key(k), t[k]) if k in t else default
        return default if value == "" else value

    if kind in ("systemd", "launchd", "docker", "process", "command"):
        value = r.string(key(kind), t[kind], example=KIND_EXAMPLES[kind].split(" = ", 1)[1])
        if kind != "command" and any(c in value for c in "\r\n\0"):
            r.issue(key(kind), f"{kind} value must be one line", "remove the line break")
        simple = {"systemd": SystemdCheck, "launchd": LaunchdCheck, "docker": DockerCheck, "process": ProcessCheck}
        if kind in simple:
            return simple[kind](value)  # type: ignore[no-any-return]
        return CommandCheck(value, expect_stdout=opt("expect_stdout", r.string),
                            expect_stdout_regex=opt("expect_stdout_regex", r.regex))
    if kind == "port":
        owner = opt("port_owner", r.string)
        free = opt("port_free", r.boolean, False)
        if owner and free:
            r.issue(key("port_free"), "port_free = true contradicts port_owner: a free port has no owner",
                    "keep port_owner (someone must listen) or port_free = true (nobody may listen), not both")
        return PortCheck(r.port(key("port"), t["port"]), owner=owner, free=free)
    via = opt("via", lambda q, v: _via(r, q, v, hosts))
    if kind == "tcp":
        return TcpCheck(r.port(key("tcp"), t["tcp"]), host=opt("tcp_host", r.env_string), via=via)
    url = r.env_string(key("http"), t["http"], example='"https://example.net/health"')
    parts = urlsplit(url) if url else None
    if parts is not None and (parts.scheme not in ("http", "https") or not parts.netloc):
        r.issue(key("http"), f"{t['http']!r} is not an http:// or https:// URL",
                'e.g. http = "https://example.net/health"')
    status: tuple[int, ...] = (200,)
    if "expect_status" in t:
        raw = t["expect_status"]
        codes = [r.integer(key("expect_status"), c, 100, 599, 200, "an HTTP status")
                 for c in (raw if isinstance(raw, list) else [raw])]
        if not codes:
            r.issue(key("expect_status"), "expect_status is an empty list", "e.g. expect_status = [200, 302]")
        status = tuple(codes) or (200,)
    headers: list[tuple[str, str]] = []
    for name, value in (r.table(key("headers"), t["headers"]) if "headers" in t else {}).items():
        if not re.fullmatch(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+", name):
            r.issue((*key("headers"), name), f"{name!r} is not a valid HTTP header name",
                    "header names are letters, digits and - (e.g. Authorization)")
        headers.append((name, r.env_string((*key("headers"), name), value, example='"Bearer ${TOKEN}"')))
    return HttpCheck(
        url=url, expect_status=status, headers=tuple(headers), via=via,
        expect_body=opt("expect_body", r.string),
        expect_body_regex=opt("expect_body_regex", r.regex),
        max_latency=opt("max_latency", r.duration),
        follow_redirects=opt("follow_redirects", r.boolean, False),
        verify_tls=opt("verify_tls", r.boolean, True),
        connect_to=opt("connect_to", lambda q, v: _connect_to(r, q, v)),
    )


def _services(r: _Reader, raw: Any, hosts: list[HostSpec]) -> list[ServiceSpec]:
    services: list[ServiceSpec] = []
    for name, body in r.table(("services",), raw).items():
        p: KeyPath = ("services", name)
        if (problem := _name_problem(name, "service")) is not None:
            r.issue(p, problem, "rename the service")
        t = r.table(p, body)
        r.known(p, t, SERVICE_KEYS)
        kinds = [k for k in KIND_OPTIONS if k in t]
        if "on" not in t:
            r.issue(p, f"service {name!r} has no 'on' (the hosts it is checked on)",
                    'add on = ["tag:NAME"] (or a host name, a glob like web*, or "all")')
        on = _selectors(r, (*p, "on"), t["on"], hosts) if "on" in t else ()
        check: Check | None = None
        if len(kinds) == 1:
            kind = kinds[0]
            for opt in (k for k in t if k in SERVICE_KEYS and k not in COMMON_SERVICE_KEYS + tuple(KIND_OPTIONS)):
                if opt not in KIND_OPTIONS[kind]:
                    owners = [k for k, opts in KIND_OPTIONS.items() if opt in opts]
                    r.issue((*p, opt), f"{opt!r} does not apply to a {kind} check; it belongs to {' or '.join(owners)}",
                            f"remove {opt}, or make this {_a(owners[0])} {' or '.join(owners)} check "
                            f"(e.g. {KIND_EXAMPLES[owners[0]]})")
            check = _check(r, p, t, kind, hosts)
        elif not kinds:
            implied = [k for k, opts in KIND_OPTIONS.items() if any(o in t for o in opts)]
            r.issue(p, f"service {name!r} has no check kind; set exactly one of {', '.join(KIND_OPTIONS)}",
                    f"its options belong to a {' or '.join(implied)} check: add e.g. {KIND_EXAMPLES[implied[0]]}"
                    if implied else f"e.g. {KIND_EXAMPLES['systemd']} or {KIND_EXAMPLES['http']}")
        else:
            r.issue((*p, kinds[1]), f"service {name!r} has {len(kinds)} check kinds ({', '.join(kinds)}); "
                    "a service has exactly one", "split it into one service per check kind")
        critical = r.boolean((*p, "critical"), t["critical"], True) if "critical" in t else True
        timeout = r.duration((*p, "timeout"), t["timeout"], 10.0) if "timeout" in t else None
        if check is not None:
            services.append(ServiceSpec(name=name, on=on, check=check, critical=critical, timeout=timeout))
    return services


# --------------------------------------------------------------------------- public API

def load_config(path: Path | str, env: Mapping[str, str] | None = None) -> Config:
    """Read and validate a config file.

    Args:
        path: the TOML file; relative paths inside it are relative to its directory.
        env: where ``${NAME}`` is looked up (default: ``os.environ``).

    Raises:
        ConfigError: every issue found, each with file, key path, line and fix.
    """
    path = Path(path).expanduser()
    file = str(path)
    text = _read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_syntax_issue(file, text, exc)) from None
    r = _Reader(file, text, os.environ if env is None else env)
    base = path.absolute().parent
    r.known((), data, TOP_KEYS)
    cockpit = _cockpit(r, data.get("cockpit", {}), path.absolute())
    ssh = _ssh(r, data.get("ssh", {}), base)
    inventory = _inventory(r, data.get("inventory", {}), base)
    hosts = _hosts(r, data.get("hosts", {}), inventory, base)
    services = _services(r, data.get("services", {}), hosts)
    if r.issues:  # this file's issues by line; an inventory's own issues after them
        raise ConfigError(sorted(r.issues, key=lambda i: (i.file != file, i.line or 1 << 30)))
    assignments = []
    for host in hosts:
        names = tuple(s.name for s in services if any(host in select([host], sel) for sel in s.on))
        assignments.append((host.name, names))
    return Config(path=path.absolute(), cockpit=cockpit, ssh=ssh, hosts=tuple(hosts), services=tuple(services),
                  assignments=tuple(assignments), secrets=frozenset(r.secrets))


def find_config(cli_value: str | None, env: Mapping[str, str] | None = None, cwd: Path | None = None) -> Path:
    """The config to use: the command line's, else ``$COCKPIT_CONFIG``, else ``./cockpit.toml``.

    Raises:
        ConfigError: the chosen file does not exist, or none was given and no default exists.
    """
    env = os.environ if env is None else env
    cwd = Path.cwd() if cwd is None else cwd
    if cli_value:
        candidate, origin = Path(cli_value).expanduser(), "given on the command line"
    elif env.get(ENV_VAR):
        candidate, origin = Path(env[ENV_VAR]).expanduser(), f"named by ${ENV_VAR}"
    else:
        default = cwd / DEFAULT_FILE
        if default.is_file():
            return default
        raise ConfigError(ConfigIssue(DEFAULT_FILE, "", f"no config file: none given, ${ENV_VAR} is not set "
                                      f"and {default} does not exist",
                                      f"pass the config path, set {ENV_VAR}, or create ./{DEFAULT_FILE} "
                                      "(see docs/config.md)"))
    if not candidate.is_absolute():
        candidate = cwd / candidate
    if candidate.is_dir():
        raise ConfigError(ConfigIssue(str(candidate), "", f"config path {origin} is a directory",
                                      f"point at the TOML file, e.g. {candidate / DEFAULT_FILE}"))
    if not candidate.is_file():
        raise ConfigError(ConfigIssue(str(candidate), "", f"config file {origin} does not exist",
                                      "check the path (relative paths are relative to the current directory)"))
    return candidate


def _table(rows: list[list[str]], redactor: Redactor, indent: str = "  ") -> list[str]:
    """Left-aligned columns; cells are redacted first so that masking keeps the alignment."""
    cells = [[redactor.redact(c) for c in row] for row in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(cells[0]))] if cells else []
    return [indent + "  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]


def _clip(text: str, width: int = 60) -> str:
    return text if len(text) <= width else text[: width - 3] + "..."


def _check_summary(check: Check) -> str:
    target: dict[str, Callable[[Any], str]] = {
        "systemd": lambda c: c.unit, "launchd": lambda c: c.label, "docker": lambda c: c.container,
        "process": lambda c: c.pattern, "command": lambda c: c.command, "http": lambda c: c.url,
        "port": lambda c: f"{c.port}" + (" free" if c.free else f" owner {c.owner}" if c.owner else ""),
        "tcp": lambda c: f"{c.host or '(host address)'}:{c.port}",
    }
    text = target[check.kind](check)
    via = getattr(check, "via", None)
    return f"{check.kind} {text}" + (f" via {via}" if via else "")


def describe(config: Config) -> str:
    """A human summary for ``cockpit validate``; values from ``${ENV}`` are shown as ``***``."""
    c, s = config.cockpit, config.ssh
    lines = [c.title]
    if config.path is not None:
        lines.append(f"  config    {config.path}")
    lines += [f"  interval  {format_duration(c.interval)}   history {c.history} samples   journal {c.journal}",
             f"  ssh       host keys {s.host_keys}, connect {format_duration(s.connect_timeout)}, "
             f"command {format_duration(s.command_timeout)}, {s.max_sessions} sessions/host, "
             f"{s.max_startups} concurrent handshakes"]
    if c.phases:
        lines.append("  phases    " + "  ".join(f"{i}. {t}" for i, t in enumerate(c.phases, 1)))
    lines += ["", f"{len(config.hosts)} host{'s' if len(config.hosts) != 1 else ''}"]
    redactor = Redactor(config.secrets)
    lines += _table([[h.name, "(this machine)" if h.transport == "local" and h.address == "localhost"
                      else f"{h.address}:{h.port or 22}", h.transport, ", ".join(h.tags)] for h in config.hosts],
                    redactor)
    lines += ["", f"{len(config.services)} service{'s' if len(config.services) != 1 else ''}"]
    rows = []
    for svc in config.services:
        targets = [h for h, names in config.assignments if svc.name in names]
        rows.append([svc.name, _clip(redactor.redact(_check_summary(svc.check))),
                     "critical" if svc.critical else "non-critical",
                     f"on {', '.join(svc.on)} -> {_short_list(targets, 8)}"])
    lines += _table(rows, redactor)
    lines += ["", "Checks per host"]
    lines += _table([[h, str(len(n)), ", ".join(n) or "(none)"] for h, n in config.assignments], redactor)
    return redactor.redact("\n".join(lines))
