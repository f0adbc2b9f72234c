"""A faithful pm2 on a loopback fleet host: a ``pm2`` that prints recorded ``jlist`` JSON, and a daemon.

The daemon is a real process of the host's user whose pid is in ``$PM2_HOME/pm2.pid``, as pm2 writes
it; the ``pm2`` stand-in logs every call to ``$PM2_HOME/calls`` so a test can prove no pm2 command ran
(and so could have started a daemon) when none was running. jlist's JSON carries each app's
environment, secrets included, as pm2's does.
"""

from __future__ import annotations

import json
import os
import pwd
import subprocess
from pathlib import Path

from fleet import TEST_USER

# what pm2 stop/restart do to the list: the app's status, and restart counts one more restart
EDIT = ('const fs=require("fs"),[f,op,name]=process.argv.slice(1),a=JSON.parse(fs.readFileSync(f,"utf8"));'
        'let n=0;for(const p of a){if(p.name!==name)continue;n++;const e=p.pm2_env;'
        'if(op==="stop")e.status="stopped";else{e.status="online";e.restart_time+=1}}'
        'if(!n){console.error("[PM2][ERROR] Process or Namespace "+name+" not found");process.exit(1)}'
        'fs.writeFileSync(f,JSON.stringify(a)+"\\n")')
PM2 = """#!/bin/sh
EDIT='""" + EDIT + """'
echo "$*" >> "$PM2_HOME/calls"
case "$1" in
  jlist) echo '>>>> In-memory PM2 is out-of-date, do:'; echo '>>>> $ pm2 update'; cat "$PM2_HOME/jlist.json" ;;
  stop|restart) node -e "$EDIT" "$PM2_HOME/jlist.json" "$1" "$2" && echo "[PM2] $1 $2 done" ;;
  *) echo "pm2 stand-in: $1 is not recorded" >&2; exit 1 ;;
esac
"""


def app(name: str, pm_id: int, status: str, restarts: int, secrets: dict[str, str], *,
        cpu: float = 1.5, memory: int = 50 * 1024 * 1024) -> dict[str, object]:
    """One entry of ``pm2 jlist`` as pm2 5 prints it (trimmed to what matters, env included)."""
    env = {"NODE_ENV": "production", **secrets}
    return {"pid": 4000 + pm_id, "name": name, "pm_id": pm_id, "monit": {"memory": memory, "cpu": cpu},
            "pm2_env": {"name": name, "status": status, "restart_time": restarts, "unstable_restarts": 0,
                        "pm_uptime": 1765000000000, "exec_mode": "fork_mode", "env": env, **env}}


class Pm2Home:
    """``$PM2_HOME`` of the test user: the jlist answer, the daemon pid file and the call log."""

    def __init__(self, root: Path, user: str = TEST_USER) -> None:
        self.dir = root / "pm2home"
        self.bin = root / "pm2bin"
        self.user = pwd.getpwnam(user)
        for d in (self.dir, self.bin):
            d.mkdir(mode=0o755)
            os.chown(d, self.user.pw_uid, self.user.pw_gid)
        (self.bin / "pm2").write_text(PM2)
        (self.bin / "pm2").chmod(0o755)
        self.daemon: subprocess.Popen[bytes] | None = None

    def jlist(self, apps: list[dict[str, object]]) -> None:
        path = self.dir / "jlist.json"
        path.write_text(json.dumps(apps) + "\n")
        path.chmod(0o666)  # pm2 stop/restart, run by the login user, rewrite it
        os.chown(path, self.user.pw_uid, self.user.pw_gid)

    def start_daemon(self) -> None:
        """A process of the pm2 user (kill -0 from that user must reach it), its pid in pm2.pid."""
        self.daemon = subprocess.Popen(["sleep", "300"], user=self.user.pw_uid, group=self.user.pw_gid)
        (self.dir / "pm2.pid").write_text(f"{self.daemon.pid}\n")
        (self.dir / "pm2.pid").chmod(0o644)

    def stop_daemon(self) -> None:
        if self.daemon is not None:
            self.daemon.kill()
            self.daemon.wait(10)
            self.daemon = None  # the stale pid file stays, as after a crash

    def calls(self) -> list[str]:
        path = self.dir / "calls"
        return path.read_text().splitlines() if path.exists() else []
