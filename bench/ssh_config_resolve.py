"""Client CPU to resolve every host of a fleet from one ssh_config: asyncssh's per-connection parse against the cockpit's.

Before issue 20 each host's connection parsed the whole file twice through asyncssh (``connect`` and the
TCP checks' host name); now the file is parsed once and each host is a walk over that parse. The config is
generated like a real fleet file: a ``Host *`` block, one block of 5 options per host plus 1 comment line.
No network: this is the CPU a cold ``cockpit snapshot`` spends before its first handshake.

    .venv/bin/python bench/ssh_config_resolve.py --hosts 200 1000
"""

from __future__ import annotations

import argparse
import getpass
import tempfile
import time
from pathlib import Path

from asyncssh.config import SSHClientConfig

from cockpit.transports import load_ssh_config, resolve_ssh


def write_config(path: Path, hosts: int) -> None:
    lines = ["# generated fleet", "Host *", "  ServerAliveInterval 30", "  IdentitiesOnly yes", ""]
    for i in range(hosts):
        lines += [f"# host {i}", f"Host node{i:04d}", f"  HostName 10.{i // 65536}.{i // 256 % 256}.{i % 256}",
                  "  Port 22", "  User ops", "  IdentityFile ~/.ssh/id_ed25519", ""]
    path.write_text("\n".join(lines))


def asyncssh_per_host(path: Path, hosts: int) -> float:
    user = getpass.getuser()
    start = time.process_time()
    for i in range(hosts):
        for _ in range(2):  # connect's parse and the TCP checks' host-name parse
            cfg = SSHClientConfig.load(None, [str(path)], False, False, False, user, (), f"node{i:04d}", ())
            cfg.get("Hostname")
    return time.process_time() - start


def cockpit_once(path: Path, hosts: int) -> float:
    start = time.process_time()
    for i in range(hosts):
        for _ in range(2):  # load_config's check and the connection's own resolution
            resolve_ssh(f"node{i:04d}", load_ssh_config(path))
    return time.process_time() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[100, 200, 1000])
    ap.add_argument("--peer-max", type=int, default=200, help="measure asyncssh only up to this many hosts")
    args = ap.parse_args()
    print("| hosts | config lines | asyncssh, parsed per host | cockpit, parsed once | per host (cockpit) | ratio |")
    print("|---:|---:|---:|---:|---:|---:|")
    for n in args.hosts:
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "ssh_config"
            write_config(path, n)
            lines = len(path.read_text().splitlines())
            new = cockpit_once(path, n)
            if n <= args.peer_max:
                old = asyncssh_per_host(path, n)
                print(f"| {n} | {lines} | {old:.2f} s | {new:.3f} s | {new / n * 1e3:.3f} ms | {old / new:.0f}x |")
            else:
                print(f"| {n} | {lines} | (not run) | {new:.3f} s | {new / n * 1e3:.3f} ms | |")


if __name__ == "__main__":
    main()
