"""compose checks: a project's containers, found by the labels every Compose version sets.

One snippet per project and round. ``docker ps --all --filter label=com.docker.compose.project=P``
lists the project's containers with no compose binary at all (Compose v1 and v2 both set the
labels), then one ``docker inspect`` gives each container's service label, state, health and
restart count (``docker ps`` has no restart count, and a crash loop is mostly seen by it rising).
With a ``file``, ``docker compose config --services`` (or v1's ``docker-compose``) names the
services that should exist, so a declared service without a container is "missing", not absent.
"""

from __future__ import annotations

import shlex

from cockpit.checks.verdict import Part, Verdict
from cockpit.model import STATUS_ORDER, Status
from cockpit.sanitize import one_line
from cockpit.spec import ComposeCheck

q = shlex.quote

# a container with the project label but no service label (made by hand) is shown as "?"
_INSPECT = ('C {{with index .Config.Labels "com.docker.compose.service"}}{{.}}{{else}}?{{end}} {{.State.Status}} '
            "{{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.RestartCount}} {{.Name}}")


def compose_snippet(check: ComposeCheck, known: str | None = None) -> str:
    """Lines ``C service state health restarts /name``, ``K sum`` and ``S service`` (declared), ``F error``.

    ``known`` is the file's checksum when its services were last listed: ``config --services`` (Compose
    v1 is a Python program: seconds on a busy host) runs again only when the file changed.
    """
    label = q(f"label=com.docker.compose.project={check.project}")
    code = (
        "if ! command -v docker >/dev/null 2>&1; then echo 'docker: not found'; false; else "
        f"_cp=$(docker ps --all --quiet --no-trunc --filter {label} 2>&1); "
        'if [ $? -ne 0 ]; then printf \'%s\\n\' "$_cp"; false; else '
        f'if [ -n "$_cp" ]; then docker inspect --format {q(_INSPECT)} $_cp; fi'
    )
    if check.file is not None:
        f, p = q(check.file), q(check.project)
        code += (
            f"; _cs=; _ck=$(cksum < {f} 2>/dev/null | tr ' ' -); echo \"K $_ck\"; "
            f"if [ -n \"$_ck\" ] && [ \"$_ck\" = {q(known or '')} ]; then :; "
            f"elif docker compose version >/dev/null 2>&1; then _cs=$(docker compose -p {p} -f {f} config --services 2>&1); "
            f"elif command -v docker-compose >/dev/null 2>&1; then _cs=$(docker-compose -p {p} -f {f} config --services 2>&1); "
            "else _cs='neither docker compose nor docker-compose is installed'; false; fi; "
            'if [ $? -ne 0 ]; then printf \'%s\\n\' "$_cs" | tail -n 3 | sed \'s/^/F /\'; '
            'elif [ -n "$_cs" ]; then printf \'%s\\n\' "$_cs" | sed \'s/^/S /\'; fi; true'
        )
    return code + "; fi; fi"


def declared(output: str) -> tuple[str | None, tuple[str, ...] | None]:
    """The file's checksum and the services it declares, when this round listed them (else None)."""
    key = next((line[2:].strip() for line in output.splitlines() if line.startswith("K ")), None)
    names = tuple(line[2:].strip() for line in output.splitlines() if line.startswith("S ") and line[2:].strip())
    return key, names or None


def judge_compose(check: ComposeCheck, output: str, rc: int, known: tuple[str, ...] = ()) -> Verdict:
    """The project's verdict from its critical containers, and one part per container service.

    ``known``: the services the file declared when last listed, used when this round did not list them
    (the file is unchanged).
    """
    lines = output.splitlines()
    containers: dict[str, list[tuple[str, str, str, str]]] = {}
    listed: list[str] = []
    failed: list[str] = []
    for line in lines:
        tag, _, rest = line.partition(" ")
        fields = rest.split()
        if tag == "C" and len(fields) == 5:
            containers.setdefault(fields[0], []).append((fields[1], fields[2], fields[3], fields[4].lstrip("/")))
        elif tag == "S" and rest.strip():
            listed.append(rest.strip())
        elif tag == "F":
            failed.append(rest)
    declared_now = listed or ([] if failed else list(known))
    if rc != 0 and not containers:
        text = one_line(output)
        if rc == 127 or "docker: not found" in output:
            return Verdict("unknown", "docker not found on the host")
        if "permission denied" in output.lower():
            return Verdict("unknown", "permission denied on the docker socket: add the user to the docker group")
        return Verdict("unknown", text or f"docker ps exited {rc}")
    parts = [_part(check, name, containers.get(name, [])) for name in dict.fromkeys([*declared_now, *containers])]
    # a line of another shape (a docker error for one container) is not silently dropped: it is said
    odd = [one_line(line) for line in lines if line and line[:2] not in ("C ", "S ", "F ", "K ")]
    if not parts:
        return Verdict("down", f"no containers of compose project {check.project}")
    verdict = _project(check, parts, "; ".join(one_line(f) for f in failed))
    if odd:
        return Verdict(verdict.status if verdict.status != "up" else "unknown",
                       f"{verdict.detail}; docker said: {odd[0]}", verdict.extra, verdict.parts)
    return verdict


def _part(check: ComposeCheck, name: str, rows: list[tuple[str, str, str, str]]) -> Part:
    critical = name not in check.noncritical
    allowed = check.allowed(name)
    if not rows:
        status, detail = _allow("down", "declared, no container", "missing", allowed)
        return Part(name, status, detail, (), critical)
    judged = [_container(state, health, restarts, allowed) for state, health, restarts, _ in rows]
    restarts = sum(int(r[2]) for r in rows if r[2].isdigit())
    status = min((s for s, _ in judged), key=lambda s: STATUS_ORDER[s])
    detail = judged[0][1] if len(rows) == 1 else f"{len(rows)} containers: " + ", ".join(d for _, d in judged)
    extra: tuple[tuple[str, float | int | str], ...] = (("restarts", restarts), ("containers", len(rows)),
                                                        ("container", rows[0][3]))
    return Part(name, status, detail, extra, critical)


def _container(state: str, health: str, restarts: str, allowed: tuple[str, ...]) -> tuple[Status, str]:
    count = f" ({restarts} restarts)" if restarts.isdigit() and int(restarts) else ""
    if state == "restarting":
        return _allow("degraded", f"restarting{count}", "restarting", allowed)
    if state != "running":
        return _allow("down", f"{state}{count}", state, allowed)
    if health == "unhealthy":
        return _allow("down", f"running but unhealthy{count}", "unhealthy", allowed)
    if health == "starting":
        return _allow("degraded", f"running, health check starting{count}", "starting", allowed)
    return "up", "running" + (f", {health}" if health != "none" else "") + count


def _allow(status: Status, detail: str, state: str, allowed: tuple[str, ...]) -> tuple[Status, str]:
    """A state the config allows for this container counts as fine, and says so."""
    if state in allowed:
        return "up", f"{detail} (allowed)"
    return status, detail


def _project(check: ComposeCheck, parts: list[Part], failed: str) -> Verdict:
    bad = [p for p in parts if p.status != "up"]
    critical_bad = [p for p in bad if p.critical]
    status: Status = min((p.status for p in critical_bad), key=lambda s: STATUS_ORDER[s], default="up")
    fine = len(parts) - len(bad)
    detail = f"{fine}/{len(parts)} services fine"
    notes = [f"{p.name} {p.detail}" + ("" if p.critical else " (not critical)") for p in bad]
    notes += [f"{p.name} {p.detail}" for p in parts if p.status == "up" and p.detail.endswith("(allowed)")]
    if notes:
        detail += ": " + "; ".join(notes)
    if failed:
        detail += f"; declared services unknown: {check.file}: {failed}"
        if status == "up":
            status = "unknown"
    restarts = sum(int(v) for p in parts for k, v in p.extra if k == "restarts")
    extra: tuple[tuple[str, float | int | str], ...] = (("restarts", restarts), ("services", len(parts)))
    return Verdict(status, detail, extra, tuple(parts))
