"""SSH on asyncssh: one persistent connection per host, bounded channels, strict host keys.

Manners towards production sshd: one connection per host; handshakes bounded per
destination sshd and per jump host (sshd drops connections past MaxStartups, which
is per sshd; ``limits``); hosts behind a ProxyJump share one connection to it;
channels per host bounded by ``max_sessions`` (MaxSessions defaults to 10); a failed
authentication is never retried automatically (fail2ban); other failures back off
exponentially.

What a deadline cannot do: when a command times out we close its channel and
signal its process group from a second channel (TERM, then KILL). If the host
is hung or the connection is gone, that signal cannot be delivered and the
remote process may live on until the host recovers; without ``setsid`` on the
host (macOS) only the shell is signalled, not its children.
"""

from __future__ import annotations

import asyncio
import fcntl
import socket
import time
from pathlib import Path
from typing import Any

import asyncssh

from cockpit.errors import AuthFailed, CommandTimeout, ConfigError, ConnectFailed, HostKeyError, TransportError
from cockpit.spec import HostSpec, SshSettings
from cockpit.transports.base import (
    DEFAULT_MAX_OUTPUT,
    CommandResult,
    OutputCallback,
    PgidStripper,
    TailBuffer,
    kill_group_script,
    wrap_remote,
)
from cockpit.transports.keepshell import KeptShell, read_until
from cockpit.transports.limits import SshPool
from cockpit.transports.sshconfig import ResolvedSsh, jump_hops, resolve_host
from cockpit.transports.stream import pump

BACKOFF_MIN = 1.0
BACKOFF_MAX = 30.0
HOSTKEY_BACKOFF = 60.0
#: jump chains nested deeper than this through the ssh_config (a jump host with its own ProxyJump) are a loop
MAX_JUMP_DEPTH = 8
_known_hosts_lock = asyncio.Lock()


class _HostKeyJudge(asyncssh.SSHClient):
    """Decides on a key that known_hosts does not already trust."""

    def __init__(self, transport: SshTransport) -> None:
        self._t = transport

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        t = self._t
        t._offered = key.get_fingerprint("sha256")
        known = _keys_for(t.settings.known_hosts, host, addr, port)
        if known:
            t._hostkey_verdict = "host-key-CHANGED"
            return False  # no setting accepts a changed key
        if t.settings.host_keys == "accept-new":
            t._pending_key = (host, port, key)
            t._hostkey_verdict = "accepted-new"
            return True
        t._hostkey_verdict = "host-key-unknown"
        return False


class _KeyPeek(asyncssh.SSHClient):
    """Notes the host key offered and refuses it: a look at the key, never a connection."""

    def __init__(self, seen: list[asyncssh.SSHKey]) -> None:
        self._seen = seen

    def validate_host_public_key(self, host: str, addr: str, port: int, key: asyncssh.SSHKey) -> bool:
        self._seen.append(key)
        return False


_known_hosts_cache: dict[Path, tuple[tuple[int, int], asyncssh.SSHKnownHosts]] = {}


def _trusted(path: Path) -> asyncssh.SSHKnownHosts | bytes:
    """known_hosts parsed once per change of the file, not once per connection.

    asyncssh parses a known_hosts *path* on every connect: 1.2 ms per host with 200
    lines, O(hosts²) for a cold fan-out. The file's mtime and size key the cache, so a
    key appended by accept-new (or by an operator) is seen on the next connect.
    """
    try:
        st = path.stat()
    except OSError:
        return b""
    stamp = (st.st_mtime_ns, st.st_size)
    hit = _known_hosts_cache.get(path)
    if hit is not None and hit[0] == stamp:
        return hit[1]
    try:
        parsed = asyncssh.read_known_hosts(str(path))
    except (OSError, ValueError):
        return str(path)  # let connect report it as before
    _known_hosts_cache[path] = (stamp, parsed)
    return parsed


def _keys_for(path: Path, host: str, addr: str, port: int) -> list[asyncssh.SSHKey]:
    if not path.exists():
        return []
    try:
        trusted = asyncssh.match_known_hosts(str(path), host, addr, port if port != 22 else None)
    except (OSError, ValueError):
        return []
    return list(trusted[0]) + list(trusted[1])


def _known_hosts_line(host: str, port: int, key: asyncssh.SSHKey) -> str:
    pattern = host if port == 22 else f"[{host}]:{port}"
    return f"{pattern} {key.export_public_key('openssh').decode().strip()}\n"


async def _record_known_host(path: Path, line: str) -> None:
    """Append under an asyncio lock and an flock, so two cockpits never interleave lines."""
    async with _known_hosts_lock:
        path.parent.mkdir(parents=True, exist_ok=True)

        def write() -> None:
            with open(path, "a", encoding="utf-8") as fh:
                fcntl.flock(fh, fcntl.LOCK_EX)
                try:
                    fh.write(line)
                    fh.flush()
                finally:
                    fcntl.flock(fh, fcntl.LOCK_UN)

        await asyncio.to_thread(write)


_FAMILIES = {"inet": socket.AF_INET, "inet6": socket.AF_INET6}


def connect_options(r: ResolvedSsh) -> dict[str, Any]:
    """asyncssh's explicit options for a resolved host: with these and ``config=[]`` it reads no ssh_config.

    Every ssh_config option the cockpit honours is mapped here (docs/ssh.md lists them); a named key file
    that is missing is left out, so OpenSSH's "skip it and go on" holds instead of a fatal error.
    """
    opts: dict[str, Any] = {"host": r.hostname, "port": r.port, "username": r.user, "config": []}
    if r.identities_named:
        keys = [f for f in r.identity_files if Path(f).is_file()]
        opts["client_keys"] = keys
        if (r.option("identitiesonly") or ("no",))[0].lower() in ("yes", "true"):
            opts["agent_identities"] = keys
    certs = [f for f in (r.option("certificatefile") or ()) if Path(f).is_file()]  # expanded by the resolver
    if certs:
        opts["client_certs"] = certs
    agent = (r.option("identityagent") or ("",))[0]
    if agent.lower() == "none":
        opts["agent_path"] = None
    elif agent and agent != "SSH_AUTH_SOCK":
        opts["agent_path"] = agent
    if r.proxy_command_line:
        opts["proxy_command"] = r.proxy_command_line
    simple = {"hostkeyalias": "host_key_alias", "hostkeyalgorithms": "server_host_key_algs",
              "ciphers": "encryption_algs", "macs": "mac_algs", "kexalgorithms": "kex_algs"}
    for keyword, name in simple.items():
        if (value := r.option(keyword)) is not None:
            opts[name] = value[0]
    if (value := r.option("compression")) is not None:
        on = value[0].lower() in ("yes", "true")
        opts["compression_algs"] = "zlib@openssh.com,zlib,none" if on else "none,zlib@openssh.com,zlib"
    if (value := r.option("addressfamily")) is not None and value[0].lower() in _FAMILIES:
        opts["family"] = _FAMILIES[value[0].lower()]
    if (value := r.option("bindaddress")) is not None:
        opts["local_addr"] = (value[0], 0)
    if (value := r.option("sendenv")) is not None:
        opts["send_env"] = list(value)
    if (value := r.option("setenv")) is not None:
        opts["env"] = dict(v.split("=", 1) for v in value if "=" in v)
    return opts


class SshTransport:
    """One host over SSH. ``state`` is what the dashboard shows while connecting.

    A jump host is one of these too (:meth:`jump_host`): it only holds the connection the hosts behind
    it tunnel through, with the same host-key policy, backoff and never-retried authentication.
    """

    def __init__(self, spec: HostSpec, settings: SshSettings, pool: SshPool | None = None, *, depth: int = 0) -> None:
        self.name = spec.name
        self.spec = spec
        self.settings = settings
        self.pool = pool if pool is not None else SshPool.for_fleet(settings.max_startups, settings.max_handshakes, 1)
        self._jump: SshTransport | None = None  # the shared transport of this host's jump chain, once connected
        self._depth = depth  # how many jump hosts deep this one is (0: a fleet host)
        self._tunnel: asyncssh.SSHClientConnection | None = None
        self._channels = asyncio.Semaphore(settings.max_sessions)
        self._conn: asyncssh.SSHClientConnection | None = None
        self._lock = asyncio.Lock()
        self._failure: TransportError | None = None
        self._retry_at = 0.0
        self._backoff = 0.0
        self._offered = ""
        self._hostkey_verdict = ""
        self._known_desc = self._offered_type = ""  # a host key of another type than the known one
        self._pending_key: tuple[str, int, asyncssh.SSHKey] | None = None
        self._forwards: dict[tuple[str, int], asyncssh.SSHListener] = {}
        self._killers: set[asyncio.Task[None]] = set()
        self._shell: KeptShell | None = None  # the rounds' kept `sh -s` (keepshell.py)
        self._shell_lock = asyncio.Lock()
        self.resolved: ResolvedSsh | None = None  # what the next connection uses (docs/ssh.md)
        self.ssh_config_problem = ""  # the ssh_config stopped parsing after the cockpit loaded it
        try:
            self._resolve()
        except ConnectFailed:
            pass  # the file broke since load: the first connect reports it, with its line
        self.hostname = self.resolved.hostname if self.resolved is not None else spec.address
        self.state = "unknown"

    def _resolve(self) -> ResolvedSsh:
        """This host's options from the ssh_config's one cached parse; a file broken since load fails the connect."""
        try:
            self.resolved = resolve_host(self.spec, self.settings)
            self.ssh_config_problem = ""
        except ConfigError as exc:
            self.ssh_config_problem = exc.issues[0].render() if exc.issues else str(exc)
        if self.ssh_config_problem or self.resolved is None:
            raise ConnectFailed(self.name, "ssh-config", f"{self.name}: the ssh_config does not parse: "
                                f"{self.ssh_config_problem}", "fix that line; `cockpit validate` shows every problem")
        return self.resolved

    @classmethod
    def jump_host(cls, chain: str, settings: SshSettings, pool: SshPool, depth: int = 1) -> SshTransport:
        """The one transport of ``pool`` for this jump chain (``"a,b"``: b reached through a)."""
        known = pool.jumps.get(chain)
        if known is None:
            parts = chain.split(",")
            hops = jump_hops(parts[-1])
            user, host, port = hops[0] if hops else (None, parts[-1], None)
            # the chain before the last hop, or (None) the hop's own ProxyJump from the ssh_config
            spec = HostSpec(name=f"jump host {parts[-1]}", address=host, port=port, user=user,
                            proxy_jump=",".join(parts[:-1]) or None)
            known = pool.jumps[chain] = cls(spec, settings, pool, depth=depth)
        return known

    # -- connection -------------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._conn is not None and not self._conn.is_closed()

    @property
    def silent(self) -> bool:
        """The host sent nothing for a whole keepalive interval and has not answered the keepalive sent then.

        asyncssh counts keepalives sent since the last one answered (``_keepalive_count``, asyncssh 2.x; the
        timer restarts whenever data arrives), and only drops the connection after ``keepalive_count_max``
        more intervals: a hung host (sshd SIGSTOPped) looked healthy for a minute. A host busy with a long
        command still answers keepalives, so it is never silent.
        """
        conn = self._conn
        return conn is not None and not conn.is_closed() and getattr(conn, "_keepalive_count", 0) >= 1

    def reset(self) -> None:
        """Operator asked to retry: forget auth/host-key failures and backoff (the jump host's too)."""
        self._failure = None
        self._retry_at = 0.0
        self._backoff = 0.0
        if self._jump is not None:
            self._jump.reset()

    async def connect(self) -> None:
        async with self._lock:
            if self.connected:
                return
            if self._failure is not None:
                if isinstance(self._failure, AuthFailed) or time.monotonic() < self._retry_at:
                    raise self._failure
            self.state = "connecting"
            self._drop_forwards()  # they belonged to the previous connection
            self._drop_shell(kill=False)  # so did the rounds' shell
            try:
                # the jump host's connection first, outside this host's slots: it takes slots of its own
                self._tunnel = await self._through_jump()
                r = self._resolve()
                async with self.pool.limits.slot(r.destination, r.proxy_jump):
                    self._conn = await self._open()
            except TransportError as exc:
                self._fail(exc)
                raise
            self._failure = None
            self._backoff = 0.0
            self.state = "ok"

    async def _through_jump(self) -> asyncssh.SSHClientConnection | None:
        """The shared connection to this host's jump host (opened once for every host behind it), or None."""
        chain = self._resolve().proxy_jump
        if not chain:
            return None
        if self._depth >= MAX_JUMP_DEPTH:
            raise ConnectFailed(self.name, "jump-host", f"{self.name}: ProxyJump {chain} nests more than "
                                f"{MAX_JUMP_DEPTH} jump hosts deep", "the ssh_config's ProxyJump lines form a loop; fix them")
        jump = self._jump = self.jump_host(chain, self.settings, self.pool, self._depth + 1)
        try:
            await jump.connect()
        except TransportError as exc:
            raise ConnectFailed(self.name, "jump-host", f"{self.name}: via {exc.message}", exc.hint) from None
        assert jump._conn is not None
        return jump._conn

    def _fail(self, exc: TransportError) -> None:
        self._failure = exc
        self.state = exc.reason if exc.reason.startswith(("host-key", "auth")) else "unreachable"
        if isinstance(exc, HostKeyError):
            self._backoff = HOSTKEY_BACKOFF
        else:
            self._backoff = min(BACKOFF_MAX, max(BACKOFF_MIN, self._backoff * 2))
        self._retry_at = time.monotonic() + self._backoff

    def _options(self, resolved: ResolvedSsh | None = None) -> dict[str, Any]:
        s = self.settings
        r = resolved or self.resolved
        assert r is not None
        opts: dict[str, Any] = {
            **connect_options(r),
            "known_hosts": _trusted(s.known_hosts),
            "client_factory": lambda: _HostKeyJudge(self),
            "connect_timeout": s.connect_timeout,
            "login_timeout": s.connect_timeout,
            "keepalive_interval": s.keepalive,
            "keepalive_count_max": 3,
            "preferred_auth": "publickey",
            # the shared jump connection (``_through_jump``), or None: never a ProxyJump left to asyncssh
            "tunnel": self._tunnel,
        }
        return opts

    async def _open(self) -> asyncssh.SSHClientConnection:
        self._hostkey_verdict = self._known_desc = self._offered_type = ""
        self._pending_key = None
        r = self._resolve()
        addr, where = r.hostname, f"{r.hostname}:{r.port}" + (f" via {r.proxy_jump}" if r.proxy_jump else "")
        try:
            async with asyncio.timeout(self.settings.connect_timeout):
                conn = await asyncssh.connect(**self._options(r))
        except TimeoutError:
            raise ConnectFailed(self.name, "timeout", f"{self.name}: no SSH answer from {where} within "
                                f"{self.settings.connect_timeout:g}s",
                                "check the host is up and sshd answers; a hung host looks like this") from None
        except asyncssh.HostKeyNotVerifiable as exc:
            raise self._hostkey_error() from exc
        except asyncssh.PermissionDenied as exc:
            raise AuthFailed(self.name, "auth-failed", f"{self.name}: authentication refused ({exc.reason})",
                             "load the right key into ssh-agent or set identity_file; the cockpit will not retry on its own") from None
        except asyncssh.DisconnectError as exc:
            if not self._hostkey_verdict and await self._offers_another_key_type(addr):
                raise self._hostkey_error() from exc
            if self._hostkey_verdict.startswith("host-key"):
                raise self._hostkey_error() from exc
            raise ConnectFailed(self.name, "disconnected", f"{self.name}: SSH handshake failed: {exc.reason}",
                                "sshd may be dropping connections (MaxStartups) or refusing this client") from None
        except ConnectionRefusedError:
            raise ConnectFailed(self.name, "refused", f"{self.name}: connection refused by {where}",
                                "sshd is not listening there; check the host and port") from None
        except FileNotFoundError as exc:
            raise AuthFailed(self.name, "auth-failed", f"{self.name}: key file {exc.filename} does not exist",
                             "fix identity_file / identity_files, or load the key into ssh-agent") from None
        except OSError as exc:
            if isinstance(exc, (ConnectionResetError, BrokenPipeError)) and await self._offers_another_key_type(addr):
                raise self._hostkey_error() from exc  # sshd found no common host key type and hung up
            reason = "dns" if "name" in str(exc).lower() and "resol" in str(exc).lower() else "unreachable"
            raise ConnectFailed(self.name, reason, f"{self.name}: {where}: {exc.strerror or exc}",
                                "check the address, DNS and the network path") from None
        except asyncssh.KeyImportError as exc:
            raise AuthFailed(self.name, "auth-failed", f"{self.name}: the client key could not be loaded ({exc})",
                             "keys with a passphrase belong in ssh-agent (ssh-add); check identity_file(s)") from None
        except asyncssh.Error as exc:
            raise ConnectFailed(self.name, "ssh-error", f"{self.name}: {exc}", None) from None
        if self._pending_key is not None:
            host, port, key = self._pending_key
            await _record_known_host(self.settings.known_hosts, _known_hosts_line(host, port, key))
        return conn

    async def _offers_another_key_type(self, addr: str) -> bool:
        """Was this dropped handshake a host key of another type than the known one?

        asyncssh offers only the key types known_hosts holds for the host (as OpenSSH does), so a host left
        with none of them (RSA known, only ed25519 now) drops the handshake just like an overloaded sshd
        (MaxStartups). To tell them apart: one handshake accepting any type, only to see the key (it is
        always refused), then one more with the known types. A key of another type there, and the known
        types failing again, is a changed host key.
        """
        r = self.resolved
        if r is None or r.proxy_jump:  # through a jump host the probe would need a tunnel of its own
            return False
        known = _keys_for(self.settings.known_hosts, addr, addr, r.port)
        if not known:
            return False
        seen: list[asyncssh.SSHKey] = []
        opts = {**self._options(), "known_hosts": asyncssh.import_known_hosts(""), "server_host_key_algs": "default",
                "client_factory": lambda: _KeyPeek(seen)}
        for attempt in (opts, self._options()):
            try:
                async with asyncio.timeout(self.settings.connect_timeout):
                    conn = await asyncssh.connect(**attempt)
                conn.close()  # the known types worked this time: it was a dropped handshake after all
                return False
            except (asyncssh.Error, OSError, TimeoutError):
                pass
            if not seen or seen[0].get_algorithm() in {k.get_algorithm() for k in known}:
                return False
        offered = seen[0]
        self._offered = offered.get_fingerprint("sha256")
        self._hostkey_verdict = "host-key-CHANGED"
        self._known_desc = ", ".join(dict.fromkeys(f"{k.get_algorithm()} {k.get_fingerprint('sha256')}" for k in known))
        self._offered_type = offered.get_algorithm()
        return True

    def _hostkey_error(self) -> HostKeyError:
        fp = self._offered
        if self._hostkey_verdict == "host-key-CHANGED" and self._known_desc:
            return HostKeyError(self.name, "host-key-CHANGED",
                                f"{self.name}: HOST KEY CHANGED (type): known {self._known_desc}, offered "
                                f"{self._offered_type} {fp}; refused",
                                fingerprint=fp,
                                hint=f"the host offers no key of the known type; if it was really reinstalled, verify "
                                     f"{self._offered_type} {fp} out of band and replace its line in "
                                     f"{self.settings.known_hosts}")
        if self._hostkey_verdict == "host-key-CHANGED":
            return HostKeyError(self.name, "host-key-CHANGED",
                                f"{self.name}: HOST KEY CHANGED, offered {fp}; refusing to connect",
                                fingerprint=fp,
                                hint=f"if the host was really reinstalled, verify {fp} out of band and replace its line in {self.settings.known_hosts}")
        return HostKeyError(self.name, "host-key-unknown",
                            f"{self.name}: host key {fp} is not in {self.settings.known_hosts}",
                            fingerprint=fp,
                            hint="verify the fingerprint and add it (ssh-keyscan), or set host_keys = \"accept-new\"")

    def _drop_forwards(self) -> None:
        for listener in self._forwards.values():
            listener.close()
        self._forwards.clear()

    @property
    def kills_pending(self) -> bool:
        """A cancelled command's kill has not reached the host yet (hung host): its fate is unknown."""
        return any(not k.done() for k in self._killers)

    async def close(self) -> None:
        self._drop_shell(kill=False)  # the shell reads EOF and exits
        if self._killers:  # let pending kills reach the host before the connection goes
            await asyncio.wait(list(self._killers), timeout=self.settings.connect_timeout + 5)
        self._drop_forwards()
        if self._conn is not None:
            self._conn.close()
            try:
                await asyncio.wait_for(self._conn.wait_closed(), 2)
            except (TimeoutError, asyncssh.Error, OSError):
                pass
        self._conn = None

    def _lost(self, exc: BaseException) -> TransportError:
        """A channel failed on an established connection: drop it so the next round reconnects."""
        if self._conn is not None:
            self._conn.close()
        self._conn = None
        self._drop_shell(kill=False)
        self._drop_forwards()
        err = ConnectFailed(self.name, "disconnected", f"{self.name}: connection lost ({exc})",
                            "the cockpit reconnects on the next round")
        self._fail(err)
        return err

    def _channel_failed(self, exc: BaseException, opened: bool = True) -> TransportError:
        """A channel that failed: the connection is lost (reconnect next round), or sshd refused a session.

        ``opened``: the channel was open when it failed (a failure before that, other than
        sshd's refusal, means the connection went).
        """
        if self._conn is None or self._conn.is_closed():
            return self._lost(exc)
        if isinstance(exc, asyncssh.ChannelOpenError):
            return ConnectFailed(self.name, "channel", f"{self.name}: sshd refused a session ({exc.reason})",
                                 "lower [ssh] max_sessions below the host's MaxSessions")
        if not opened:
            return self._lost(exc)
        return ConnectFailed(self.name, "channel", f"{self.name}: {exc}", None)

    # -- commands ---------------------------------------------------------------------

    async def run(
        self,
        command: str | None,
        *,
        stdin: str | None = None,
        timeout: float | None,
        on_output: OutputCallback | None = None,
        max_output: int = DEFAULT_MAX_OUTPUT,
        login_shell: bool = False,
    ) -> CommandResult:
        await self.connect()
        conn = self._conn
        assert conn is not None
        started = time.monotonic()
        out, err = TailBuffer(max_output), TailBuffer(max_output)
        stripper = PgidStripper()
        pgid_seen = asyncio.Event()
        proc: asyncssh.SSHClientProcess[str] | None = None
        status: int | None = None
        killed_by = ""
        timed_out = cancelled = False
        async with self._channels:
            try:
                async with asyncio.timeout(timeout):
                    proc = await self._open_channel(conn, wrap_remote(command, login_shell=login_shell, keep_stdin=stdin is not None))
                    try:
                        if stdin is not None:
                            proc.stdin.write(stdin)
                        proc.stdin.write_eof()
                    except (asyncssh.Error, BrokenPipeError):
                        pass  # the command ended before reading its input: its status and stderr say why
                    await asyncio.gather(
                        pump(proc.stdout.read, out, "stdout", on_output),
                        pump(proc.stderr.read, err, "stderr", on_output, stripper, pgid_seen),
                    )
                    completed = await proc.wait(check=False)
                    status = completed.exit_status
                    if completed.exit_signal:
                        killed_by = str(completed.exit_signal[0])
                    if status is not None and status < 0:
                        status = None
            except TimeoutError:
                timed_out = True
            except asyncio.CancelledError:
                cancelled = True
                raise
            except (asyncssh.Error, OSError) as exc:
                raise self._channel_failed(exc, opened=proc is not None) from None
            finally:
                if proc is not None and (timed_out or cancelled or status is None):
                    proc.close()
                    if stripper.pgid is not None:
                        # in the background: a cancelled caller cannot wait, and a hung host would hold the round
                        task = asyncio.create_task(self._kill(stripper.pgid))
                        self._killers.add(task)
                        task.add_done_callback(self._killers.discard)
        return CommandResult(
            exit_status=status,
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            duration=time.monotonic() - started,
            truncated=out.truncated or err.truncated,
            timed_out=timed_out,
            signal=killed_by,
        )

    # -- the rounds' kept shell ---------------------------------------------------------

    async def run_script(self, script: str, end: str, *, timeout: float | None,
                         max_output: int = DEFAULT_MAX_OUTPUT) -> CommandResult:
        """A round's script on the host's kept ``sh -s``, read back until its ``end`` line.

        The shell holds one of the host's sessions; with ``max_sessions = 1`` each round
        opens its own channel instead. Rounds on one host never overlap (a lock).
        """
        if self.settings.max_sessions < 2:
            return await self.run(None, stdin=script, timeout=timeout, max_output=max_output)
        await self.connect()
        started = time.monotonic()
        out, err = TailBuffer(max_output), TailBuffer(max_output)
        complete = timed_out = False
        status: int | None = None
        async with self._shell_lock:
            try:
                async with asyncio.timeout(timeout):
                    for _attempt in range(2):
                        reused = self._shell is not None
                        shell = self._shell or await self._open_shell()
                        try:
                            complete, status = await self._shell_round(shell, script, end, out, err)
                        except (asyncssh.Error, OSError):
                            if not reused or out.getvalue() or err.getvalue():
                                raise
                            complete = False
                        if complete or not reused or out.getvalue() or err.getvalue():
                            break
                        self._drop_shell(kill=False)  # it died between rounds: once more, on a new one
            except TimeoutError:
                timed_out = True
            except (asyncssh.Error, OSError) as exc:
                raise self._channel_failed(exc) from None
            finally:
                if not complete:  # timed out, cancelled, failed or ended: the next round starts afresh
                    self._drop_shell(kill=True)
        return CommandResult(
            exit_status=0 if complete else status,
            stdout=out.getvalue(),
            stderr=err.getvalue(),
            duration=time.monotonic() - started,
            truncated=out.truncated or err.truncated,
            timed_out=timed_out,
        )

    @staticmethod
    async def _shell_round(shell: KeptShell, script: str, end: str, out: TailBuffer,
                           err: TailBuffer) -> tuple[bool, int | None]:
        """Feed one script; (True, 0) once both streams reached ``end``, else (False, the shell's exit status)."""
        proc: Any = shell.process
        try:
            proc.stdin.write(script)
        except (asyncssh.Error, OSError):
            pass  # the shell is gone: reading says so (EOF)
        got = await asyncio.gather(read_until(proc.stdout.read, out, end),
                                   read_until(proc.stderr.read, err, end, shell.stripper))
        shell.rounds += 1
        if all(got):
            return True, 0
        done = await proc.wait(check=False)  # EOF: the shell ended (killed on the host, the session closed...)
        return False, done.exit_status if done.exit_status is not None and done.exit_status >= 0 else None

    async def _open_shell(self) -> KeptShell:
        conn = self._conn
        if conn is None or conn.is_closed():
            raise self._lost(ConnectionError("closed"))
        await self._channels.acquire()  # held while the shell lives
        try:
            proc = await self._open_channel(conn, wrap_remote(None, keep_stdin=True))
        except BaseException:
            self._channels.release()
            raise
        self._shell = KeptShell(proc)
        return self._shell

    def _drop_shell(self, kill: bool) -> None:
        shell, self._shell = self._shell, None
        if shell is None:
            return
        proc: Any = shell.process
        proc.close()
        self._channels.release()
        if kill and shell.pgid is not None and self.connected:
            task = asyncio.create_task(self._kill(shell.pgid))
            self._killers.add(task)
            task.add_done_callback(self._killers.discard)

    @property
    def kept_shell(self) -> KeptShell | None:
        """The rounds' shell, while open (tests and the host detail read its pgid)."""
        return self._shell

    async def _open_channel(self, conn: asyncssh.SSHClientConnection, command: str) -> asyncssh.SSHClientProcess[str]:
        """Open a session channel; a refused open is retried briefly.

        sshd counts a session until its child has exited, so a slot we just released
        may still be taken on the server side (MaxSessions): a short wait fixes it.
        """
        delay = 0.05
        for attempt in range(8):
            try:
                return await conn.create_process(command, encoding="utf-8", errors="replace")
            except asyncssh.ChannelOpenError:
                if attempt == 7 or conn.is_closed():
                    raise
                await asyncio.sleep(delay)
                delay = min(1.0, delay * 2)
        raise AssertionError("unreachable")

    async def _kill(self, pgid: int) -> None:
        """Signal the remote process group from a fresh channel, with its own deadline."""
        if not self.connected or self._conn is None:
            return
        try:
            async with self._channels:
                async with asyncio.timeout(self.settings.connect_timeout + 5):
                    await self._conn.run(kill_group_script(pgid), check=False)
        except (TimeoutError, asyncssh.Error, OSError):
            pass

    async def run_or_raise(self, command: str, timeout: float) -> CommandResult:
        """Like :meth:`run` but a timeout raises :class:`CommandTimeout`."""
        res = await self.run(command, timeout=timeout)
        if res.timed_out:
            raise CommandTimeout(self.name, "timeout", f"{self.name}: command timed out after {timeout:g}s")
        return res

    # -- port forwarding for checks `via` this host -------------------------------------

    async def open_tcp(self, host: str, port: int, timeout: float) -> tuple[Any, Any]:
        """A TCP stream to host:port opened from this host (for tcp checks via it)."""
        await self.connect()
        assert self._conn is not None
        async with asyncio.timeout(timeout):
            return await self._conn.open_connection(host, port)

    async def local_forward(self, host: str, port: int) -> int:
        """A loopback port on the cockpit that leads to host:port through this host; cached."""
        await self.connect()
        assert self._conn is not None
        key = (host, port)
        listener = self._forwards.get(key)
        if listener is None:
            listener = await self._conn.forward_local_port("127.0.0.1", 0, host, port)
            self._forwards[key] = listener
        return listener.get_port()
