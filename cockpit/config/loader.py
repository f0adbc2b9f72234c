"""Load ``cockpit.toml`` into the frozen dataclasses of :mod:`cockpit.spec`.

Every problem is collected before anything is raised, so one ``cockpit validate``
run shows them all; each names the file, the key path, the line (found by
scanning the source: tomllib gives no positions) and a fix. A user's mistake
only ever surfaces as :class:`~cockpit.errors.ConfigError`.

The parts live by area (:mod:`cockpit.config.source` reads and types values,
:mod:`cockpit.config.hosts` and :mod:`cockpit.config.services` build tables);
this module runs them in order. Callers import the face, :mod:`cockpit.config`.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from cockpit.config.actions import read_actions
from cockpit.config.commands import check_placeholders
from cockpit.config.hosts import origin_rows, read_hosts, read_inventory
from cockpit.config.integrations import read_alertmanager, read_grafana, read_notify
from cockpit.config.metrics import read_metrics
from cockpit.config.runbook import read_runbook, thin_thresholds
from cockpit.config.services import check_lifecycle_refs, read_services
from cockpit.config.sshconf import check_ssh_config, connection_json, connections, describe_connections
from cockpit.config.source import DEFAULT_FILE, KeyPath, Reader, read_text, resolve_path, short_list, syntax_issue
from cockpit.durations import format_duration
from cockpit.errors import ConfigError, ConfigIssue
from cockpit.inventory import select
from cockpit.sanitize import strip_control
from cockpit.secrets import Redactor
from cockpit.spec import Check, CockpitSettings, Config, HostSpec, JournalSettings, ServiceSpec, SshSettings

__all__ = ["ENV_VAR", "describe", "describe_json", "find_config", "load_config"]

ENV_VAR = "COCKPIT_CONFIG"

TOP_KEYS = ("cockpit", "journal", "ssh", "inventory", "hosts", "services", "actions", "runbook", "phases", "rollback",
            "notify", "alertmanager", "grafana", "metrics")
COCKPIT_KEYS = ("title", "interval", "journal", "state_dir", "screenshot_dir", "history", "phases", "clipboard")  # journal: deprecated, see [journal]
JOURNAL_KEYS = ("path", "lease_ttl")
MIN_LEASE_TTL = 1.0  # the heartbeat runs every lease_ttl / 3: below a second it would be all heartbeats
SSH_KEYS = ("config", "known_hosts", "host_keys", "connect_timeout", "command_timeout",
            "max_sessions", "max_startups", "max_handshakes", "keepalive", "identity_files")
HOST_KEY_POLICIES = ("strict", "accept-new")


# --------------------------------------------------------------------------- [cockpit] and [ssh]

def _cockpit(r: Reader, raw: Any, config_path: Path) -> CockpitSettings:
    p: KeyPath = ("cockpit",)
    t = r.table(p, raw)
    r.known(p, t, COCKPIT_KEYS)
    d = CockpitSettings()
    state_text = r.string((*p, "state_dir"), t["state_dir"], example='"cutover.state"') if "state_dir" in t else ""
    state_dir = resolve_path(config_path.parent, state_text or f"{config_path.stem}.state")
    shots = r.string((*p, "screenshot_dir"), t["screenshot_dir"], example='"screenshots"') if "screenshot_dir" in t else ""
    return CockpitSettings(
        title=r.title((*p, "title"), t["title"], d.title) if "title" in t else d.title,
        interval=r.duration((*p, "interval"), t["interval"], d.interval) if "interval" in t else d.interval,
        state_dir=state_dir,
        screenshot_dir=resolve_path(config_path.parent, shots) if shots else None,
        history=r.integer((*p, "history"), t["history"], 1, 100_000, d.history) if "history" in t else d.history,
        phases=tuple(" ".join(strip_control(x).split())
                     for x in r.strings((*p, "phases"), t["phases"], example='["Decommission v1", "Canary 10%"]'))
        if "phases" in t else (),
        clipboard=r.boolean((*p, "clipboard"), t["clipboard"]) if "clipboard" in t else d.clipboard,
    )


def _journal(r: Reader, raw: Any, cockpit_raw: Any, config_path: Path) -> tuple[JournalSettings, list[str]]:
    """``[journal]``, and the old ``[cockpit] journal`` (still read, with a note for ``validate``)."""
    p: KeyPath = ("journal",)
    t = r.table(p, raw)
    r.known(p, t, JOURNAL_KEYS)
    old = cockpit_raw.get("journal") if isinstance(cockpit_raw, dict) else None
    notes: list[str] = []
    text = ""
    if "path" in t:
        text = r.string((*p, "path"), t["path"], example='"cutover.sqlite"')
        if old is not None:
            r.issue(("cockpit", "journal"), "the journal's path is set twice, here and in [journal] path",
                    "remove [cockpit] journal; [journal] path is the one to keep")
    elif old is not None:
        text = r.string(("cockpit", "journal"), old, example='"cutover.sqlite"')
        line = r.locator.line(("cockpit", "journal"))
        notes.append(f"{r.file}{f':{line}' if line else ''}: [cockpit] journal is deprecated; "
                     f"write it as [journal] path = {text!r}")
    d = JournalSettings()
    ttl = r.duration((*p, "lease_ttl"), t["lease_ttl"], d.lease_ttl) if "lease_ttl" in t else d.lease_ttl
    if ttl < MIN_LEASE_TTL:
        r.issue((*p, "lease_ttl"), f"lease_ttl must be at least {MIN_LEASE_TTL:g}s, got {format_duration(ttl)}",
                f'e.g. lease_ttl = "{format_duration(d.lease_ttl)}"')
        ttl = d.lease_ttl
    if text.split(":", 1)[0].lower() in ("postgresql", "postgres") and "://" in text:
        key = (*p, "path") if "path" in t else ("cockpit", "journal")
        parts = urlsplit(text)
        if parts.password is not None:
            r.issue(key, "the journal's URL holds a password; a password is never written in the config",
                    "remove it from the URL and give it as PGPASSWORD=${...} in the environment, in ~/.pgpass "
                    "or in a libpq service file (docs/team.md)")
        elif not parts.hostname and "host=" not in parts.query and "service=" not in parts.query:
            r.issue(key, f"the journal's URL {text!r} names no database host",
                    'e.g. path = "postgresql://cockpit@db.example.net/cutover"')
        return JournalSettings(path=None, lease_ttl=ttl, url=text), notes
    path = resolve_path(config_path.parent, text or f"{config_path.stem}.journal.sqlite")
    return JournalSettings(path=path, lease_ttl=ttl), notes


def _ssh(r: Reader, raw: Any, base: Path) -> SshSettings:
    p: KeyPath = ("ssh",)
    t = r.table(p, raw)
    r.known(p, t, SSH_KEYS)
    d = SshSettings()
    config = None
    if "config" in t and (text := r.string((*p, "config"), t["config"], example='"~/.ssh/config"')):
        config = resolve_path(base, text)
        if not config.is_file():
            r.issue((*p, "config"), f"ssh config file {str(config)!r} does not exist",
                    "create it, fix the path, or remove ssh.config (the cockpit then reads ~/.ssh/config if present)")
    known_hosts = d.known_hosts
    if "known_hosts" in t and (text := r.string((*p, "known_hosts"), t["known_hosts"])):
        known_hosts = resolve_path(base, text)
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
        max_handshakes=_auto_or_num(r, (*p, "max_handshakes"), t),
        keepalive=dur("keepalive", d.keepalive, zero_ok=True),
        identity_files=tuple(str(resolve_path(base, f)) for f in identity),
    )


def _auto_or_num(r: Reader, key: KeyPath, t: dict[str, Any]) -> int | None:
    """``max_handshakes``: ``"auto"`` (or absent) sizes it for this machine at start; else 1..1000."""
    if key[-1] not in t or t[key[-1]] == "auto":
        return None
    value = t[key[-1]]
    if isinstance(value, str):
        r.issue(key, f"{key[-1]} must be \"auto\" or an integer, got {value!r}",
                f'{key[-1]} = "auto" (sized from CPUs and file descriptors) or e.g. {key[-1]} = 64')
        return None
    return r.integer(key, value, 1, 1000, 64)


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
    text = read_text(path)
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(syntax_issue(file, text, exc)) from None
    except RecursionError:
        raise ConfigError(ConfigIssue(file, "", "arrays or tables are nested too deep to read",
                                      "no config needs more than a few levels: remove the extra brackets")) from None
    r = Reader(file, text, os.environ if env is None else env)
    base = path.absolute().parent
    r.known((), data, TOP_KEYS)
    cockpit = _cockpit(r, data.get("cockpit", {}), path.absolute())
    journal, notes = _journal(r, data.get("journal", {}), data.get("cockpit", {}), path.absolute())
    ssh = _ssh(r, data.get("ssh", {}), base)
    inventory = read_inventory(r, data.get("inventory", {}), base)
    hosts = read_hosts(r, data.get("hosts", {}), inventory, base)
    check_ssh_config(r, ssh, hosts)
    services = read_services(r, data.get("services", {}), hosts)
    actions = read_actions(r, data.get("actions", {}), hosts)
    metrics = read_metrics(r, data.get("metrics", {}), base)
    runbook = read_runbook(r, text, data, hosts, services, metrics)
    check_placeholders(r, hosts, actions, runbook)
    check_lifecycle_refs(r, services, runbook.phases)
    notify = read_notify(r, data["notify"]) if "notify" in data else ()
    alertmanager = read_alertmanager(r, data["alertmanager"]) if "alertmanager" in data else None
    grafana = read_grafana(r, data["grafana"]) if "grafana" in data else None
    if not r.issues:
        thin_thresholds(r, text, cockpit.interval, runbook, hosts, services)
    if r.issues:  # this file's issues by line; an inventory's own issues after them
        raise ConfigError(sorted(r.issues, key=lambda i: (i.file != file, i.line or 1 << 30)))
    assignments = []
    for host in hosts:
        names = tuple(s.name for s in services if any(host in select([host], sel) for sel in s.on))
        assignments.append((host.name, names))
    return Config(path=path.absolute(), cockpit=cockpit, ssh=ssh, hosts=tuple(hosts), services=tuple(services),
                  actions=tuple(actions), runbook=runbook, assignments=tuple(assignments), secrets=frozenset(r.secrets),
                  journal=journal, notes=(*notes, *(w.render() for w in r.warnings)), notify=notify,
                  alertmanager=alertmanager, grafana=grafana, metrics=metrics)


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
        "process": lambda c: c.pattern, "command": lambda c: c.command,
        "http": lambda c: (f"{c.method} " if c.method != "GET" else "") + c.url,
        "dns": lambda c: f"{c.name} {c.record}" + (" from the cockpit" if c.source == "cockpit" else ""),
        "ws": lambda c: c.url + (f" (expect refusal {c.expect_status})" if c.expect_status != 101 else ""),
        "port": lambda c: f"{c.port}" + (" free" if c.free else f" owner {c.owner}" if c.owner else ""),
        "tcp": lambda c: f"{c.host or '(host address)'}:{c.port}",
        "compose": lambda c: f"project {c.project}" + (f" ({c.file})" if c.file else ""),
        "pm2": lambda c: c.app + (f" as {c.user}" if c.user else ""),
        "log": lambda c: f"/{c.pattern}/ in {c.source}",
    }
    text = target[check.kind](check)
    via = getattr(check, "via", None)
    return f"{check.kind} {text}" + (f" via {via}" if via else "")


def _lifecycle_words(svc: ServiceSpec) -> str:
    """How ``validate`` says a service's lifecycle: the step or phase its expectation follows."""
    if svc.retired_by:
        return f", retired by {svc.retired_by}"
    if svc.introduced_by:
        return f", introduced by {svc.introduced_by}"
    return ", expected down" if svc.expect == "down" else ""


def describe(config: Config) -> str:
    """A human summary for ``cockpit validate``; values from ``${ENV}`` are shown as ``***``."""
    c, s = config.cockpit, config.ssh
    lines = [c.title]
    if config.path is not None:
        lines.append(f"  config    {config.path}")
    j = config.journal
    lines += [f"  interval  {format_duration(c.interval)}   history {c.history} samples",
              f"  journal   {j.url or j.path}   lease ttl {format_duration(j.lease_ttl)}",
             f"  ssh       host keys {s.host_keys}, connect {format_duration(s.connect_timeout)}, "
             f"command {format_duration(s.command_timeout)}, {s.max_sessions} sessions/host, "
             f"{s.max_startups} handshakes per sshd and jump host, "
             f"{s.max_handshakes if s.max_handshakes is not None else 'auto'} across the fleet"]
    if c.phases:
        lines.append("  phases    " + "  ".join(f"{i}. {t}" for i, t in enumerate(c.phases, 1)))
    lines += ["", f"{len(config.hosts)} host{'s' if len(config.hosts) != 1 else ''}"]
    redactor = Redactor(config.secrets)
    reached = {name: r for name, r, _why in connections(config) if r is not None}

    def where(h: HostSpec) -> str:
        if h.transport == "local":
            return "(this machine)" if h.address == "localhost" else h.address
        r = reached.get(h.name)
        if r is None:
            return f"{h.address}:{h.port or 22}"
        return f"{r.hostname}:{r.port}" + (f" via {r.proxy_jump}" if r.proxy_jump else "")

    lines += _table([[h.name, where(h), h.transport, ", ".join(h.tags)] for h in config.hosts], redactor)
    if origin_rows_ := origin_rows(list(config.hosts), config.path.parent if config.path is not None else None):
        lines += ["", "Where each host's connection comes from"] + _table(origin_rows_, redactor)
    rows, broken = describe_connections(config)
    if rows or broken:
        lines += ["", "SSH connections (what each will use, and where it came from)"]
        lines += _table(rows, redactor)
        lines += [f"  ssh_config problem: {b}" for b in broken]
    lines += ["", f"{len(config.services)} service{'s' if len(config.services) != 1 else ''}"]
    rows = []
    for svc in config.services:
        targets = [h for h, names in config.assignments if svc.name in names]
        rows.append([svc.name, _clip(redactor.redact(_check_summary(svc.check))),
                     ("critical" if svc.critical else "non-critical") + _lifecycle_words(svc),
                     f"on {', '.join(svc.on)} -> {short_list(targets, 8)}"])
    lines += _table(rows, redactor)
    if config.actions:
        lines += ["", f"{len(config.actions)} action{'s' if len(config.actions) != 1 else ''}"]
        lines += _table([[f"key {a.key}", a.name, _clip(a.title, 30), f"on {', '.join(a.on)}",
                          "confirm" if a.confirm else ""] for a in config.actions], redactor)
    lines += ["", "Checks per host"]
    lines += _table([[h, str(len(n)), ", ".join(n) or "(none)"] for h, n in config.assignments], redactor)
    if config.notes:
        lines += ["", "Notes"] + [f"  note: {n}" for n in config.notes]
    return redactor.redact("\n".join(lines))


def describe_json(config: Config) -> dict[str, Any]:
    """``cockpit validate --json``: every host with what its SSH connection will use and where each value came from."""
    resolved = {name: (r, why) for name, r, why in connections(config)}
    hosts = []
    for h in config.hosts:
        r, why = resolved.get(h.name, (None, ""))
        hosts.append({"name": h.name, "transport": h.transport, "address": h.address, "tags": list(h.tags),
                      "connection": connection_json(r) if r is not None else None,
                      **({"error": why} if why else {})})
    return {"config": str(config.path) if config.path else None, "hosts": hosts, "notes": list(config.notes)}
