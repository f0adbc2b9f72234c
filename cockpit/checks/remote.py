"""Checks that run on the host: the shell snippet for each kind, and how to read its answer.

Snippets run inside one batched script fed to ``sh -s`` (see :mod:`cockpit.checks.batch`),
never with ``sudo``; all but a command check's run in that shell itself, so they never
``exit`` or ``cd``. Patterns and commands are shell-quoted here; nothing else from
the config reaches the shell.
"""

from __future__ import annotations

import re
import shlex
from cockpit.sanitize import one_line
from cockpit.checks.compose import compose_snippet, judge_compose
from cockpit.checks.logs import log_snippet
from cockpit.checks.dns import MISSING_DIG, dns_snippet, judge_dns, parse_dig
from cockpit.checks.pm2 import judge_pm2, pm2_snippet
from cockpit.checks.verdict import Verdict
from cockpit.spec import (
    Check,
    CommandCheck,
    ComposeCheck,
    DnsCheck,
    DockerCheck,
    LaunchdCheck,
    LogCheck,
    Pm2Check,
    PortCheck,
    ProcessCheck,
    SystemdCheck,
)

q = shlex.quote


def check_snippet(check: Check, timeout: float, login_shell: bool = False) -> str:
    """Shell code whose output (stdout+stderr) and exit status judge the check."""
    if isinstance(check, SystemdCheck):
        return f"systemctl show -p LoadState -p ActiveState -p SubState -p NRestarts -- {q(check.unit)}"
    if isinstance(check, LaunchdCheck):
        return f"launchctl list {q(check.label)}"
    if isinstance(check, DockerCheck):
        fmt = "{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}}"
        return f"docker inspect --format {q(fmt)} -- {q(check.container)}"
    if isinstance(check, ProcessCheck):
        # pgrep runs here, in the batch shell: the pattern is on no command line but pgrep's own
        return (
            f"_p=$(pgrep -f -- {q(check.pattern)} | head -n 20 | tr '\\n' ,); _p=${{_p%,}}; "
            'if [ -z "$_p" ]; then echo none; false; else ps -o pid= -o rss= -o comm= -p "$_p"; fi'
        )
    if isinstance(check, PortCheck):
        return (
            "if command -v ss >/dev/null 2>&1; then "
            f"ss -H -t -l -n -p 'sport = :{check.port}' 2>/dev/null || ss -H -t -l -n 'sport = :{check.port}'; "
            "elif command -v lsof >/dev/null 2>&1; then "
            f"lsof -nP -iTCP:{check.port} -sTCP:LISTEN 2>/dev/null | tail -n +2; "
            f"else netstat -an 2>/dev/null | grep -E '[.:]{check.port} .*LISTEN'; fi; true"
        )
    if isinstance(check, CommandCheck):
        shell = '"${SHELL:-/bin/sh}" -l -c' if login_shell else "sh -c"
        t = max(1, int(timeout))
        # the round script reaches the host on stdin and this runs in its own subshell: ``export`` is a
        # builtin, so the values are in no argv and no other check sees them
        exports = "".join(f"export {name}={q(value)}; " for name, value in check.env)
        return (
            f"{exports}if command -v timeout >/dev/null 2>&1; then timeout -k 2 {t} {shell} {q(check.command)}; "
            f"else {shell} {q(check.command)}; fi"
        )
    if isinstance(check, DnsCheck):
        return dns_snippet(check, timeout)
    if isinstance(check, ComposeCheck):
        return compose_snippet(check)
    if isinstance(check, Pm2Check):
        return pm2_snippet(check)
    if isinstance(check, LogCheck):
        return log_snippet(check, None)  # the poller passes its cursor (engine/logwatch.py)
    raise TypeError(f"{check.kind} does not run on the host")


def needs_cut(check: Check) -> bool:
    """Whether the check's output must be cut on the host: only a user's command can print megabytes."""
    return isinstance(check, CommandCheck)


def judge(check: Check, output: str, rc: int | None) -> Verdict:
    """Turn a snippet's output and exit status into a status and one actionable line."""
    if rc is None:
        return Verdict("unknown", "no answer from the check (batch cut short)")
    if isinstance(check, SystemdCheck):
        return _systemd(check, output, rc)
    if isinstance(check, LaunchdCheck):
        return _launchd(check, output, rc)
    if isinstance(check, DockerCheck):
        return _docker(check, output, rc)
    if isinstance(check, ProcessCheck):
        return _process(check, output, rc)
    if isinstance(check, PortCheck):
        return _port(check, output)
    if isinstance(check, CommandCheck):
        return _command(check, output, rc)
    if isinstance(check, DnsCheck):
        answers = parse_dig(output)
        if answers is None:
            return Verdict("unknown", f"{MISSING_DIG.split(': ')[1].replace('missing', 'not found')} on the host: "
                                      "install bind9-dnsutils (dnsutils), or resolve from the cockpit with "
                                      'from = "cockpit"')
        return Verdict(*judge_dns(check, answers))  # type: ignore[arg-type]
    if isinstance(check, ComposeCheck):
        return judge_compose(check, output, rc)
    if isinstance(check, Pm2Check):
        return judge_pm2(check, output, rc)
    raise TypeError(check.kind)


def _missing_tool(output: str, rc: int, tool: str) -> Verdict | None:
    if rc == 127 or "not found" in output and tool in output:
        return Verdict("unknown", f"{tool} not found on the host")
    return None


def _systemd(check: SystemdCheck, output: str, rc: int) -> Verdict:
    if (v := _missing_tool(output, rc, "systemctl")) is not None:
        return v
    props = dict(line.split("=", 1) for line in output.splitlines() if "=" in line)
    load, active, sub = props.get("LoadState", ""), props.get("ActiveState", ""), props.get("SubState", "")
    restarts = props.get("NRestarts", "")
    extra: tuple[tuple[str, float | int | str], ...] = ()
    if restarts.isdigit():
        extra = (("restarts", int(restarts)),)
    if load == "not-found":
        return Verdict("down", f"unit {check.unit} does not exist", extra)
    if not active:
        return Verdict("unknown", one_line(output) or f"systemctl gave no state for {check.unit}")
    if active == "active":
        return Verdict("up", f"active ({sub})" if sub else "active", extra)
    if active in ("activating", "reloading", "deactivating"):
        return Verdict("degraded", f"{active} ({sub})", extra)
    return Verdict("down", f"{active} ({sub})" if sub else active, extra)


def _launchd(check: LaunchdCheck, output: str, rc: int) -> Verdict:
    if (v := _missing_tool(output, rc, "launchctl")) is not None:
        return v
    if rc != 0:
        return Verdict("down", f"{check.label} is not loaded")
    pid = re.search(r'"PID"\s*=\s*(\d+)', output)
    last = re.search(r'"LastExitStatus"\s*=\s*(-?\d+)', output)
    if pid:
        return Verdict("up", f"running, pid {pid.group(1)}", (("pid", int(pid.group(1))),))
    code = last.group(1) if last else "?"
    return Verdict("down", f"loaded but not running (last exit {code})")


def _docker(check: DockerCheck, output: str, rc: int) -> Verdict:
    if (v := _missing_tool(output, rc, "docker")) is not None:
        return v
    text = one_line(output)
    if rc != 0:
        if "No such" in output:
            return Verdict("down", f"no container named {check.container}")
        if "permission denied" in output.lower():
            return Verdict("unknown", "permission denied on the docker socket: add the user to the docker group")
        return Verdict("unknown", text or f"docker inspect exited {rc}")
    parts = output.split()
    if len(parts) < 3:
        return Verdict("unknown", f"unexpected docker answer: {text}")
    state, health, restarts = parts[0], parts[1], parts[2]
    extra: tuple[tuple[str, float | int | str], ...] = (("restarts", int(restarts)),) if restarts.isdigit() else ()
    if state == "restarting":
        return Verdict("degraded", f"restart loop ({restarts} restarts)", extra)
    if state != "running":
        return Verdict("down", f"container {state}", extra)
    if health == "unhealthy":
        return Verdict("down", "running but unhealthy", extra)
    if health == "starting":
        return Verdict("degraded", "running, health check starting", extra)
    return Verdict("up", "running" + (f", {health}" if health != "none" else ""), extra)


def _process(check: ProcessCheck, output: str, rc: int) -> Verdict:
    if rc != 0 or output.strip() == "none":
        return Verdict("down", f"no process matches {check.pattern!r}")
    rows = [line.split(None, 2) for line in output.splitlines() if line.strip()]
    rows = [r for r in rows if len(r) >= 2 and r[0].isdigit() and r[1].isdigit()]
    if not rows:
        return Verdict("unknown", one_line(output) or "ps gave no answer")
    rss_kb = sum(int(r[1]) for r in rows)
    names = sorted({r[2] for r in rows if len(r) > 2})
    detail = f"{len(rows)} process{'es' if len(rows) > 1 else ''}, pid {rows[0][0]}, RSS {rss_kb / 1024:.1f} MB"
    if names:
        detail += f" ({', '.join(names)[:40]})"
    return Verdict("up", detail, (("rss_kb", rss_kb), ("count", len(rows))))


_USERS = re.compile(r'users:\(\("([^"]+)",pid=(\d+)')


def _port(check: PortCheck, output: str) -> Verdict:
    lines = [line for line in output.splitlines() if line.strip()]
    listening = bool(lines)
    owners = _USERS.findall(output)
    if not owners:  # lsof: COMMAND PID ...
        owners = [(p[0], p[1]) for p in (line.split() for line in lines) if len(p) > 1 and p[1].isdigit()]
    who = ", ".join(f"{name} (pid {pid})" for name, pid in dict(owners).items())
    if check.free:
        if listening:
            return Verdict("down", f"port {check.port} still held" + (f" by {who}" if who else ""))
        return Verdict("up", f"port {check.port} is free")
    if not listening:
        return Verdict("down", f"nothing listens on port {check.port}")
    if check.owner:
        if not owners:
            return Verdict("unknown", f"port {check.port} listens; owner not visible without root")
        if not any(name == check.owner for name, _ in owners):
            return Verdict("down", f"port {check.port} held by {who}, expected {check.owner}")
    return Verdict("up", f"listening on {check.port}" + (f" ({who})" if who else ""))


def _command(check: CommandCheck, output: str, rc: int) -> Verdict:
    tail = one_line(output.strip().splitlines()[-1] if output.strip() else "")
    if rc == 124:
        return Verdict("down", "timed out")
    if rc != 0:
        return Verdict("down", f"exit {rc}" + (f": {tail}" if tail else ""))
    if check.expect_stdout is not None and check.expect_stdout not in output:
        return Verdict("down", f"output lacks {check.expect_stdout!r}" + (f": {tail}" if tail else ""))
    if check.expect_stdout_regex is not None and not re.search(check.expect_stdout_regex, output):
        return Verdict("down", f"output does not match /{check.expect_stdout_regex}/" + (f": {tail}" if tail else ""))
    return Verdict("up", tail or "exit 0")
