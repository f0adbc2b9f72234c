"""The OpenSSH client config, parsed once per change of its files and resolved per host as OpenSSH 9.2 does.

asyncssh re-tokenises the whole file with shlex on every connection (60 % of a 200-host cold run), drops
backslashes and treats ``#`` inside a line as data. Here the files are read once per change (the key holds
the size and mtime of every file read, ``Include``d ones too, and the matches of every ``Include`` glob),
lines are split the way OpenSSH's ``argv_split`` splits them, and each host's options come from walking
that one parse with OpenSSH's rules: the first value wins, ``Host`` and ``Match`` blocks with negation,
``Include`` relative to ``~/.ssh``, a second pass for ``Match canonical``/``final``, ``%`` tokens in the
options OpenSSH expands them in. The transport then hands asyncssh explicit options and no config.
``tests/test_ssh_config_oracle.py`` compares every host of a corpus with ``ssh -G`` of the installed OpenSSH.
"""

from __future__ import annotations

import functools
import glob
import hashlib
import os
import pwd
import re
import socket
from dataclasses import dataclass, field
from pathlib import Path

from cockpit.errors import ConfigError, ConfigIssue
from cockpit.spec import HostSpec, SshSettings

__all__ = [
    "ResolvedSsh",
    "Sourced",
    "SshConfigFile",
    "jump_hops",
    "load_ssh_config",
    "parse_count",
    "resolve_host",
    "resolve_ssh",
]

#: every keyword OpenSSH 9.2's ssh accepts (readconf.c; checked against ``ssh -G`` by the tests)
KEYWORDS = frozenset("""
addkeystoagent addressfamily afstokenpassing batchmode bindaddress bindinterface canonicaldomains
canonicalizefallbacklocal canonicalizehostname canonicalizemaxdots canonicalizepermittedcnames
casignaturealgorithms certificatefile challengeresponseauthentication checkhostip cipher ciphers
clearallforwardings compression compressionlevel connectionattempts connecttimeout controlmaster controlpath
controlpersist dsaauthentication dynamicforward enableescapecommandline enablesshkeysign escapechar
exitonforwardfailure fallbacktorsh fingerprinthash forkafterauthentication forwardagent forwardx11
forwardx11timeout forwardx11trusted gatewayports globalknownhostsfile globalknownhostsfile2
gssapiauthentication gssapiclientidentity gssapidelegatecredentials gssapikexalgorithms gssapikeyexchange
gssapirenewalforcesrekey gssapiserveridentity gssapitrustdns hashknownhosts hostbasedacceptedalgorithms
hostbasedauthentication hostbasedkeytypes hostkeyalgorithms hostkeyalias identitiesonly identityagent
identityfile identityfile2 ignoreunknown include ipqos kbdinteractiveauthentication kbdinteractivedevices
kerberosauthentication kerberostgtpassing knownhostscommand localforward loglevel logverbose macs
nohostauthenticationforlocalhost numberofpasswordprompts passwordauthentication permitlocalcommand
permitremoteopen pkcs11provider preferredauthentications protocol protocolkeepalives proxycommand proxyjump
proxyusefdpass pubkeyacceptedalgorithms pubkeyacceptedkeytypes pubkeyauthentication rekeylimit remotecommand
remoteforward requesttty requiredrsasize revokedhostkeys rhostsauthentication rhostsrsaauthentication
securitykeyprovider serveralivecountmax serveraliveinterval sessiontype setuptimeout skeyauthentication
smartcarddevice stdinnull streamlocalbindmask streamlocalbindunlink stricthostkeychecking syslogfacility
tcpkeepalive tisauthentication tunnel tunneldevice updatehostkeys useblacklistedkeys useprivilegedport
userknownhostsfile userknownhostsfile2 useroaming usersh verifyhostkeydns visualhostkey xauthlocation
host match hostname port user localcommand sendenv setenv kexalgorithms
""".split())  # noqa: SIM905 (a word list reads better than 130 quoted strings)
#: options where every line adds a value (the rest: the first value wins)
APPEND = frozenset({"identityfile", "certificatefile", "sendenv", "localforward", "remoteforward", "dynamicforward"})
#: options whose paths get ``~``, ``%`` tokens and ``${ENV}`` expanded (IdentityFile has its own handling)
_EXPANDED = frozenset({"certificatefile", "identityagent"})
#: options whose value is the rest of the line, as written
RAW = frozenset({"proxycommand", "remotecommand", "localcommand", "knownhostscommand"})
SYNONYMS = {"identityfile2": "identityfile", "globalknownhostsfile2": "globalknownhostsfile",
            "userknownhostsfile2": "userknownhostsfile", "hostbasedkeytypes": "hostbasedacceptedalgorithms",
            "pubkeyacceptedkeytypes": "pubkeyacceptedalgorithms"}
#: the identity files OpenSSH 9.2 tries when the config names none
DEFAULT_IDENTITIES = ("~/.ssh/id_rsa", "~/.ssh/id_ecdsa", "~/.ssh/id_ecdsa_sk", "~/.ssh/id_ed25519",
                      "~/.ssh/id_ed25519_sk", "~/.ssh/id_xmss", "~/.ssh/id_dsa")
MATCH_ATTRS = ("host", "originalhost", "user", "localuser", "exec")
MAX_INCLUDE_DEPTH = 16  # READCONF_MAX_DEPTH
_MULTI = frozenset({"host", "match", "include", "sendenv", "setenv", "globalknownhostsfile", "userknownhostsfile",
                    "canonicaldomains", "canonicalizepermittedcnames", "permitremoteopen", "logverbose",
                    "localforward", "remoteforward", "ignoreunknown"})
_parses = 0


def parse_count() -> int:
    """How many times a file was tokenised in this process (the tests count parses, never time them)."""
    return _parses


# --------------------------------------------------------------------------- the parse


def _split(text: str) -> list[str] | None:
    """OpenSSH's ``argv_split`` with comments: quotes group, ``\\`` escapes only quotes, itself and a space.

    ``#`` at the start of a word ends the line; other backslashes stay (``C:\\keys\\id_w``). None: an
    unterminated quote.
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in " \t":
            i += 1
            continue
        if c == "#":
            break
        word: list[str] = []
        quote = ""
        while i < n:
            c = text[i]
            if c == "\\" and i + 1 < n and (text[i + 1] in "'\"\\" or (not quote and text[i + 1] == " ")):
                word.append(text[i + 1])
                i += 2
                continue
            if not quote and c in " \t":
                break
            if not quote and c in "\"'":
                quote = c
            elif quote and c == quote:
                quote = ""
            else:
                word.append(c)
            i += 1
        if quote:
            return None
        out.append("".join(word))
    return out


def _pattern(p: str) -> re.Pattern[str]:
    return re.compile("".join(".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in p), re.DOTALL)


@dataclass(frozen=True)
class _Patterns:
    """A comma/space list of ``*``/``?`` patterns, ``!`` negating.

    OpenSSH 9.2 matches ``Host`` lines case-sensitively against the name as given, and ``Match host`` and
    ``originalhost`` regardless of case (checked with ``ssh -G``).
    """

    items: tuple[tuple[bool, re.Pattern[str]], ...]

    @classmethod
    def of(cls, words: list[str], fold: bool = False) -> _Patterns:
        items = []
        for w in words:
            for p in w.split(","):
                if not p:
                    continue
                neg = p.startswith("!")
                items.append((neg, _pattern((p[1:] if neg else p).lower() if fold else p[1:] if neg else p)))
        return cls(tuple(items))

    def matches(self, value: str) -> bool:
        hit = False
        for neg, rx in self.items:
            if rx.fullmatch(value):
                if neg:
                    return False
                hit = True
        return hit


@dataclass(frozen=True)
class _Line:
    file: str
    line: int
    keyword: str
    args: tuple[str, ...]
    raw: str  # the rest of the line after the keyword, as written


@dataclass(frozen=True)
class _Host:
    patterns: _Patterns
    names: frozenset[str] | None = None  # the names, when every pattern is a plain name (no * ? !)


@dataclass(frozen=True)
class _Run:
    """Consecutive ``Host`` blocks of plain names, indexed by name: a 1,000-host file costs a host one lookup.

    Without it every host walks every block (O(hosts × blocks) for a file listing the fleet). Only the blocks
    that match apply, in file order, exactly as the plain walk would apply them.
    """

    blocks: tuple[tuple[object, ...], ...]
    index: dict[str, tuple[int, ...]]


@dataclass(frozen=True)
class _Match:
    criteria: tuple[tuple[bool, str, _Patterns | None], ...]  # (negated, attribute, patterns)
    final: bool  # a non-negated ``final``: OpenSSH then reads the config twice


@dataclass(frozen=True)
class _Include:
    files: tuple[tuple[str, tuple[object, ...]], ...]  # (path, its ops)


@dataclass(frozen=True)
class SshConfigFile:
    """One parse of an ssh_config and everything it includes; resolve hosts with :func:`resolve_ssh`."""

    path: Path
    ops: tuple[object, ...]
    stamp: tuple[object, ...]
    wants_final: bool
    #: options this OpenSSH would refuse, and ``Include`` files that do not exist (file, line, fix)
    warnings: tuple[ConfigIssue, ...] = ()


def _stamp(path: str) -> tuple[str, int, int]:
    try:
        st = os.stat(path)
    except OSError:
        return (path, -1, -1)
    return (path, st.st_mtime_ns, st.st_size)


class _Parser:
    def __init__(self, home: str) -> None:
        self.home = home
        self.issues: list[ConfigIssue] = []
        self.warnings: list[ConfigIssue] = []
        self.stamp: list[object] = []
        self.final = False
        self.ignore_unknown: _Patterns | None = None

    def issue(self, file: str, line: int | None, message: str, fix: str) -> None:
        self.issues.append(ConfigIssue(file, "", message, fix, line))

    def file(self, path: str, depth: int) -> tuple[object, ...]:
        global _parses
        self.stamp.append(_stamp(path))
        try:
            text = Path(path).read_text(encoding="utf-8", errors="surrogateescape")
        except OSError as exc:
            self.issue(path, None, f"the ssh config cannot be read ({exc.strerror or exc})",
                       "fix its permissions or the path")
            return ()
        _parses += 1
        ops: list[object] = []
        for no, line in enumerate(text.splitlines(), 1):
            op = self.line(path, no, line, depth)
            if op is not None:
                ops.append(op)
        return _indexed(ops)

    def line(self, path: str, no: int, line: str, depth: int) -> object | None:
        line = line.rstrip(" \t\r\n\f")
        m = re.match(r"[ \t]*([^ \t=]*)[ \t]*=?[ \t]*", line)
        assert m is not None
        keyword, rest = m.group(1).lower(), line[m.end():]
        if not keyword or keyword.startswith("#"):
            return None
        if not rest:
            self.issue(path, no, f"no argument after keyword {m.group(1)!r}", "give it a value or remove the line")
            return None
        args = _split(rest)
        if args is None:
            self.issue(path, no, "invalid quotes", "close the quote, or escape it with a backslash")
            return None
        keyword = SYNONYMS.get(keyword, keyword)
        if keyword not in KEYWORDS:
            if self.ignore_unknown is not None and self.ignore_unknown.matches(keyword):
                return None
            self.warnings.append(ConfigIssue(path, "", f"{m.group(1)} is not an option of OpenSSH 9.2's ssh: "
                                             "ssh refuses the whole file (the cockpit ignores the line)",
                                             f"add 'IgnoreUnknown {m.group(1)}' before it if another ssh "
                                             "reads this file, or remove it", no))
            return None
        if keyword == "host":
            words = [p for w in args for p in w.split(",") if p]
            plain = all(not (set(p) & set("*?!")) for p in words)
            return _Host(_Patterns.of(args), frozenset(words) if plain and words else None)
        if keyword == "match":
            return self.match(path, no, args)
        if keyword == "include":
            return self.include(path, no, args, depth)
        if keyword == "ignoreunknown" and self.ignore_unknown is None:
            self.ignore_unknown = _Patterns.of(args, fold=True)
        if not args and keyword not in RAW:
            self.issue(path, no, f"no argument after keyword {m.group(1)!r}", "give it a value or remove the line")
            return None
        if keyword not in _MULTI and keyword not in RAW and keyword != "proxyjump" and len(args) > 1:
            self.issue(path, no, f"{m.group(1)}: garbage at end of line ({' '.join(args[1:])!r})",
                       "quote a value with spaces, or put a comment after '#'")
            return None
        if keyword == "port" and not (args[0].isdigit() and 0 < int(args[0]) < 65536):
            self.issue(path, no, f"bad port {args[0]!r}", "a port is a number from 1 to 65535")
            return None
        if keyword == "proxyjump" and args[0].lower() != "none" and _jump(rest) is None:
            self.issue(path, no, f"invalid ProxyJump {rest!r}", "write [user@]host[:port] hops separated by commas")
            return None
        return _Line(path, no, keyword, tuple(args), rest)

    def match(self, path: str, no: int, args: list[str]) -> _Match | None:
        criteria: list[tuple[bool, str, _Patterns | None]] = []
        final = False
        i = 0
        while i < len(args):
            word = args[i]
            neg = word.startswith("!")
            attr = (word[1:] if neg else word).lower()
            i += 1
            if attr == "all":
                if len(args) > 1 and not all(a.lstrip("!").lower() in ("all", "canonical", "final") for a in args):
                    self.issue(path, no, "'all' cannot be combined with other Match attributes",
                               "write 'Match all' alone, or only with canonical/final")
                    return None
                criteria.append((neg, attr, None))
            elif attr in ("canonical", "final"):
                final |= attr == "final" and not neg
                criteria.append((neg, attr, None))
            elif attr in MATCH_ATTRS:
                if i >= len(args):
                    self.issue(path, no, f"Match {attr} needs a value", f"e.g. Match {attr} PATTERN")
                    return None
                if attr == "exec":
                    self.issue(path, no, "Match exec is not supported by the cockpit: it would run a command "
                               "for every host on every connection",
                               "match with Host/Match host/user patterns, or point [ssh] config at a file "
                               "without Match exec")
                    return None
                criteria.append((neg, attr, _Patterns.of([args[i]], fold=attr in ("host", "originalhost"))))
                i += 1
            else:
                self.issue(path, no, f"unsupported Match attribute {word!r}",
                           "use all, canonical, final, host, originalhost, user or localuser")
                return None
        if not criteria:
            self.issue(path, no, "Match needs a condition", "e.g. Match host web*")
            return None
        self.final |= final
        return _Match(tuple(criteria), final)

    def include(self, path: str, no: int, args: list[str], depth: int) -> _Include | None:
        if depth >= MAX_INCLUDE_DEPTH:
            self.issue(path, no, f"Include nested more than {MAX_INCLUDE_DEPTH} deep (a loop?)",
                       "an included file must not include itself")
            return None
        files: list[tuple[str, tuple[object, ...]]] = []
        for arg in args:
            pattern = os.path.join(self.home, ".ssh", arg) if not arg.startswith(("/", "~")) else arg
            pattern = self.home + pattern[1:] if pattern.startswith("~/") or pattern == "~" else pattern
            matched = sorted(glob.glob(pattern))
            self.stamp.append(("glob", pattern, tuple(matched)))
            if not matched and not glob.has_magic(pattern):
                self.warnings.append(ConfigIssue(path, "", f"Include {arg}: {pattern} does not exist (ignored, "
                                                 "as OpenSSH does)", "fix the path or remove the line", no))
            for name in matched:
                files.append((name, self.file(name, depth + 1)))
        return _Include(tuple(files))


def _indexed(ops: list[object]) -> tuple[object, ...]:
    """The ops with each run of plain-name ``Host`` blocks (two or more) folded into one :class:`_Run`."""
    out: list[object] = []
    blocks: list[tuple[_Host, list[object]]] = []

    def flush() -> None:
        if len(blocks) > 1:
            index: dict[str, list[int]] = {}
            for i, (host, _body) in enumerate(blocks):
                for name in sorted(host.names or ()):
                    index.setdefault(name, []).append(i)
            out.append(_Run(tuple(tuple(body) for _h, body in blocks), {k: tuple(v) for k, v in index.items()}))
        else:
            for host, body in blocks:
                out.extend([host, *body])
        blocks.clear()

    for op in ops:
        if isinstance(op, _Host) and op.names is not None:
            blocks.append((op, []))
        elif isinstance(op, (_Host, _Match)):
            flush()
            out.append(op)
        elif blocks:
            blocks[-1][1].append(op)
        else:
            out.append(op)
    flush()
    return tuple(out)


_cache: dict[Path, SshConfigFile] = {}


@functools.cache
def _passwd(uid: int) -> tuple[str, str]:
    """(home, user name) from the password database, read once per process (0.1 ms a call, twice a host)."""
    try:
        entry = pwd.getpwuid(uid)
    except KeyError:
        import getpass

        return os.path.expanduser("~"), getpass.getuser()
    return entry.pw_dir, entry.pw_name


def _home() -> str:
    """OpenSSH expands ``~`` and ``%d`` from the password database, not ``$HOME``."""
    return _passwd(os.getuid())[0]


def default_config_path() -> Path:
    return Path(_home()) / ".ssh" / "config"


def load_ssh_config(path: Path | None) -> SshConfigFile | None:
    """The parse of ``path`` (``None``: ``~/.ssh/config`` when readable), reused while no file it read changed.

    Raises:
        ConfigError: a line OpenSSH would refuse (bad quotes, a missing value, a bad port, a bad ``Match``),
            with file and line; an unknown option is only a warning (see :attr:`SshConfigFile.warnings`).
    """
    if path is None:
        path = default_config_path()
        if not os.access(path, os.R_OK):
            return None
    hit = _cache.get(path)
    if hit is not None and _fresh(hit):
        return hit
    p = _Parser(_home())
    ops = p.file(str(path), 0)
    if p.issues:
        raise ConfigError(p.issues)
    parsed = SshConfigFile(path, ops, tuple(p.stamp), p.final, tuple(p.warnings))
    _cache[path] = parsed
    return parsed


def _fresh(parsed: SshConfigFile) -> bool:
    for item in parsed.stamp:
        if isinstance(item, tuple) and item and item[0] == "glob":
            if tuple(sorted(glob.glob(str(item[1])))) != item[2]:
                return False
        elif _stamp(str(item[0])) != item:  # type: ignore[index]
            return False
    return True


# --------------------------------------------------------------------------- resolving one host


@dataclass(frozen=True)
class Sourced:
    """A value the caller already knows for a host (like ``ssh -p``/``-l``/``-i``/``-J``), and where it came from."""

    value: str | int
    origin: str  # e.g. "cockpit.toml:12", "inventory hosts.ini:3"


@dataclass(frozen=True)
class ResolvedSsh:
    """What one connection will use, each field with its origin (``origin_of``). Immutable: safe to share.

    ``alias`` is what the host is called in ssh terms (``ssh ALIAS``); ``hostname`` and ``port`` are where the
    TCP connection goes (through ``proxy_jump`` when set: the jump hosts as OpenSSH writes them).
    """

    alias: str
    hostname: str
    port: int
    user: str
    identity_files: tuple[str, ...]  # expanded, in OpenSSH's order; the defaults when none is named
    identity_file: str | None  # the first that exists
    identity_origins: tuple[str, ...]  # where each of identity_files was named
    missing_identity_files: tuple[str, ...]  # named explicitly but absent: skipped, as OpenSSH does
    identities_named: bool  # the config or the cockpit named identity files (else OpenSSH's defaults)
    proxy_jump: str | None
    proxy_command: str | None  # as written (``ssh -G`` shows it so); ``proxy_command_line`` has the tokens expanded
    proxy_command_line: str | None
    options: tuple[tuple[str, tuple[str, ...]], ...]  # every other option that applied: (keyword, args)
    origins: tuple[tuple[str, str], ...]
    config_path: Path | None = None

    def origin_of(self, name: str) -> str:
        """Where a field came from: ``cockpit.toml:12``, ``~/.ssh/config:4``, ``OpenSSH default``…"""
        return dict(self.origins).get(name, "this machine's user (OpenSSH default)" if name == "user"
                                      else "OpenSSH default")

    def option(self, keyword: str) -> tuple[str, ...] | None:
        """The arguments of an ssh_config option that applied (lowercase keyword), or None."""
        return dict(self.options).get(keyword)

    @property
    def destination(self) -> tuple[str, int]:
        """The sshd this connection reaches last (what a per-destination handshake limit counts)."""
        return (self.hostname, self.port)

    def warnings(self) -> tuple[str, ...]:
        """What an operator should know about this connection (shown by ``validate`` and the host detail)."""
        origins = dict(zip(self.identity_files, self.identity_origins, strict=True))
        return tuple(f"identity file {f} ({origins.get(f, '?')}) does not exist: skipped, as OpenSSH does"
                     for f in self.missing_identity_files)


@dataclass
class _State:
    alias: str  # as given (%n)
    host: str  # what Host lines match: the alias, in the final pass the resolved hostname in lower case
    local_user: str
    final_pass: bool
    values: dict[str, tuple[tuple[str, ...], str, str]] = field(default_factory=dict)  # kw: (args, raw, origin)
    appended: dict[str, list[tuple[tuple[str, ...], str]]] = field(default_factory=dict)

    def user(self) -> str:
        v = self.values.get("user")
        return v[0][0] if v else self.local_user

    def hostname(self) -> str:
        v = self.values.get("hostname")
        return _percent(v[0][0], {"h": self.alias}) if v else self.alias


def _matches(m: _Match, s: _State) -> bool:
    result = True
    for neg, attr, pats in m.criteria:
        if attr == "all":
            hit = True
        elif attr in ("canonical", "final"):
            hit = s.final_pass
        else:
            assert pats is not None
            value = {"host": s.hostname().lower(), "originalhost": s.alias.lower(), "user": s.user(), "localuser": s.local_user}[attr]
            hit = pats.matches(value)
        if hit == neg:
            result = False
    return result


def _walk(ops: tuple[object, ...], s: _State, active: bool, never: bool) -> bool:
    for op in ops:
        if isinstance(op, _Line):
            if not active:
                continue
            origin = f"{op.file}:{op.line}"
            if op.keyword in APPEND:
                s.appended.setdefault(op.keyword, []).append((op.args, origin))
            elif op.keyword == "proxycommand" and "proxyjump" in s.values:
                continue  # one of ProxyJump and ProxyCommand: the first wins
            elif op.keyword == "proxyjump" and "proxycommand" in s.values:
                continue
            elif op.keyword not in s.values:
                s.values[op.keyword] = (op.args, op.raw, origin)
        elif isinstance(op, _Host):
            active = not never and op.patterns.matches(s.host)
        elif isinstance(op, _Match):
            active = not never and _matches(op, s)
        elif isinstance(op, _Include):
            for _name, sub in op.files:
                _walk(sub, s, active, never or not active)  # an include never changes its parent's block
        elif isinstance(op, _Run):
            hits = () if never else op.index.get(s.host, ())
            for i in hits:
                _walk(op.blocks[i], s, True, False)
            active = bool(hits) and hits[-1] == len(op.blocks) - 1  # as if the run's last Host line was read
    return active


class _Tokens(dict[str, str]):
    """The ``%`` tokens of one host; ``%C`` (a hash of %l%h%p%r) is computed only when a value uses it."""

    def __missing__(self, key: str) -> str:
        if key != "C":
            raise KeyError(key)
        text = f"{self['l']}{self['h']}{self['p']}{self['r']}"
        self["C"] = hashlib.sha1(text.encode(), usedforsecurity=False).hexdigest()
        return self["C"]


def _percent(text: str, tokens: dict[str, str]) -> str:
    if "%" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        key = m.group(1)
        return "%" if key == "%" else tokens[key]

    return re.sub(r"%(.)", one, text)


def _env(text: str) -> str:
    return re.sub(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}", lambda m: os.environ.get(m.group(1), m.group(0)), text)


def _jump(raw: str) -> str | None:
    """ProxyJump as OpenSSH 9.2 keeps it: a comment cut, the last hop parsed; None if a hop does not parse."""
    text = raw.split("#", 1)[0].rstrip()
    if text.lower() == "none":
        return "none"
    hops = text.split(",")
    for hop in hops:
        if _hop(hop) is None:
            return None
    last = _hop(hops[-1])
    assert last is not None
    user, host, port = last
    extra = raw[: raw.rfind(",")] if "," in raw.split("#", 1)[0] else ""
    host = f"[{host}]" if ":" in host else host
    return f"{extra + ',' if extra else ''}{user + '@' if user else ''}{host}{f':{port}' if port else ''}"


def jump_hops(proxy_jump: str) -> tuple[tuple[str | None, str, int | None], ...]:
    """The hops of a ProxyJump as (user, host, port), first hop first; unparseable hops are left out."""
    out = []
    for hop in proxy_jump.split(","):
        parsed = _hop(hop)
        if parsed is not None:
            user, host, port = parsed
            out.append((user or None, host, port or None))
    return tuple(out)


def _hop(hop: str) -> tuple[str, str, int] | None:
    m = re.fullmatch(r"(?:ssh://)?(?:(\S+)@)?(\[[^\]]+\]|[^:@\s/\[\]]+)(?::(\d+))?/?", hop.strip())
    if m is None:
        return None
    port = int(m.group(3)) if m.group(3) else 0
    if port > 65535:
        return None
    return m.group(1) or "", m.group(2).strip("[]"), port


def _local_user() -> str:
    return _passwd(os.getuid())[1]


def resolve_ssh(alias: str, config: SshConfigFile | None, *, hostname: Sourced | None = None,
                port: Sourced | None = None, user: Sourced | None = None,
                identity_files: tuple[Sourced, ...] = (), proxy_jump: Sourced | None = None,
                proxy_command: Sourced | None = None, alias_origin: str = "cockpit config") -> ResolvedSsh:
    """One host's options, as ``ssh -p PORT -l USER -i KEY -J JUMP ALIAS`` would resolve them with this config.

    The given values come first (OpenSSH's command line beats the file); ``hostname`` is a HostName given
    by the caller, like ``-o HostName=`` (an inventory's ``ansible_host`` is the ``alias``, as Ansible runs
    ``ssh ANSIBLE_HOST``, so the file's ``Host`` blocks match it).

    Raises:
        ConfigError: an unknown ``%`` token in an option the cockpit expands, or a given ProxyJump that
            OpenSSH would refuse (named with its origin).
    """
    s = _State(alias=alias, host=alias, local_user=_local_user(), final_pass=False)
    for name, given in (("hostname", hostname), ("port", port), ("user", user)):
        if given is not None:
            s.values[name] = ((str(given.value),), str(given.value), given.origin)
    if proxy_jump is not None:
        s.values["proxyjump"] = ((str(proxy_jump.value),), str(proxy_jump.value), proxy_jump.origin)
    elif proxy_command is not None:  # one of the two, as OpenSSH keeps one
        s.values["proxycommand"] = ((str(proxy_command.value),), str(proxy_command.value), proxy_command.origin)
    if config is not None:
        _walk(config.ops, s, True, False)
        canon = s.values.get("canonicalizehostname")
        if config.wants_final or (canon is not None and canon[0][0].lower() != "no"):
            s.host = s.hostname().lower()
            s.final_pass = True
            _walk(config.ops, s, True, False)
    return _finish(s, config, identity_files, alias_origin)


def _finish(s: _State, config: SshConfigFile | None, given_ids: tuple[Sourced, ...],
            alias_origin: str) -> ResolvedSsh:
    origins: dict[str, str] = {}
    v = s.values
    host = s.hostname()
    origins["hostname"] = v["hostname"][2] if "hostname" in v else alias_origin
    host = host if _is_address(host) else host.lower()
    port = int(v["port"][0][0]) if "port" in v else 22
    if "port" in v:
        origins["port"] = v["port"][2]
    user = s.user()
    if "user" in v:
        origins["user"] = v["user"][2]
    home = _home()
    short = socket.gethostname().split(".")[0]
    local = socket.gethostname()
    alias_key = v.get("hostkeyalias")
    tokens = _Tokens({"h": host, "p": str(port), "r": user, "u": s.local_user, "n": s.alias, "d": home,
                      "l": local, "L": short, "i": str(os.getuid()), "k": alias_key[0][0] if alias_key else s.alias})
    jump = None
    if "proxyjump" in v:
        jump = _jump(v["proxyjump"][1])
        if jump is None:  # only a given one: the file's were checked at parse
            file, _, line = v["proxyjump"][2].rpartition(":")
            raise ConfigError(ConfigIssue(file or v["proxyjump"][2], "", f"invalid ProxyJump {v['proxyjump'][1]!r}",
                                          "write [user@]host[:port] hops separated by commas",
                                          int(line) if line.isdigit() else None))
        if jump == "none":
            jump = None
        else:
            origins["proxy_jump"] = v["proxyjump"][2]
    if jump:
        tokens["j"] = jump
    command = line = None
    if "proxycommand" in v and v["proxycommand"][1].strip().lower() != "none":
        command = v["proxycommand"][1]
        line = _expand(v["proxycommand"][1], {k: tokens[k] for k in "hnpr"}, v["proxycommand"][2], tilde=False,
                       home=home)
        origins["proxy_command"] = v["proxycommand"][2]
    named: list[tuple[str, str]] = [(str(g.value), g.origin) for g in given_ids]
    for args, origin in s.appended.get("identityfile", []):
        named.append((args[0], origin))
    files: list[str] = []
    file_origin: dict[str, str] = {}
    for raw, origin in named or [(d, "OpenSSH default") for d in DEFAULT_IDENTITIES]:
        path = _expand(raw, tokens, origin, tilde=True, home=home)
        if path not in file_origin:
            files.append(path)
            file_origin[path] = origin
    existing = [f for f in files if os.path.isfile(f)]
    first = existing[0] if existing else None
    if first is not None:
        origins["identity_file"] = file_origin[first]
    missing = tuple(f for f in files if named and not os.path.isfile(f))
    def expanded(keyword: str, args: tuple[str, ...], origin: str) -> tuple[str, ...]:
        if keyword not in _EXPANDED or args[0].lower() == "none" or args[0] == "SSH_AUTH_SOCK":
            return args
        return tuple(_expand(a, tokens, origin, tilde=True, home=home) for a in args)

    options = tuple((k, expanded(k, val[0], val[2])) for k, val in v.items()
                    if k not in ("hostname", "port", "user", "proxyjump"))
    options += tuple((k, tuple(a for args, o in vals for a in expanded(k, args, o))) for k, vals in s.appended.items()
                     if k != "identityfile")
    return ResolvedSsh(alias=s.alias, hostname=host, port=port, user=user, identity_files=tuple(files),
                       identity_file=first, identity_origins=tuple(file_origin[f] for f in files), missing_identity_files=missing, identities_named=bool(named),
                       proxy_jump=jump, proxy_command=command, proxy_command_line=line, options=options,
                       origins=tuple(origins.items()), config_path=config.path if config else None)


def _expand(raw: str, tokens: dict[str, str], origin: str, *, tilde: bool, home: str) -> str:
    text = raw
    if tilde and (text == "~" or text.startswith("~/")):
        text = home + text[1:]
    try:
        text = _percent(text, tokens)
    except KeyError as exc:
        file, _, line = origin.rpartition(":")
        raise ConfigError(ConfigIssue(file or origin, "", f"unknown token %{exc.args[0]} in {raw!r}",
                                      "use %h %p %r %u %n %d %l %L %i %j %k %C or %% for a percent sign",
                                      int(line) if line.isdigit() else None)) from None
    return _env(text) if tilde else text


def _is_address(host: str) -> bool:
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in host else socket.AF_INET, host)
    except OSError:
        return False
    return True


def _origin(spec: HostSpec, field_name: str = "address") -> str:
    """Where a host's field was set: the inventory's or the config's own record, else the declaring table."""
    recorded = spec.origin(field_name)
    if recorded:
        return recorded
    if spec.source is None:
        return "cockpit config"
    file, line = spec.source
    where = f"{file}:{line}" if line else file
    return where if file.endswith(".toml") else f"inventory {where}"


def resolve_host(spec: HostSpec, settings: SshSettings) -> ResolvedSsh:
    """A fleet host as its connection will see it: the cockpit's port/user/key over the ssh_config's.

    ``identity_file`` (per host) or ``[ssh] identity_files`` replace the ssh_config's IdentityFile lines,
    as they always have; the rest follows :func:`resolve_ssh`. The ssh_config is ``[ssh] config``, else
    ``~/.ssh/config`` when readable (what asyncssh read before).

    Raises:
        ConfigError: the ssh_config does not parse (file and line), or an option holds an unknown token.
    """
    if spec.identity_file:
        ids: tuple[Sourced, ...] = (Sourced(spec.identity_file, _origin(spec, "identity_file")),)
    else:
        ids = tuple(Sourced(f, "[ssh] identity_files") for f in settings.identity_files)

    def given(field_name: str) -> Sourced | None:
        value = getattr(spec, field_name)
        return Sourced(value, _origin(spec, field_name)) if value else None

    return resolve_ssh(spec.address, load_ssh_config(settings.config), port=given("port"), user=given("user"),
                       proxy_jump=given("proxy_jump"), proxy_command=given("proxy_command"),
                       identity_files=ids, alias_origin=_origin(spec))
