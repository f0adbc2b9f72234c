"""The tools compared, each set up against one bench fleet: files they read and the command lines.

Settings (each peer's best reasonable ones; see docs/performance.md):

- cockpit: Engine over a config of the fleet; ``[ssh] max_startups`` (handshakes in flight) as given.
- asyncssh: the bare library, one ``connect`` + ``run`` per host, all at once (``--limit`` bounds connects).
- pssh-lib: parallel-ssh's ParallelSSHClient (ssh2-python), pool_size = N, no agent, one key.
  It does not check host keys (parallel-ssh has no known_hosts support in its native client).
- pssh: Debian's ``parallel-ssh`` (OpenSSH ``ssh`` per host), ``-p 50``, known_hosts checked, outputs to ``-o DIR``.
  Cold: ControlMaster=no. Warm: ControlMaster=auto + ControlPersist (the masters are started by a first run).
- ansible: ``ansible all -m raw -a CMD -f 50`` (raw: no Python on the host, no module upload),
  gathering off, known_hosts checked. Cold: ``ControlMaster=no``, no ``-C`` (ansible's default ssh_args add
  compression and ControlPersist, which only cost on one cold run). Warm: ControlMaster=auto,
  ControlPersist=300s, pipelining on.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

import psutil
from common import BENCH, BENCH_VENV, PROJECT_PY, ROOT, BenchFleet, run_measured

WORKER = BENCH / "fanout_worker.py"

SERVICES_B2 = """
[services.agent]
on = ["all"]
systemd = "fleet-agent"
[services.web]
on = ["all"]
docker = "web"
[services.shell]
on = ["all"]
command = "true"
"""


class Peers:
    def __init__(self, fleet: BenchFleet, tmp: Path, *, services: str = "", max_startups: int = 32,
                 max_sessions: int = 8, forks: int = 50, pssh_par: int = 50, interval: str = "1s") -> None:
        self.fleet = fleet
        self.tmp = tmp
        self.forks = forks
        self.pssh_par = pssh_par
        self.max_startups = max_startups
        from cockpitcfg import write_config

        cfg_dir = tmp / "cockpit"
        cfg_dir.mkdir(exist_ok=True)
        self.cockpit_config = write_config(cfg_dir, fleet, services, cockpit={"interval": interval, "history": 120},
                                           ssh={"connect_timeout": "30s", "command_timeout": "60s",
                                                "max_startups": max_startups, "max_sessions": max_sessions,
                                                "keepalive": "0s"})
        self.spec = tmp / "spec.json"
        self.spec.write_text(json.dumps({
            "user": fleet.user, "key": str(fleet.client_key), "known_hosts": str(fleet.known_hosts),
            "hosts": [[h.name, h.address, h.port] for h in fleet.hosts],
            "cockpit_config": str(self.cockpit_config),
        }))
        self.hosts_file = fleet.write_hosts_file(tmp / "pssh_hosts")
        self.inventory = fleet.write_inventory(tmp / "inventory.ini")
        self.control_dir = tmp / "cm"  # ControlPath directory of warm ssh masters (ansible and pssh)
        self.control_dir.mkdir(exist_ok=True)

    # -- ansible -------------------------------------------------------------------------------------

    def ansible_env(self, warm: bool) -> dict[str, str]:
        kh = self.fleet.known_hosts
        common = f"-F /dev/null -o UserKnownHostsFile={kh} -o StrictHostKeyChecking=yes -o BatchMode=yes -o IdentitiesOnly=yes"
        if warm:
            ssh_args = f"{common} -o ControlMaster=auto -o ControlPersist=300s"
        else:
            ssh_args = f"{common} -o ControlMaster=no"
        cfg = self.tmp / ("ansible-warm.cfg" if warm else "ansible-cold.cfg")
        cfg.write_text(
            "[defaults]\n"
            f"inventory = {self.inventory}\n"
            "host_key_checking = True\n"
            f"forks = {self.forks}\n"
            "gathering = explicit\n"
            "interpreter_python = auto_silent\n"
            "retry_files_enabled = False\n"
            f"local_tmp = {self.tmp / 'ansible-tmp'}\n"
            "[ssh_connection]\n"
            f"ssh_args = {ssh_args}\n"
            f"control_path_dir = {self.control_dir}\n"
            f"pipelining = {'True' if warm else 'False'}\n"
        )
        env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
        env.update({"ANSIBLE_CONFIG": str(cfg), "ANSIBLE_NOCOLOR": "1", "ANSIBLE_HOME": str(self.tmp / "ansible-home"),
                    "ANSIBLE_LOAD_CALLBACK_PLUGINS": "0", "PYTHONWARNINGS": "ignore"})
        return env

    def ansible_argv(self, command: str) -> list[str]:
        # the round's script holds docker's {{.State.Status}}, which Ansible would template: wrap it in
        # {% raw %}, behind a shell comment (a leading "{" makes ansible parse the argument as JSON)
        arg = command if "{{" not in command and "{%" not in command else "#{% raw %}\n" + command + "{% endraw %}"
        return [str(BENCH_VENV / "bin" / "ansible"), "all", "-m", "raw", "-a", arg, "-f", str(self.forks)]

    def run_ansible(self, command: str, warm: bool = False, expect: str | None = None) -> dict[str, Any]:
        out = self.tmp / "ansible.out"
        r = run_measured(self.ansible_argv(command), env=self.ansible_env(warm), stdout=out, fleet=self.fleet)
        text = out.read_text(errors="replace")
        if expect is None:
            r["ok"] = text.count(" | CHANGED | rc=0")
        else:  # one block per host ("NAME | CHANGED | rc=0 >>" then its output); the script prints DONE twice
            blocks = re.split(r"^\S+ \| (?:CHANGED|FAILED|UNREACHABLE!?) \|", text, flags=re.M)[1:]
            r["ok"] = sum(1 for b in blocks if expect in b)
        return r

    # -- Debian's parallel-ssh (pssh) ---------------------------------------------------------------------

    def pssh_argv(self, command: str, outdir: Path, warm: bool) -> list[str]:
        f = self.fleet
        opts = ["-O", f"UserKnownHostsFile={f.known_hosts}", "-O", "StrictHostKeyChecking=yes",
                "-O", "BatchMode=yes", "-O", "IdentitiesOnly=yes"]
        if warm:
            opts += ["-O", "ControlMaster=auto", "-O", "ControlPersist=300s",
                     "-O", f"ControlPath={self.control_dir}/pssh-%r@%h:%p"]
        else:
            opts += ["-O", "ControlMaster=no"]
        return ["parallel-ssh", "-h", str(self.hosts_file), "-p", str(self.pssh_par), "-t", "120",
                "-o", str(outdir), *opts, "-x", f"-F /dev/null -i {f.client_key}", command]

    def run_pssh(self, command: str, warm: bool = False, expect: str | None = None) -> dict[str, Any]:
        outdir = self.tmp / "pssh-out"
        shutil.rmtree(outdir, ignore_errors=True)
        r = run_measured(self.pssh_argv(command, outdir, warm), fleet=self.fleet)
        ok = 0
        for p in outdir.glob("*") if outdir.exists() else []:
            text = p.read_text(errors="replace")
            ok += (text.count(" ") == 4) if expect is None else (expect in text)
        r["ok"] = ok
        return r

    # -- in-process workers (cockpit, bare asyncssh, ParallelSSHClient) ------------------------------------

    def run_worker(self, mode: str, tool: str, command: str, *, rounds: int = 0, limit: int = 0) -> dict[str, Any]:
        py = BENCH_VENV / "bin" / "python" if tool == "pssh-lib" else PROJECT_PY
        argv = [str(py), str(WORKER), mode, tool, str(self.spec), command, "--limit", str(limit)]
        if rounds:
            argv += ["--rounds", str(rounds)]
        out = self.tmp / f"worker-{tool}.out"
        # .pyc caching on, as on a normal machine (this sandbox's environment sets PYTHONDONTWRITEBYTECODE,
        # which would make every worker compile the project's modules again)
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        r = run_measured(argv, stdout=out, fleet=self.fleet, cwd=ROOT, env=env)
        try:
            data = json.loads(out.read_text().strip().splitlines()[-1])
            r.update({(f"inproc_{k}" if k in r else k): v for k, v in data.items()})
        except (IndexError, json.JSONDecodeError):
            r["ok"] = 0
        return r

    # -- persistent ssh masters (warm ansible/pssh) --------------------------------------------------------

    def masters(self) -> list[psutil.Process]:
        """ssh ControlMaster processes of this run: their command lines name our control directory."""
        mark = str(self.control_dir)
        found = []
        for p in psutil.process_iter(["name", "cmdline"]):
            try:
                if p.info["name"] == "ssh" and any(mark in a for a in (p.info["cmdline"] or [])):
                    found.append(p)
            except psutil.Error:
                pass
        return found

    def masters_cpu(self) -> float:
        total = 0.0
        for p in self.masters():
            try:
                t = p.cpu_times()
                total += t.user + t.system
            except psutil.Error:
                pass
        return total

    def stop_masters(self) -> None:
        procs = self.masters()
        for p in procs:
            try:
                p.send_signal(signal.SIGTERM)
            except psutil.Error:
                pass
        psutil.wait_procs(procs, timeout=5)


def round_script(config_path: Path) -> str:
    """The script the engine sends to one host in a warm round (3 checks + the load sample)."""
    from cockpit.checks import Section, build_script, check_snippet, needs_cut, new_delimiter
    from cockpit.config import load_config
    from cockpit.engine import load_snippet

    config = load_config(config_path)
    host = config.hosts[0]
    services = config.services_on(host.name)
    sections = [Section(f"s{i}", check_snippet(s.check, s.timeout or config.ssh.command_timeout),
                              cut=needs_cut(s.check)) for i, s in enumerate(services)]
    # a warm round: primed, CPU count known, df not due (it runs every DISK_EVERY seconds)
    sections.append(Section("load", load_snippet(host.mounts, prime=False, disk=False, ncpu=False), cut=False))
    return build_script(sections, new_delimiter())


def sshd_handshake_cost(fleet: BenchFleet, n: int = 50) -> dict[str, float]:
    """sshd's own CPU per connection (handshake + one trivial command), measured with OpenSSH's ssh serially."""
    h = fleet.hosts[0]
    c0 = fleet.cpu_seconds()
    for _ in range(n):
        subprocess.run(h.ssh_argv("true"), check=True, capture_output=True)
    return {"sshd_cpu_ms_per_connection": (fleet.cpu_seconds() - c0) / n * 1000}
