"""pm2 checks: an app's status and restart count from ``pm2 jlist``, read on the host.

``pm2 jlist`` starts a pm2 daemon when none runs, so the snippet first looks for a live one
(``$PM2_HOME/pm2.pid``, default ``~/.pm2``) and says "not running" otherwise. jlist also prints
every app's environment, secrets included: it never leaves the host. A few lines of ``node -e``
(every host with pm2 has node, pm2 being a node program) or, failing that, ``python3 -c`` keep
only the fields judged here (status, restarts, CPU, memory) of the app asked for.
"""

from __future__ import annotations

import shlex

from cockpit.checks.verdict import Verdict
from cockpit.model import STATUS_ORDER, Status
from cockpit.sanitize import one_line
from cockpit.spec import Pm2Check

q = shlex.quote

# both print "A id status restarts unstable cpu memory" per instance of the app, then "PM2 OK n"
_NODE = (
    'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{let a=null;'
    'for(const l of s.split("\\n").reverse()){if(l.startsWith("[")){try{a=JSON.parse(l);break}catch(e){}}}'
    'if(!Array.isArray(a)){console.log("PM2 BAD");return}'
    'for(const p of a){if(p.name!==process.argv[1])continue;const e=p.pm2_env||{},m=p.monit||{};'
    'console.log(["A",p.pm_id,e.status,e.restart_time,e.unstable_restarts,m.cpu,m.memory]'
    '.map(v=>String(v).replace(/\\s/g,"_")).join(" "))}console.log("PM2 OK "+a.length)})'
)
_PYTHON = (
    "import json,sys\n"
    "a=None\n"
    "for l in reversed(sys.stdin.read().splitlines()):\n"
    " if l.startswith('['):\n"
    "  try:\n   a=json.loads(l);break\n"
    "  except ValueError:pass\n"
    "if not isinstance(a,list):print('PM2 BAD');sys.exit()\n"
    "for p in a:\n"
    " if p.get('name')!=sys.argv[1]:continue\n"
    " e=p.get('pm2_env') or {};m=p.get('monit') or {}\n"
    " v=[p.get('pm_id'),e.get('status'),e.get('restart_time'),e.get('unstable_restarts'),m.get('cpu'),m.get('memory')]\n"
    " print(' '.join(['A']+['_'.join(str(x).split()) or '_' for x in v]))\n"
    "print('PM2 OK %d'%len(a))\n"
)


def pm2_snippet(check: Pm2Check) -> str:
    """Shell code printing ``A ...`` lines for the app, ``PM2 NOT-RUNNING``, or an error."""
    app = q(check.app)
    inner = (
        "if ! command -v pm2 >/dev/null 2>&1; then echo 'pm2: not found'; exit 127; fi; "
        '_h=${PM2_HOME:-$HOME/.pm2}; '
        'if ! { [ -r "$_h/pm2.pid" ] && kill -0 "$(cat "$_h/pm2.pid")" 2>/dev/null; }; then '
        'echo "PM2 NOT-RUNNING $_h"; exit 0; fi; '
        f"if command -v node >/dev/null 2>&1; then pm2 jlist 2>/dev/null | node -e {q(_NODE)} {app}; "
        f"elif command -v python3 >/dev/null 2>&1; then pm2 jlist 2>/dev/null | python3 -c {q(_PYTHON)} {app}; "
        "else echo 'PM2 NO-READER'; fi"
    )
    if check.user is None:
        return f"sh -c {q(inner)}"
    user = q(check.user)
    return (f'if [ "$(id -un)" = {user} ]; then sh -c {q(inner)}; '
            f"else sudo -n -u {user} -H sh -c {q(inner)}; fi")


_STATES: dict[str, Status] = {"online": "up", "launching": "degraded", "waiting": "degraded",
                              "waiting_restart": "degraded", "stopping": "degraded", "stopped": "down",
                              "errored": "down", "one-launch-status": "down"}


def judge_pm2(check: Pm2Check, output: str, rc: int) -> Verdict:
    """online: up; launching or waiting restart: degraded; stopped, errored, no such app, no daemon: down."""
    owner = f" for {check.user}" if check.user else ""
    if rc == 127 or "pm2: not found" in output:
        return Verdict("unknown", "pm2 not found on the host" + owner)
    if "PM2 NOT-RUNNING" in output:
        return Verdict("down", f"pm2 not running{owner}: no pm2 daemon, so {check.app} does not run")
    if "PM2 NO-READER" in output:
        return Verdict("unknown", "neither node nor python3 on the host to read pm2 jlist")
    if "PM2 BAD" in output:
        return Verdict("unknown", "pm2 jlist gave no JSON list")
    if "PM2 OK" not in output:
        if "sudo" in output:
            return Verdict("unknown", f"sudo -n -u {check.user} refused: {one_line(output)} (allow it in sudoers)")
        return Verdict("unknown", one_line(output) or f"pm2 jlist exited {rc}")
    rows = [line.split()[1:] for line in output.splitlines() if line.startswith("A ") and len(line.split()) == 7]
    if not rows:
        return Verdict("down", f"no pm2 app named {check.app}{owner}")
    states = [_STATES.get(r[1], "unknown") for r in rows]
    restarts = sum(int(r[2]) for r in rows if r[2].isdigit())
    extra: list[tuple[str, float | int | str]] = [("restarts", restarts), ("instances", len(rows))]
    cpu = [float(r[4]) for r in rows if _number(r[4])]
    mem = [int(float(r[5])) for r in rows if _number(r[5])]
    if cpu:
        extra.append(("cpu", sum(cpu)))  # percent of one CPU, pm2's monit.cpu summed over instances
    if mem:
        extra.append(("mem_bytes", sum(mem)))
    status: Status = min(states, key=lambda s: STATUS_ORDER[s])
    words = sorted({r[1] for r in rows})
    detail = "/".join(words) + (f", {len(rows)} instances" if len(rows) > 1 else "") + f", {restarts} restarts"
    return Verdict(status, detail, tuple(extra))


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
