"""A throwaway sudo user and sudoers drop-ins for the sudo tests (root only).

:func:`create_sudo_user` makes a local user (home dir, shell ``/bin/sh``, a
random real password set with ``chpasswd``) that the loopback fleet can log in
as. :meth:`SudoUser.install_dropin` validates a sudoers fragment with
``visudo -cf``, installs it as ``/etc/sudoers.d/cockpit-test-<pid>[-suffix]``
(mode 0440, atomically: the temporary name holds a dot, which sudo's
``@includedir`` skips) and re-checks the whole policy with ``visudo -c``.
:meth:`SudoUser.close` removes every drop-in, the user (``userdel -r``) and
sudo's time stamp file; it is safe to call twice.

Leftovers of a run that died (a user or drop-in whose pid is gone) are removed
before a new run starts; a user of a live run is never touched (the new run
takes another name).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psutil

SUDO_USER = "cockpit-sudo"
SUDOERS_D = Path("/etc/sudoers.d")
DROPIN_PREFIX = "cockpit-test-"
_PATH = "/usr/sbin:/usr/bin:/sbin:/bin:" + os.environ.get("PATH", "")
_COMMENT = "Cutover Cockpit sudo tests pid {pid}"


def _which(tool: str) -> str | None:
    return shutil.which(tool, path=_PATH)


def sudo_unavailable_reason() -> str | None:
    """Why the real-sudo tests cannot run here, or None."""
    if os.geteuid() != 0:
        return "not root: the sudo tests create a user (useradd) and a sudoers drop-in in /etc/sudoers.d"
    for tool, package in (("sudo", "sudo"), ("visudo", "sudo"), ("useradd", "passwd"), ("userdel", "passwd"),
                          ("chpasswd", "passwd")):
        if _which(tool) is None:
            return f"{tool} not found: install {package} (apt-get install -y {package})"
    try:
        main = Path("/etc/sudoers").read_text(errors="replace")
    except OSError as exc:
        return f"cannot read /etc/sudoers: {exc.strerror}"
    if not re.search(r"^\s*[@#]includedir\s+/etc/sudoers\.d\s*$", main, re.M):
        return "/etc/sudoers does not include /etc/sudoers.d: the test's drop-in would not be read"
    return None


def hostname_resolves() -> bool:
    """Debian's sudo is built --with-fqdn: if the host name does not resolve it warns on every call."""
    try:
        socket.getaddrinfo(socket.gethostname(), None)
        return True
    except OSError:
        return False


def strip_sudo_warnings(text: str) -> str:
    """Remove sudo's harmless "unable to resolve host" warnings (a host without its name in /etc/hosts)."""
    return "".join(ln for ln in text.splitlines(keepends=True) if "unable to resolve host" not in ln)


def _run(argv: list[str], stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, input=stdin, capture_output=True, text=True,
                          env={**os.environ, "PATH": _PATH}, timeout=30)


def _pid_of_user(name: str) -> int | None:
    """The test pid written in the user's comment field, if it is ours."""
    try:
        gecos = pwd.getpwnam(name).pw_gecos
    except KeyError:
        return None
    m = re.fullmatch(_COMMENT.format(pid=r"(\d+)"), gecos)
    return int(m.group(1)) if m else -1  # -1: a user we did not create


def _remove_stale_dropins() -> None:
    for path in SUDOERS_D.glob(DROPIN_PREFIX + "*"):
        m = re.match(re.escape(DROPIN_PREFIX) + r"(\d+)", path.name)
        if m and not psutil.pid_exists(int(m.group(1))):
            path.unlink(missing_ok=True)


def _userdel(name: str) -> None:
    for _ in range(50):  # 8: the user still has processes (a session being torn down); 10: shadow locked
        res = _run(["userdel", "-r", name])
        if res.returncode in (0, 6, 12):  # 12: home dir already gone
            break
        time.sleep(0.1)
    for ts in (Path("/run/sudo/ts") / name, Path("/var/lib/sudo/lectured") / name):
        ts.unlink(missing_ok=True)


class SudoUser:
    """A local user for sudo tests, with its password and the drop-ins installed for it."""

    def __init__(self, name: str, password: str) -> None:
        self.name = name
        self.password = password
        self.dropins: list[Path] = []
        self.closed = False

    def __repr__(self) -> str:  # never the password
        return f"<SudoUser {self.name} dropins={[p.name for p in self.dropins]}>"

    def dropin_path(self, suffix: str = "") -> Path:
        return SUDOERS_D / f"{DROPIN_PREFIX}{os.getpid()}{'-' + suffix if suffix else ''}"

    def install_dropin(self, text: str, suffix: str = "") -> Path:
        """Validate ``text`` (visudo -cf), install it 0440 root:root, check the whole policy; return its path."""
        final = self.dropin_path(suffix)
        body = f"# Cutover Cockpit tests, pid {os.getpid()}: removed by the test finalizer\n{text.strip()}\n"
        with tempfile.NamedTemporaryFile("w", prefix="cockpit-sudoers.", delete=False) as fh:
            fh.write(body)
            candidate = Path(fh.name)
        try:
            res = _run(["visudo", "-cf", str(candidate)])
            if res.returncode != 0:
                raise RuntimeError(f"sudoers fragment rejected by visudo:\n{res.stdout}{res.stderr}\n{body}")
            staging = SUDOERS_D / f".{final.name}.tmp"  # a dot: @includedir ignores it
            shutil.copyfile(candidate, staging)
            os.chown(staging, 0, 0)
            staging.chmod(0o440)
            os.replace(staging, final)
        finally:
            candidate.unlink(missing_ok=True)
        self.dropins.append(final)
        whole = _run(["visudo", "-c"])
        if whole.returncode != 0:
            self.remove_dropin(final)
            raise RuntimeError(f"sudo policy broken with {final}, removed it:\n{whole.stdout}{whole.stderr}")
        return final

    def remove_dropin(self, path: Path) -> None:
        path.unlink(missing_ok=True)
        if path in self.dropins:
            self.dropins.remove(path)

    def close(self) -> None:
        """Remove the drop-ins first (no rule outlives the user), then the user and its home."""
        for path in list(self.dropins):
            self.remove_dropin(path)
        if not self.closed:
            self.closed = True
            _userdel(self.name)


def create_sudo_user(base: str = SUDO_USER) -> SudoUser:
    """Create the throwaway user with a random password (root only; see :func:`sudo_unavailable_reason`)."""
    _remove_stale_dropins()
    name = base
    owner = _pid_of_user(name)
    if owner is not None:
        if owner > 0 and owner != os.getpid() and psutil.pid_exists(owner):
            name = f"{base}{os.getpid()}"  # a live run owns the base name
        elif owner == -1:
            raise RuntimeError(f"user {name} exists and was not created by these tests; not touching it")
        else:
            _userdel(name)  # a leftover of a run that died
    res = _run(["useradd", "--create-home", "--shell", "/bin/sh",
                "--comment", _COMMENT.format(pid=os.getpid()), name])
    if res.returncode != 0:
        raise RuntimeError(f"useradd {name} failed: {res.stderr.strip()}")
    # quotes, a dollar, a backslash, a space and a semicolon: the password must survive every layer as data
    password = f"{secrets.token_urlsafe(12)} q'\"$\\;x"
    user = SudoUser(name, password)
    try:
        for _ in range(20):  # another run may hold the /etc/shadow lock
            res = _run(["chpasswd"], stdin=f"{name}:{password}\n")
            if res.returncode == 0:
                break
            time.sleep(0.1)
        else:
            raise RuntimeError(f"chpasswd failed: {res.stderr.strip()}")
    except BaseException:
        user.close()
        raise
    return user
