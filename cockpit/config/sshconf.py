"""The ssh_config, checked at load and shown per host: what each SSH connection will use, and why.

A line OpenSSH would refuse is a config error here (file and line, exit 2), once, instead of a failure of
every host on every round; an option only this OpenSSH refuses (``UseKeychain``) and a missing key file
are warnings, since the same file may serve another ssh and OpenSSH skips a missing key.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from cockpit.config.source import Reader
from cockpit.errors import ConfigError, ConfigIssue
from cockpit.spec import Config, HostSpec, SshSettings
from cockpit.transports import ResolvedSsh, load_ssh_config, resolve_host

__all__ = ["FIELDS", "check_ssh_config", "connection_json", "connections", "describe_connections"]

#: what ``validate`` shows per SSH host: (label, ResolvedSsh attribute, origin key)
FIELDS = (("hostname", "hostname", "hostname"), ("port", "port", "port"), ("user", "user", "user"),
          ("key", "identity_file", "identity_file"), ("jump", "proxy_jump", "proxy_jump"))


def check_ssh_config(r: Reader, settings: SshSettings, hosts: list[HostSpec]) -> None:
    """Parse the ssh_config once and resolve every SSH host, adding its problems to ``r``."""
    if settings.config is not None and not settings.config.is_file():
        return  # already reported as [ssh] config
    if not any(h.transport == "ssh" for h in hosts):
        return  # nothing connects over SSH: ~/.ssh/config is none of this config's business
    try:
        parsed = load_ssh_config(settings.config)
    except ConfigError as exc:
        r.issues.extend(_fixed(i) for i in exc.issues)
        return
    if parsed is not None:
        r.warnings.extend(parsed.warnings)
    for host in hosts:
        if host.transport != "ssh":
            continue
        try:
            resolved = resolve_host(host, settings)
        except ConfigError as exc:
            r.issues.extend(_fixed(i) for i in exc.issues)
            continue
        for warning in resolved.warnings():
            r.warnings.append(ConfigIssue(r.file, f"hosts.{host.name}", warning,
                                          "create the key, fix the IdentityFile/identity_file, or remove it",
                                          host.source[1] if host.source and host.source[0] == r.file else None))


def _fixed(issue: ConfigIssue) -> ConfigIssue:
    """An ssh_config issue, said to be one (the file may be the implicit ``~/.ssh/config``)."""
    return ConfigIssue(issue.file, issue.key, f"ssh_config: {issue.message}", issue.fix, issue.line)


def connections(config: Config) -> list[tuple[str, ResolvedSsh | None, str]]:
    """(host, its resolution or None, why not) for every SSH host, in config order."""
    out: list[tuple[str, ResolvedSsh | None, str]] = []
    for host in config.hosts:
        if host.transport != "ssh":
            continue
        try:
            out.append((host.name, resolve_host(host, config.ssh), ""))
        except ConfigError as exc:  # the file changed since load
            out.append((host.name, None, str(exc)))
    return out


def connection_json(resolved: ResolvedSsh) -> dict[str, Any]:
    """One host's resolution for ``validate --json``: each field's value and origin."""
    fields = {label: {"value": getattr(resolved, attr), "origin": resolved.origin_of(key)
                      if getattr(resolved, attr) is not None else None} for label, attr, key in FIELDS}
    return {"alias": resolved.alias, **fields, "identity_files": list(resolved.identity_files),
            "proxy_command": resolved.proxy_command, "warnings": list(resolved.warnings())}


def _home_short(text: str) -> str:
    home = str(Path.home())
    return text.replace(home + "/", "~/") if home != "/" else text


def _no_key(r: ResolvedSsh) -> str:
    """What authenticates when no key file exists: asyncssh falls back to its default keys for named ones."""
    return "(no named key exists: ssh-agent, then default keys)" if r.identities_named \
        else "(no key file: ssh-agent only)"


def describe_connections(config: Config) -> tuple[list[list[str]], list[str]]:
    """Rows (host, field, value, origin) for ``validate``, and the hosts whose ssh_config no longer parses."""
    rows: list[list[str]] = []
    broken: list[str] = []
    for name, resolved, why in connections(config):
        if resolved is None:
            broken.append(f"{name}: {why}")
            continue
        first = True
        for label, attr, key in FIELDS:
            value = getattr(resolved, attr)
            if value is None and label in ("jump",):
                continue
            shown = _home_short(str(value)) if value is not None else _no_key(resolved)
            origin = _home_short(resolved.origin_of(key)) if value is not None else ""
            rows.append([name if first else "", label, shown, origin])
            first = False
    return rows, broken
