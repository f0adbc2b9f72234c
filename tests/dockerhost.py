"""A loopback fleet host whose ``docker`` is the real client talking to the session's private daemon.

As on a production host: no shim on PATH, the SSH user in the ``docker`` group, only the socket
differs (``DOCKER_HOST`` from the host's sshd ``SetEnv``, where production uses /var/run/docker.sock).
The first ``SetEnv`` line wins in sshd, so this one replaces the fleet's shim PATH.
"""

from __future__ import annotations

import grp
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from dockerd import DockerDaemon
from fleet import TEST_USER, Fleet
from services import need

PLAIN_PATH = "/usr/local/bin:/usr/bin:/bin"


def grant_socket(dockerd: DockerDaemon, user: str = TEST_USER) -> None:
    """Let the fleet's login user reach the daemon as an operator would: the docker group."""
    # gpasswd touches only /etc/group and /etc/gshadow: usermod also rewrote /etc/shadow, and run beside the
    # sudo tests' chpasswd it could put back the old (locked) password of their user, whose logins then failed
    if user not in grp.getgrnam("docker").gr_mem and \
            subprocess.run(["gpasswd", "-a", user, "docker"], capture_output=True).returncode != 0:
        need("docker group", f"cannot add {user} to the docker group")
    os.chmod(dockerd.dir, 0o711)  # the socket's directory (mkdtemp made it 0700)


def docker_fleet(fleet_factory: Callable[..., Fleet], dockerd: DockerDaemon, *, path: str = PLAIN_PATH,
                 env: str = "") -> Fleet:
    """One host whose sessions see the private daemon (and ``path`` first on PATH)."""
    grant_socket(dockerd)
    return fleet_factory(1, extra_config=f"SetEnv DOCKER_HOST={dockerd.host} PATH={path} {env}".strip())


def compose(dockerd: DockerDaemon, project: str, file: Path, *args: str) -> None:
    """Debian's docker-compose (v1) against the private daemon."""
    res = subprocess.run(["docker-compose", "-p", project, "-f", str(file), *args], env=dockerd.env,
                         capture_output=True, text=True, timeout=120)
    assert res.returncode == 0, res.stderr[-2000:]
