"""A real loopback fleet of OpenSSH sshd processes for integration tests.

Every "host" is one ``sshd -D`` on its own loopback address (all of
127.0.0.0/8 is loopback on Linux) and a free port, with its own host key and
sshd_config. Sessions log in as a test user whose shell is ``/bin/sh`` (no rc
files, so a command costs milliseconds) and find shims for ``systemctl`` and
``docker`` first on their PATH (set with sshd's ``SetEnv``). The shims answer
from per-host state files that tests set with :meth:`Fleet.set_systemd` and
:meth:`Fleet.set_docker`.

Layout of a fleet's directory (world-traversable, the test user reads it)::

    ROOT/authorized_keys          the client public key, for every host
    ROOT/client/id_ed25519        the client key (readable by the test process only)
    ROOT/known_hosts              "[127.a.b.11]:PORT ssh-ed25519 AAAA..." per host
    ROOT/shims/{systemctl,docker} POSIX sh shims
    ROOT/state/hN/{systemd,docker}/NAME   shim state, one file per unit/container
    ROOT/hosts/hN/{sshd_config,hostkey,sshd.log,sshd.pid}

Processes are only ever stopped by their own pid (the sshd listener and its
descendants, found with psutil), never by name.
"""

from __future__ import annotations

import atexit
import base64
import getpass
import hashlib
import itertools
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psutil
from proctree import freeze_tree, has_ancestor_in, kill, signal_all, tree

TEST_USER = "cockpit-test"
"""Login user of the fleet: shell /bin/sh, created by :func:`ensure_test_user`."""

_SHIMS = Path(__file__).with_name("shims")
_SEARCH_PATH = "/usr/sbin:/usr/local/sbin:/sbin:" + os.environ.get("PATH", "/usr/bin:/bin")
_SECOND_OCTET = 1 + os.getpid() % 254
_fleet_counter = itertools.count()
_live: weakref.WeakSet[Fleet] = weakref.WeakSet()


def sshd_path() -> str | None:
    """Path of the sshd binary (it must be absolute: sshd re-executes itself)."""
    return shutil.which("sshd", path=_SEARCH_PATH)


def fleet_unavailable_reason() -> str | None:
    """Why a fleet cannot run here, or None when it can (used to skip tests)."""
    if sshd_path() is None:
        return "OpenSSH sshd not found: install openssh-server (make test does it as root)"
    if shutil.which("ssh-keygen") is None:
        return "ssh-keygen not found: install openssh-client"
    return None


def ensure_test_user(name: str = TEST_USER) -> str:
    """Make sure the fleet's login user exists and may log in; return its name.

    As root: create ``name`` (shell /bin/sh, home dir) if missing and set its
    password field to ``*`` (with UsePAM no, sshd refuses a locked ``!``
    account). Otherwise, or if useradd is impossible, fall back to the current
    user, whose rc files may make every command slower.
    """
    if os.geteuid() != 0:
        return getpass.getuser()
    try:
        pwd.getpwnam(name)
    except KeyError:
        result = subprocess.run(
            ["useradd", "--create-home", "--shell", "/bin/sh",
             "--comment", "Cutover Cockpit test fleet", name],
            capture_output=True, text=True,
        )
        # 9: created meanwhile by a concurrent test run.
        if result.returncode not in (0, 9):
            return getpass.getuser()
    if _shadow_field(name).startswith("!"):
        for _ in range(20):  # another run may hold the /etc/shadow lock
            if subprocess.run(["usermod", "-p", "*", name], capture_output=True).returncode == 0:
                break
            time.sleep(0.1)
    return name


def _shadow_field(name: str) -> str:
    try:
        with open("/etc/shadow", encoding="utf-8") as shadow:
            for line in shadow:
                fields = line.split(":")
                if fields[0] == name:
                    return fields[1]
    except OSError:
        pass
    return ""


def _free_port(address: str) -> int:
    with socket.socket() as sock:
        sock.bind((address, 0))
        return int(sock.getsockname()[1])


def _keygen(path: Path, comment: str) -> None:
    for stale in (path, path.with_name(path.name + ".pub")):
        stale.unlink(missing_ok=True)
    subprocess.run(
        ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", str(path)],
        check=True, capture_output=True,
    )


def _write(path: Path, text: str, mode: int = 0o644) -> None:
    """Write atomically (a shim may be reading) with an explicit mode."""
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.chmod(mode)
    os.replace(tmp, path)


class FleetHost:
    """One loopback "host": an sshd with its own address, port, key and config."""

    def __init__(self, fleet: Fleet, name: str, address: str) -> None:
        self.fleet = fleet
        self.name = name
        self.address = address
        self.port = _free_port(address)
        self.dir = fleet.root / "hosts" / name
        self.host_key = self.dir / "hostkey"
        self.config_path = self.dir / "sshd_config"
        self.log_path = self.dir / "sshd.log"
        self._proc: subprocess.Popen[bytes] | None = None
        self._paused: list[psutil.Process] = []

    def __repr__(self) -> str:
        return f"<FleetHost {self.name} {self.address}:{self.port} pid={self.pid}>"

    # -- identity ------------------------------------------------------------
    @property
    def state_dir(self) -> Path:
        """Shim state of this host ($COCKPIT_SHIM_STATE in its sessions)."""
        return self.fleet.root / "state" / self.name

    def host_public_key(self) -> str:
        """``ssh-ed25519 AAAA...`` (without comment)."""
        algo, blob = self.host_key.with_name("hostkey.pub").read_text().split()[:2]
        return f"{algo} {blob}"

    def host_key_fingerprint(self) -> str:
        """``SHA256:...`` as OpenSSH and asyncssh print it."""
        blob = base64.b64decode(self.host_public_key().split()[1])
        digest = base64.b64encode(hashlib.sha256(blob).digest()).decode().rstrip("=")
        return f"SHA256:{digest}"

    def known_hosts_line(self) -> str:
        return f"[{self.address}]:{self.port} {self.host_public_key()}"

    def connect_kwargs(self, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect`` to this host."""
        return self.fleet.connect_kwargs(self, **overrides)

    def ssh_argv(self, command: str) -> list[str]:
        """An OpenSSH client command line running ``command`` on this host."""
        return [
            "ssh", "-F", "/dev/null", "-i", str(self.fleet.client_key), "-p", str(self.port),
            "-o", f"UserKnownHostsFile={self.fleet.known_hosts}",
            "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
            f"{self.fleet.user}@{self.address}", command,
        ]

    # -- shim state ------------------------------------------------------------
    def set_systemd(self, unit: str, state: str | None) -> None:
        """``"active running"`` (optionally ``" NRESTARTS"``), or None: unit not found."""
        self.fleet.set_systemd(self, unit, state)

    def set_docker(self, name: str, state: str | None) -> None:
        """``"running healthy 0"`` (status, health, restarts), or None: no such object."""
        self.fleet.set_docker(self, name, state)

    def set_shim_delay(self, seconds: float | None) -> None:
        """Make both shims sleep before answering (a slow remote command)."""
        self.fleet.set_shim_delay(self, seconds)

    # -- process control ----------------------------------------------------------
    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc is not None else None

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def paused(self) -> bool:
        return bool(self._paused)

    def write_config(self) -> None:
        fleet = self.fleet
        path = ":".join([str(fleet.shim_dir), "/usr/local/bin", "/usr/bin", "/bin"])
        # sshd keeps the first value it reads for most keywords, so the caller's
        # extra lines go first; a Match block must be last, so it goes last.
        head, match, tail = fleet.extra_config.partition("\nMatch ")
        if fleet.extra_config.startswith("Match "):
            head, tail = "", fleet.extra_config
        elif match:
            tail = "Match " + tail
        lines = [
            head.strip(),
            f"ListenAddress {self.address}:{self.port}",
            f"HostKey {self.host_key}",
            f"AuthorizedKeysFile {fleet.root / 'authorized_keys'}",
            f"PidFile {self.dir / 'sshd.pid'}",
            "PasswordAuthentication no",
            "KbdInteractiveAuthentication no",
            "PubkeyAuthentication yes",
            "StrictModes no",
            "UsePAM no",
            "PrintMotd no",
            "PrintLastLog no",
            "UseDNS no",
            "LogLevel VERBOSE",
            f"AllowUsers {fleet.user}",
            f"SetEnv COCKPIT_TEST_HOST={self.name} COCKPIT_SHIM_STATE={self.state_dir} PATH={path}"
            + "".join(f" {k}={v}" for k, v in fleet.env.items()),
            "Subsystem sftp internal-sftp",
            tail.strip(),
        ]
        _write(self.config_path, "\n".join(line for line in lines if line) + "\n")

    def start(self, timeout: float = 10.0) -> None:
        """Start sshd (no-op if running) and wait until it sends its banner."""
        if self.running:
            return
        self._launch()
        self._wait_ready(time.monotonic() + timeout)

    def _launch(self) -> None:
        if os.geteuid() == 0:
            Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)  # sshd's privsep dir
        self._paused = []
        with open(self.log_path, "ab") as log:
            log.write(f"--- fleet: starting sshd {self.address}:{self.port}\n".encode())
            log.flush()
            self._proc = subprocess.Popen(
                [self.fleet.sshd, "-D", "-e", "-f", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )

    def _wait_ready(self, deadline: float) -> None:
        while True:
            if self._proc is None or self._proc.poll() is not None:
                raise RuntimeError(f"sshd for {self.name} exited early:\n{self.log_tail()}")
            try:
                with socket.create_connection((self.address, self.port), timeout=0.5) as sock:
                    if sock.recv(8).startswith(b"SSH-"):
                        return
            except OSError:
                pass
            if time.monotonic() > deadline:
                self.stop()
                raise TimeoutError(f"sshd for {self.name} not ready in time:\n{self.log_tail()}")
            time.sleep(0.01)

    def _tree(self) -> list[psutil.Process]:
        """The sshd listener and every descendant (connections, sessions)."""
        if self._proc is None or self._proc.poll() is not None:
            return []
        return tree(psutil.Process(self._proc.pid))

    def _freeze(self, sessions: bool = True) -> list[psutil.Process]:
        if self._proc is None:
            return []
        try:
            return freeze_tree(psutil.Process(self._proc.pid), sessions)
        except psutil.NoSuchProcess:
            return []

    def stop(self, timeout: float = 5.0) -> None:
        """Stop sshd and all its sessions: the host is down (connection refused)."""
        if self._proc is None:
            return
        kill(self._freeze(), timeout)  # frozen first, so no child escapes
        self._proc.wait(timeout=timeout)
        self._proc = None
        self._paused = []

    def restart(self) -> None:
        self.stop()
        self.start()

    def pause(self, sessions: bool = True) -> None:
        """SIGSTOP sshd: TCP connects succeed but nothing answers (a hung host).

        With ``sessions`` (default) open connections and their commands hang too.
        """
        if self.running and not self._paused:
            self._paused = self._freeze(sessions)

    def resume(self) -> None:
        """SIGCONT what :meth:`pause` stopped."""
        signal_all(self._paused, signal.SIGCONT)
        self._paused = []

    def regenerate_host_key(self) -> str:
        """Give the host a new key (sshd restarted); return its fingerprint.

        known_hosts keeps the old key, for changed-key tests;
        :meth:`Fleet.write_known_hosts` accepts the new one.
        """
        was_running = self.running
        self.stop()
        _keygen(self.host_key, f"fleet-{self.name}")
        if was_running:
            self.start()
        return self.host_key_fingerprint()

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 20) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


class Fleet:
    """N loopback sshd hosts, a client key, a known_hosts file and shim state."""

    def __init__(
        self,
        n: int = 3,
        *,
        extra_config: str = "",
        env: dict[str, str] | None = None,
        root: Path | None = None,
        user: str | None = None,
        base_address: str | None = None,
    ) -> None:
        """``base_address`` is the first host's address (default 127.X.Y.11,
        X from the pid and Y from a counter, so parallel runs rarely meet)."""
        sshd = sshd_path()
        if sshd is None:
            raise RuntimeError(fleet_unavailable_reason())
        self.sshd = sshd
        self.extra_config = extra_config.strip()
        #: more variables for every session, on the one SetEnv line (sshd uses only the first SetEnv it reads,
        #: so a SetEnv in ``extra_config`` would drop the fleet's own)
        self.env = dict(env or {})
        self.root = Path(root or tempfile.mkdtemp(prefix="cockpit-fleet-"))
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)  # sshd reads authorized_keys as the test user
        self.user = user or ensure_test_user()
        self.client_key = self.root / "client" / "id_ed25519"
        self.known_hosts = self.root / "known_hosts"
        self.shim_dir = self.root / "shims"
        self.startup_seconds: float | None = None
        if base_address is None:
            base_address = f"127.{_SECOND_OCTET}.{next(_fleet_counter) % 256}.11"
        prefix, last = base_address.rsplit(".", 1)
        self.hosts = [
            FleetHost(self, f"h{i + 1}", f"{prefix}.{int(last) + i}") for i in range(n)
        ]
        self._owns_root = root is None
        _live.add(self)

    def __repr__(self) -> str:
        return f"<Fleet {len(self.hosts)} hosts at {self.root}>"

    def __enter__(self) -> Fleet:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __iter__(self) -> Iterator[FleetHost]:
        return iter(self.hosts)

    def __len__(self) -> int:
        return len(self.hosts)

    def __getitem__(self, name: str) -> FleetHost:
        return self.host(name)

    def host(self, host: FleetHost | str) -> FleetHost:
        if isinstance(host, FleetHost):
            return host
        for candidate in self.hosts:
            if candidate.name == host:
                return candidate
        raise KeyError(host)

    # -- lifecycle ------------------------------------------------------------
    def start(self, timeout: float = 15.0) -> Fleet:
        """Generate keys, configs and shims, start every sshd, write known_hosts."""
        began = time.monotonic()
        try:
            self._prepare()
            for host in self.hosts:
                host._launch()
            deadline = time.monotonic() + timeout
            for host in self.hosts:
                try:
                    host._wait_ready(deadline)
                except RuntimeError:
                    if "Address already in use" not in host.log_text():
                        raise
                    host.port = _free_port(host.address)  # lost a race for the port
                    host.write_config()
                    host.start()
            self.write_known_hosts()
        except BaseException:
            self.close()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def _prepare(self) -> None:
        self.client_key.parent.mkdir(mode=0o700, exist_ok=True)
        _keygen(self.client_key, "cockpit-fleet-client")
        public = self.client_key.with_name("id_ed25519.pub").read_text()
        _write(self.root / "authorized_keys", public)
        self.shim_dir.mkdir(mode=0o755, exist_ok=True)
        for shim in ("systemctl", "docker", "launchctl"):
            shutil.copyfile(_SHIMS / shim, self.shim_dir / shim)
            (self.shim_dir / shim).chmod(0o755)
        for host in self.hosts:
            host.dir.mkdir(parents=True, exist_ok=True)
            _keygen(host.host_key, f"fleet-{host.name}")
            host.write_config()
            self._clear_state(host)

    def close(self) -> None:
        """Stop every sshd by pid and remove the fleet directory."""
        for host in self.hosts:
            try:
                host.stop()
            except Exception:  # keep stopping the others
                pass
        kill(self.remote_processes())  # commands whose session ended without them
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)
        _live.discard(self)

    def reset(self) -> None:
        """Undo what a test did to a shared fleet: resume, restart, clear state."""
        for host in self.hosts:
            host.resume()
            if not host.running:
                host.start()
            self._clear_state(host)
        self.write_known_hosts()
        live = {proc.pid for host in self.hosts for proc in host._tree()}
        kill([proc for proc in self.remote_processes() if not has_ancestor_in(proc, live)])

    def remote_processes(self, host: FleetHost | str | None = None) -> list[psutil.Process]:
        """Processes started by this fleet's SSH sessions (of ``host``, or all).

        Found by the ``COCKPIT_SHIM_STATE`` in their environment, so a command
        that outlived its session (sshd does not kill it when the channel
        closes) is found too: tests can assert a timed-out command is gone.
        A process is visible here once it has exec'd (before that its
        environment is still sshd's).
        """
        wanted = str(self.state_dir(host)) if host is not None else None
        prefix = f"{self.root / 'state'}/"
        found = []
        for proc in psutil.process_iter(["username"]):
            if proc.info["username"] != self.user or proc.pid == os.getpid():
                continue
            try:
                value = proc.environ().get("COCKPIT_SHIM_STATE", "")
            except psutil.Error:
                continue
            if value == wanted if wanted is not None else value.startswith(prefix):
                found.append(proc)
        return found

    # -- client side -------------------------------------------------------------
    def write_known_hosts(self) -> None:
        _write(self.known_hosts, "".join(h.known_hosts_line() + "\n" for h in self.hosts))

    def connect_kwargs(self, host: FleetHost | str, **overrides: Any) -> dict[str, Any]:
        """Keyword arguments for ``asyncssh.connect`` to ``host``."""
        h = self.host(host)
        kwargs: dict[str, Any] = {
            "host": h.address,
            "port": h.port,
            "username": self.user,
            "client_keys": [str(self.client_key)],
            "known_hosts": str(self.known_hosts),
            "agent_path": None,
            "config": None,
        }
        kwargs.update(overrides)
        return kwargs

    # -- shim state -------------------------------------------------------------
    def state_dir(self, host: FleetHost | str) -> Path:
        return self.host(host).state_dir

    def _clear_state(self, host: FleetHost) -> None:
        shutil.rmtree(host.state_dir, ignore_errors=True)
        for sub in ("systemd", "docker", "launchd"):
            (host.state_dir / sub).mkdir(mode=0o755, parents=True)
            # writable by the test user: runbook steps "stop" and "start" units by replacing state files
            (host.state_dir / sub).chmod(0o777)
        for path in (host.state_dir, host.state_dir.parent):
            path.chmod(0o755)

    def _set_state(self, host: FleetHost | str, kind: str, name: str, state: str | None) -> None:
        if "/" in name or name.startswith("."):
            raise ValueError(f"bad {kind} name {name!r}")
        path = self.state_dir(host) / kind / name
        if state is None:
            path.unlink(missing_ok=True)
        else:
            _write(path, state.strip() + "\n")

    def set_systemd(self, host: FleetHost | str, unit: str, state: str | None) -> None:
        """``"active running"`` (ActiveState SubState [NRestarts]); None: not found."""
        self._set_state(host, "systemd", unit, state)

    def set_docker(self, host: FleetHost | str, name: str, state: str | None) -> None:
        """``"running healthy 0"`` (what ``docker inspect`` prints); None: no such object."""
        self._set_state(host, "docker", name, state)

    def set_launchd(self, host: FleetHost | str, label: str, state: str | None) -> None:
        """``"1234 0"`` (PID, last exit; ``-`` as PID: loaded, not running); None: not loaded."""
        self._set_state(host, "launchd", label, state)

    def set_shim_delay(self, host: FleetHost | str, seconds: float | None) -> None:
        """Shims sleep ``seconds`` before answering; None removes the delay."""
        path = self.state_dir(host) / "delay"
        if seconds is None:
            path.unlink(missing_ok=True)
        else:
            _write(path, f"{seconds}\n")


@atexit.register
def _close_leftover_fleets() -> None:
    """Last resort if a finalizer never ran (fixtures normally close fleets)."""
    for fleet in list(_live):
        fleet.close()
