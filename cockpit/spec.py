"""Typed, immutable description of a fleet, produced by :mod:`cockpit.config`.

Everything here is a frozen dataclass so that the engine and the UI can share
it freely. Durations are seconds (float).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Union

HostKeyPolicy = Literal["strict", "accept-new"]
TransportKind = Literal["ssh", "local"]


@dataclass(frozen=True)
class SystemdCheck:
    """A systemd unit is active (checked with systemctl on the host)."""

    unit: str
    kind: Literal["systemd"] = "systemd"


@dataclass(frozen=True)
class LaunchdCheck:
    """A launchd job is loaded and running (macOS hosts)."""

    label: str
    kind: Literal["launchd"] = "launchd"


@dataclass(frozen=True)
class DockerCheck:
    """A container runs, and is healthy where it has a health check."""

    container: str
    kind: Literal["docker"] = "docker"


#: what a compose container (or pm2 app) may be seen as: docker's states, health and "missing"
CONTAINER_STATES = ("created", "restarting", "running", "removing", "paused", "exited", "dead",
                    "unhealthy", "starting", "missing")


@dataclass(frozen=True)
class ComposeCheck:
    """Every container of a compose project (found by its labels), and each service its file declares."""

    project: str  # the compose project name (label com.docker.compose.project)
    file: str | None = None  # a compose file on the host: its services must each have a container
    allow: tuple[tuple[str, tuple[str, ...]], ...] = ()  # container service -> states that count as fine
    noncritical: tuple[str, ...] = ()  # container services whose failure does not fail the project
    kind: Literal["compose"] = "compose"

    def allowed(self, service: str) -> tuple[str, ...]:
        return dict(self.allow).get(service, ())


@dataclass(frozen=True)
class Pm2Check:
    """A pm2 app is online; ``pm2 jlist`` read as the app's owner, without ever starting a pm2 daemon."""

    app: str
    user: str | None = None  # ``pm2_user``: the owner of the pm2 daemon; None: the SSH user
    kind: Literal["pm2"] = "pm2"


@dataclass(frozen=True)
class LogCheck:
    """Lines matching a pattern in a file, a journald unit or a container's logs, read incrementally."""

    pattern: str  # POSIX extended regex (awk), matched on the host
    file: str | None = None
    unit: str | None = None
    container: str | None = None
    #: where ``matches(S)`` counts from: the start of the current step, or the runbook's latest baseline
    since: Literal["step", "baseline"] = "step"
    kind: Literal["log"] = "log"

    @property
    def source(self) -> str:
        """What is read, as an operator names it."""
        if self.file is not None:
            return f"file {self.file}"
        if self.unit is not None:
            return f"journal of {self.unit}"
        return f"logs of container {self.container}"


@dataclass(frozen=True)
class ProcessCheck:
    """A process matching a ``pgrep -f`` pattern runs; its RSS is reported."""

    pattern: str
    kind: Literal["process"] = "process"


@dataclass(frozen=True)
class PortCheck:
    """Something listens on a TCP port on the host (or nothing does, with ``free``)."""

    port: int
    owner: str | None = None  # process name that must own the socket
    free: bool = False  # assert nothing listens (freeing a port for the new stack)
    kind: Literal["port"] = "port"


#: one ``expect_json`` entry: a path into the answer (``result.items.0.id``), an operator
#: (``==``, ``!=``, ``<``, ``<=``, ``>``, ``>=``, ``exists``, ``absent``) and the value it is compared with
JsonExpectation = tuple[str, str, "str | int | float | bool | None"]


@dataclass(frozen=True)
class HttpCheck:
    """An HTTP(S) endpoint answers as expected, probed from the cockpit or ``via`` a host."""

    url: str
    expect_status: tuple[int, ...] = (200,)
    expect_body: str | None = None
    expect_body_regex: str | None = None
    max_latency: float | None = None
    headers: tuple[tuple[str, str], ...] = ()
    secret_headers: tuple[str, ...] = ()  # names whose value came from ${ENV}: never sent to another origin
    follow_redirects: bool = False
    verify_tls: bool = True
    connect_to: str | None = None  # "IP" or "IP:PORT": test a backend before DNS moves
    via: str | None = None
    method: str = "GET"
    body: str | None = None  # sent as is (``body``) or the JSON of ``json``; may hold a ${ENV} value: never shown
    content_type: str | None = None  # "application/json" for ``json`` (unless ``headers`` sets one)
    secret_body: bool = False  # the body holds a ${ENV} value: never sent to another origin
    expect_json: tuple[JsonExpectation, ...] = ()
    kind: Literal["http"] = "http"


@dataclass(frozen=True)
class WsCheck:
    """A WebSocket endpoint opens (101), or refuses with an expected status (401: exists, unauthorised)."""

    url: str  # ws:// or wss://
    expect_status: int = 101
    send: str | None = None  # one text message sent once open; may hold a ${ENV} value: never shown
    expect_reply: str | None = None  # a substring of the first message that comes back
    headers: tuple[tuple[str, str], ...] = ()
    max_latency: float | None = None
    verify_tls: bool = True
    kind: Literal["ws"] = "ws"


@dataclass(frozen=True)
class DnsCheck:
    """A name resolves as expected on every chosen resolver (addresses or CNAME, TTL at most ``max_ttl``)."""

    name: str
    record: Literal["A", "AAAA", "CNAME"] = "A"
    resolvers: tuple[str, ...] = ()  # "IP", "IP:PORT", "[v6]:PORT" or a name; (): the host's (or cockpit's) own
    expect_addresses: tuple[str, ...] = ()
    expect_cname: str | None = None
    max_ttl: float | None = None
    source: Literal["host", "cockpit"] = "host"  # ``from``: dig on the host, or dnspython in the cockpit
    kind: Literal["dns"] = "dns"


@dataclass(frozen=True)
class TcpCheck:
    """A TCP connect to the host's address (or ``host``) succeeds."""

    port: int
    host: str | None = None  # default: the host's address
    via: str | None = None
    kind: Literal["tcp"] = "tcp"


@dataclass(frozen=True)
class CommandCheck:
    """A command exits 0 (and its stdout matches, when asked)."""

    command: str
    expect_stdout: str | None = None
    expect_stdout_regex: str | None = None
    env: tuple[tuple[str, str], ...] = ()  # exported in the check's own subshell of the round script (stdin)
    kind: Literal["command"] = "command"


Check = Union[
    SystemdCheck, LaunchdCheck, DockerCheck, ProcessCheck, PortCheck, HttpCheck, TcpCheck, CommandCheck, WsCheck, DnsCheck,
    ComposeCheck, Pm2Check, LogCheck,
]

#: Kinds whose probe runs on the host itself (batched into one script per round).
REMOTE_KINDS = frozenset({"systemd", "launchd", "docker", "process", "port", "command", "compose", "pm2", "log"})


def runs_on_host(check: Check) -> bool:
    """Whether a check is part of its host's round script (a dns check unless ``from = "cockpit"``)."""
    return check.kind in REMOTE_KINDS or (isinstance(check, DnsCheck) and check.source == "host")
#: Kinds with a latency series (p95, error_rate): probes the cockpit times itself.
LATENCY_KINDS = ("http", "tcp", "ws")


@dataclass(frozen=True)
class ServiceSpec:
    """A named service and the hosts it is checked on."""

    name: str
    on: tuple[str, ...]
    check: Check
    critical: bool = True
    timeout: float | None = None  # per-check deadline; default: ssh.command_timeout
    #: lifecycle: "down" for something that must stay down (a freed port, a gone process)
    expect: Literal["up", "down"] = "up"
    retired_by: str | None = None  # PHASE.STEP or PHASE: an old service, expected down once that is done on a host
    introduced_by: str | None = None  # PHASE.STEP or PHASE: a new service, expected up once that is done on a host

    @property
    def lifecycle(self) -> str | None:
        """The step or phase this service's expectation follows, if any."""
        return self.retired_by or self.introduced_by


@dataclass(frozen=True)
class ActionSpec:
    """An operator action bound to a key: a command fired on hosts."""

    name: str
    key: str
    title: str
    on: tuple[str, ...]
    run: str  # may hold {host} {address} {user} {port}, substituted shell-quoted per host
    confirm: bool = False
    timeout: float | None = 1800.0  # None: no deadline
    env: tuple[tuple[str, str], ...] = ()  # secrets for the command: on its stdin, never in an argv


@dataclass(frozen=True)
class StepSpec:
    """One step of a phase: a command on hosts, verified per host, with its undo."""

    id: str
    title: str
    on: tuple[str, ...]
    run: str | None  # None: a manual step the operator ticks
    verify: tuple[str, ...] = ()  # conditions, checked per host on fresh checks after the command
    within: float = 60.0  # verify is retried until this long after the command ended
    rollback: str | None = None
    confirm: bool = False
    timeout: float | None = 1800.0
    sudo: bool = False  # run through sudo (-n, or -S with the --ask-sudo password)
    detach: bool = False  # run detached on the host: survives a dropped connection and a cockpit restart
    expect_disconnect: bool = False  # reboots, agent restarts: wait for the host to come back
    wait_for: float = 300.0  # how long the host may take to come back (SSH and verify)
    batch: int | float | None = None  # roll: hosts per batch (int) or a fraction of them (0.25 for "25%")
    order: tuple[str, ...] = ()  # selectors: canary hosts first
    max_failures: int | None = None  # stop rolling after this many failed hosts
    pause: float | str | None = None  # seconds between batches, or "manual"
    irreversible: bool = False  # a point of no return: running it means typing its id
    rollback_requires: tuple[str, ...] = ()  # conditions: is the rollback possible before this runs?
    env: tuple[tuple[str, str], ...] = ()  # for run and rollback: on their stdin, never in an argv

    @property
    def rolling(self) -> bool:
        return self.batch is not None


@dataclass(frozen=True)
class AnalysisSpec:
    """A gate judged as a series of measurements (Argo Rollouts' AnalysisRun): ``[phases.analysis]``.

    The first measurement is ``initial_delay`` after the phase's steps are done, then one every
    ``interval``. More than ``failure_limit`` failed measurements fail the gate; more than
    ``inconclusive_limit`` inconclusive ones make it inconclusive (the operator decides); ``count``
    measurements within both limits pass it.
    """

    interval: float = 60.0
    count: int = 5
    failure_limit: int = 0
    inconclusive_limit: int = 0
    initial_delay: float = 0.0


@dataclass(frozen=True)
class PhaseSpec:
    id: str
    title: str
    steps: tuple[StepSpec, ...] = ()
    gate: tuple[str, ...] = ()  # conditions that must hold before the phase counts as done
    hold: float = 0.0  # the gate must hold continuously this long
    rollback_requires: tuple[str, ...] = ()
    analysis: AnalysisSpec | None = None  # the gate as an analysis run instead of a continuous check


@dataclass(frozen=True)
class RollbackSpec:
    """A named rollback of the runbook (``[rollback.NAME]``): one key, any time, timed against its own budget."""

    title: str
    on: tuple[str, ...]
    run: str
    verify: tuple[str, ...] = ()
    within: float = 60.0
    timeout: float | None = 600.0
    rollback_requires: tuple[str, ...] = ()  # checked before every step: rollback READY / NOT READY
    sudo: bool = False
    env: tuple[tuple[str, str], ...] = ()
    name: str = "quick"  # the NAME of [rollback.NAME]; a single [rollback] is "quick"
    budget: float = 60.0  # how long it may take, command and verify together
    undoes: tuple[str, ...] = ()  # phase ids it undoes; () = every phase done (or running) when it fires


@dataclass(frozen=True)
class RunbookSpec:
    phases: tuple[PhaseSpec, ...] = ()
    rollbacks: tuple[RollbackSpec, ...] = ()  # in config order; R fires the first
    rollback_budget: float = 60.0
    window: float = 300.0  # p95 / error_rate window
    min_samples: int = 20  # fewer samples in the window: inconclusive
    regression_rounds: int = 2  # consecutive down rounds before a baseline service counts as regressed
    latency_factor: float = 1.5  # p95 latency growth over the baseline that counts as a regression

    @property
    def rollback(self) -> RollbackSpec | None:
        """The first rollback (what ``R`` fires; its ``rollback_requires`` gate every step)."""
        return self.rollbacks[0] if self.rollbacks else None

    def named_rollback(self, name: str | None) -> RollbackSpec | None:
        """The rollback called ``name`` (the first one for None)."""
        if name is None:
            return self.rollback
        return next((r for r in self.rollbacks if r.name == name), None)

    def phase(self, phase_id: str) -> PhaseSpec:
        for p in self.phases:
            if p.id == phase_id:
                return p
        raise KeyError(phase_id)

    def step(self, ref: str) -> tuple[PhaseSpec, StepSpec]:
        """``PHASE.STEP`` -> the phase and the step."""
        phase_id, _, step_id = ref.partition(".")
        phase = self.phase(phase_id)
        for st in phase.steps:
            if st.id == step_id:
                return phase, st
        raise KeyError(ref)


@dataclass(frozen=True)
class HostSpec:
    """One host of the fleet, after inventory import and ssh-config aliasing."""

    name: str
    address: str  # passed to asyncssh, which resolves Host aliases from ssh config
    port: int | None = None
    user: str | None = None
    tags: tuple[str, ...] = ()
    transport: TransportKind = "ssh"
    login_shell: bool = False
    mounts: tuple[str, ...] = ("/",)
    identity_file: str | None = None
    #: ``[user@]host[:port][,...]`` like ``ssh -J``: wins over the ssh_config's ProxyJump (an inventory's
    #: bastion); ``"none"``: direct
    proxy_jump: str | None = None
    source: tuple[str, int | None] | None = None  # (file, line) that declared it, for error messages
    proxy_command: str | None = None  # a ProxyCommand from the same place (mutually exclusive with proxy_jump)
    #: where each connection field came from: (field, "file:line (variable)"), for ``cockpit validate``
    origins: tuple[tuple[str, str], ...] = ()

    def origin(self, field_name: str) -> str | None:
        """Where ``field_name`` (address, port, user, identity_file, ...) was set, if recorded."""
        return dict(self.origins).get(field_name)


@dataclass(frozen=True)
class SshSettings:
    config: Path | None = None
    known_hosts: Path = field(default_factory=lambda: Path("~/.ssh/known_hosts").expanduser())
    host_keys: HostKeyPolicy = "strict"
    connect_timeout: float = 5.0
    command_timeout: float = 30.0
    max_sessions: int = 8
    max_startups: int = 8  # handshakes in progress per destination sshd and per jump host (sshd MaxStartups is 10)
    max_handshakes: int | None = None  # across the fleet, for this machine; None: sized from CPUs and fds
    keepalive: float = 15.0
    identity_files: tuple[str, ...] = ()  # extra private keys; else agent + ssh config + defaults


@dataclass(frozen=True)
class CockpitSettings:
    title: str = "Cutover Cockpit"
    interval: float = 5.0
    #: every local file the cockpit writes besides the journal (crash logs; later output spools): never
    #: "beside the journal", which may one day be a database URL
    state_dir: Path | None = None
    #: where the palette's Screenshot writes its SVGs; None: the state directory
    screenshot_dir: Path | None = None
    history: int = 120  # load samples kept per host for sparklines
    phases: tuple[str, ...] = ()  # phase titles shown in the UI until the runbook lands
    clipboard: bool = False  # Y in the output pane copies a host's output to the terminal's clipboard (OSC 52)


@dataclass(frozen=True)
class JournalSettings:
    """``[journal]``: where the journal lives and how long a silent driver keeps the lease.

    A table of its own because a later journal is a ``postgresql://`` URL: nothing local lives "beside" it.
    """

    path: Path | None = None
    lease_ttl: float = 15.0  # seconds without a heartbeat after which the driver's lease is stale
    #: a PostgreSQL journal (``postgresql://user@host/db``, no password: libpq reads PGPASSWORD, ~/.pgpass or a
    #: service file); when set, ``path`` is None and the local state directory holds the observation spool
    url: str | None = None

    @property
    def target(self) -> Path | str | None:
        """The journal as given to :func:`cockpit.journal.open_journal`: the URL, else the file's path."""
        return self.url if self.url is not None else self.path

    def exists(self) -> bool:
        """A file journal exists on disk; a database journal is taken to exist (opening it says otherwise)."""
        return self.url is not None or (self.path is not None and self.path.exists())


#: events that ring the bell and go to webhooks (cockpit.notify; docs/notify.md)
ALARM_KINDS = ("regression", "gate-failed", "rollback-failed", "rollback-timeout", "lease-lost")


@dataclass(frozen=True)
class WebhookSpec:
    """A ``[[notify]]`` webhook: where alarms are POSTed, as what JSON, how hard to try."""

    url: str
    body: str  # a JSON document whose strings may hold {event} {summary} … (cockpit.notify.FIELDS)
    headers: tuple[tuple[str, str], ...] = ()
    events: tuple[str, ...] = ALARM_KINDS
    retries: int = 3  # more attempts after the first, on a connection error, a timeout, 429 or 5xx
    backoff: float = 1.0  # seconds before the first retry, doubled each time
    timeout: float = 5.0  # per attempt


@dataclass(frozen=True)
class AlertmanagerSettings:
    """``[alertmanager]``: a silence per service × host a step retires or introduces, for the step's window."""

    url: str
    matchers: tuple[str, ...] = ('service="{service}"', 'instance=~"{host}(:[0-9]+)?"')
    headers: tuple[tuple[str, str], ...] = ()
    retries: int = 2
    timeout: float = 5.0


@dataclass(frozen=True)
class GrafanaSettings:
    """``[grafana]``: an annotation per phase, step and rollback (a region from start to end)."""

    url: str
    token: str = ""  # from ${ENV}: sent as Authorization: Bearer
    tags: tuple[str, ...] = ("cutover",)
    dashboard_uid: str = ""  # "" : an organisation-wide annotation
    retries: int = 2
    timeout: float = 5.0


@dataclass(frozen=True)
class MetricsSourceSpec:
    """``[metrics.NAME]``: a Prometheus HTTP API the ``metric()`` conditions query.

    ``headers`` may carry secrets from ``${ENV}`` (a bearer token becomes ``Authorization``); they are
    in ``Config.secrets`` and redacted wherever text is shown. ``scrape_interval`` is the source's:
    a series whose newest sample is older than twice it is stale (inconclusive).
    """

    name: str
    url: str
    headers: tuple[tuple[str, str], ...] = ()
    verify_tls: bool = True
    ca_file: str | None = None
    timeout: float = 10.0
    scrape_interval: float = 15.0


@dataclass(frozen=True)
class Config:
    """A whole validated config."""

    path: Path | None
    cockpit: CockpitSettings
    ssh: SshSettings
    hosts: tuple[HostSpec, ...]
    services: tuple[ServiceSpec, ...]
    actions: tuple[ActionSpec, ...] = ()
    runbook: RunbookSpec = field(default_factory=RunbookSpec)
    #: host name -> names of services checked on it, in config order
    assignments: tuple[tuple[str, tuple[str, ...]], ...] = ()
    #: values that came from ${ENV}: redacted everywhere text is shown or written
    secrets: frozenset[str] = frozenset()
    journal: JournalSettings = field(default_factory=JournalSettings)
    #: deprecations and other things ``cockpit validate`` says without failing
    notes: tuple[str, ...] = ()
    notify: tuple[WebhookSpec, ...] = ()
    alertmanager: AlertmanagerSettings | None = None
    grafana: GrafanaSettings | None = None
    #: ``[metrics.NAME]`` sources, in config order (the first is the default of ``metric()``)
    metrics: tuple[MetricsSourceSpec, ...] = ()

    def host(self, name: str) -> HostSpec:
        for h in self.hosts:
            if h.name == name:
                return h
        raise KeyError(name)

    def service(self, name: str) -> ServiceSpec:
        for s in self.services:
            if s.name == name:
                return s
        raise KeyError(name)

    def services_on(self, host: str) -> tuple[ServiceSpec, ...]:
        names = dict(self.assignments).get(host, ())
        return tuple(self.service(n) for n in names)
