"""The conditions language: parsing, canonical rendering, errors with columns, three-valued evaluation.

Evaluation runs against ``FakeCtx``, a small in-memory EvalContext: no network, no engine.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from fnmatch import fnmatchcase

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cockpit.conditions import (
    And, Command, ConditionError, EvalContext, Health, LoadStat, Node, NoRegressions, Not, Or, Quantity, Refs,
    Rss, StatusIn, Target, ValueCmp, ValueOf, Verdict, WindowStat, all_of, any_of, evaluate, evaluate_all, parse,
    references, render,
)
from cockpit.errors import CockpitError
from cockpit.history import Sample
from cockpit.model import CheckResult, HostState, Load

# --------------------------------------------------------------------------- parsing: valid forms

CANONICAL = [
    ("up(fleet-web)", "up(fleet-web)"),
    ("  up ( fleet-web @ csb1 )  ", "up(fleet-web@csb1)"),
    ("any_up(api@tag:web)", "any_up(api@tag:web)"),
    ("down(old-agent@csb[12])", "down(old-agent@csb[12])"),
    ("down(x@web?.example.net)", "down(x@web?.example.net)"),
    ("up(a@all)", "up(a@all)"),
    ("status(web) in [200,301]", "status(web) in [200, 301]"),
    ("status(web@h1)in[ 204 ]", "status(web@h1) in [204]"),
    ("p95(api)<200ms", "p95(api) < 200ms"),
    ("p95(api) <= 1.5 s", "p95(api) <= 1.5s"),
    ("p95(api) < 2m", "p95(api) < 2m"),
    ("p95(api) > 1h", "p95(api) > 1h"),
    ("p95(api) < .5s", "p95(api) < 0.5s"),
    ("error_rate(api) < 0.1%", "error_rate(api) < 0.1%"),
    ("error_rate(api@tag:eu) >= 5 %", "error_rate(api@tag:eu) >= 5%"),
    ("cpu(all) < 50%", "cpu(all) < 50%"),
    ("mem(web*)!=90.5%", "mem(web*) != 90.5%"),
    ("rss(agent) < 200MB", "rss(agent) < 200MB"),
    ("rss(agent@csb1) < 512KiB", "rss(agent@csb1) < 512KB"),
    ("rss(agent) < 1.5GiB", "rss(agent) < 1.5GB"),
    ("rss(agent) < 3MiB", "rss(agent) < 3MB"),
    ('command("systemctl is-active fleet-agent")', 'command("systemctl is-active fleet-agent")'),
    ("command('grep -q \"v2\" /etc/fleet')@tag:csb", 'command("grep -q \\"v2\\" /etc/fleet")@tag:csb'),
    ('command("a \\\\ b \\" c \\\' d")', 'command("a \\\\ b \\" c \' d")'),
    ('value("wc -l < /x") > 0', 'value("wc -l < /x") > 0'),
    ('value("echo 5")@h1 == -2.50', 'value("echo 5")@h1 == -2.5'),
    ('value("count old")==value("count new")', 'value("count old") == value("count new")'),
    ('value("a")@db-old == value("b")@db-new', 'value("a")@db-old == value("b")@db-new'),
    ("no_regressions", "no_regressions"),
    ("up(a) and up(b) and up(c)", "up(a) and up(b) and up(c)"),
    ("up(a) or up(b) and up(c)", "up(a) or up(b) and up(c)"),
    ("(up(a) or up(b)) and up(c)", "(up(a) or up(b)) and up(c)"),
    ("((up(a)))", "up(a)"),
    ("not up(a)", "not up(a)"),
    ("not not up(a)", "not not up(a)"),
    ("not (up(a) and up(b))", "not (up(a) and up(b))"),
    ("not up(a) and up(b)", "not up(a) and up(b)"),
    ("(up(a) and up(b)) and up(c)", "(up(a) and up(b)) and up(c)"),
    ("up(a)\tand\nno_regressions", "up(a) and no_regressions"),
    ("up(android) and up(order)", "up(android) and up(order)"),
]


@pytest.mark.parametrize(("text", "canonical"), CANONICAL)
def test_valid_forms_parse_and_render_canonically(text: str, canonical: str) -> None:
    node = parse(text)
    assert render(node) == canonical
    assert parse(canonical) == node


def test_ast_shapes() -> None:
    assert parse("up(web@csb1)") == Health("up", Target("web", "csb1"))
    assert parse("status(web) in [200, 301]") == StatusIn(Target("web"), (200, 301))
    assert parse("p95(api) < 200ms") == WindowStat("p95", Target("api"), "<", Quantity(200, "ms"))
    assert parse("cpu(tag:web) < 50%") == LoadStat("cpu", "tag:web", "<", Quantity(50, "%"))
    assert parse("rss(a) <= 2MiB") == Rss(Target("a"), "<=", Quantity(2, "MB"))
    assert parse('command("true")@h1') == Command("true", "h1")
    assert parse('value("a") == value("b")@h2') == ValueCmp(ValueOf("a"), "==", ValueOf("b", "h2"))
    assert parse("up(a) or up(b) and not up(c)") == Or((
        Health("up", Target("a")),
        And((Health("up", Target("b")), Not(Health("up", Target("c"))))),
    ))
    assert parse("no_regressions") == NoRegressions()


@pytest.mark.parametrize(("text", "value"), [
    ("200ms", 0.2), ("1.5s", 1.5), ("2m", 120), ("1h", 3600), ("0.1%", 0.1), ("50%", 50),
    ("200MB", 200 * 1024**2), ("1KB", 1024), ("1KiB", 1024), ("2GB", 2 * 1024**3), ("3MiB", 3 * 1024**2),
])
def test_quantity_units(text: str, value: float) -> None:
    func = "p95(a)" if text[-1] in "smh" else "cpu(a)" if text.endswith("%") else "rss(a)"
    node = parse(f"{func} < {text}")
    assert isinstance(node, (WindowStat, LoadStat, Rss))
    assert node.limit.value == pytest.approx(value)


def test_references_collect_services_selectors_and_regressions() -> None:
    node = parse('up(web@tag:csb) and (p95(api) < 1s or rss(agent@csb*) < 200MB) and cpu(db*) < 90% '
                 'and command("x")@h1 and value("a")@h2 == value("b")@h3 and not no_regressions '
                 'and status(lb) in [200] and error_rate(api@all) < 1% and down(old)')
    assert references(node) == Refs(
        services=frozenset({"web", "api", "agent", "lb", "old"}),
        selectors=frozenset({"tag:csb", "csb*", "db*", "h1", "h2", "h3", "all"}),
        process_services=frozenset({"agent"}),
        uses_regressions=True,
        windowed=frozenset({parse("p95(api) < 1s"), parse("error_rate(api@all) < 1%")}),
        resources=frozenset({("rss", "agent", True), ("cpu", "db*", False)}),
    )
    assert references(parse("up(a)")) == Refs(frozenset({"a"}), frozenset(), frozenset(), False)


@pytest.mark.parametrize(("text", "phase"), [("p95(api) < 200ms", None), ("p95(api, connect) < 50ms", "connect"),
                                             ("p95(api@web*, tls) < 80ms", "tls"), ("p95( api ,connect ) < 1s", "connect")])
def test_p95_names_a_latency_phase(text: str, phase: str | None) -> None:
    node = parse(text)
    assert isinstance(node, WindowStat) and node.phase == phase
    assert parse(render(node)) == node
    if phase:
        assert f", {phase})" in render(node)


def test_an_unknown_phase_names_the_ones_there_are() -> None:
    with pytest.raises(ConditionError) as err:
        parse("p95(api, dns) < 1s")
    assert "connect, tls" in err.value.reason and err.value.column == 10
    with pytest.raises(ConditionError):
        parse("error_rate(api, connect) < 1%")  # a rate has no phases


async def test_p95_of_a_phase_reads_that_series_and_says_what_it_measured() -> None:
    ctx = fleet("a")
    samples = [Sample(float(i), "up", 0.010, 0.002 + i / 1000, None) for i in range(30)]
    ctx.window = lambda service, hosts: samples  # type: ignore[method-assign]
    v = await judge("p95(web, connect) < 40ms", ctx)
    assert v.value is True and "over 30 connects by the cockpit" in v.detail, v.detail
    v = await judge("p95(web, tls) < 40ms", ctx)
    assert v.value is None and "0 of 20 TLS handshakes" in v.detail, v.detail
    v = await judge("p95(web) < 5ms", ctx)
    assert v.value is False and "over 30 probes by the cockpit" in v.detail, v.detail


# --------------------------------------------------------------------------- parsing: errors

ERRORS = [
    # (text, column, fragment of the reason)
    ("upp(web)", 1, 'unknown function "upp"'),
    ("restart(web)", 1, 'unknown function "restart"'),
    ("up(web", 7, 'expected ")" after the service name'),
    ("up web)", 4, 'expected "(" after "up"'),
    ("p95(api < 200ms", 9, 'expected ")" after the service name, got "<"'),
    ("up()", 4, 'expected a service name after "up("'),
    ("(up(a) and up(b)", 17, 'expected ")" to close the "(" at col 1'),
    ("p95(api) < 5%", 12, 'expected a duration such as 200ms for p95(), got "5%"'),
    ("p95(api) < 200", 12, "expected a duration"),
    ("error_rate(api) < 0.1", 19, "expected a percentage such as 0.5% for error_rate()"),
    ("error_rate(api) < 2s", 19, "expected a percentage"),
    ("cpu(all) < 50MB", 12, "expected a percentage such as 0.5% for cpu()"),
    ("mem(all) < 50", 12, "expected a percentage such as 90% or a size such as 200MB for mem()"),
    ("rss(agent) < 200", 14, "expected a size such as 200MB for rss()"),
    ("rss(agent) < 20%", 14, "expected a size"),
    ('value("x") > 5s', 14, "expected a plain number for value()"),
    ('value("x") > 5%', 14, "expected a plain number for value()"),
    ("rss(agent) < 5mb", 15, 'unknown unit "mb"'),
    ("p95(api) < 5 secs", 14, 'unknown unit "secs"'),
    ("p95(api) < -5ms", 12, "expected a duration"),
    ("p95(api) < 1" + "0" * 400 + "s", 12, "expected a number a float can hold"),
    ("status(web) in []", 17, "expected an HTTP status code (100-599)"),
    ("status(web) in [200,]", 21, "expected an HTTP status code"),
    ("status(web) in [200 301]", 21, 'expected "," or "]"'),
    ("status(web) in [99]", 17, "expected an HTTP status code (100-599)"),
    ("status(web) in [200.0]", 17, "expected an HTTP status code"),
    ("status(web) [200]", 13, 'expected "in" after status(web)'),
    ("status(web) in 200", 16, 'expected "[" to start the list'),
    ('command("systemctl is-active x', 9, 'expected a closing " for the string opened here'),
    ("command('abc", 9, "expected a closing ' for the string opened here"),
    ('command("")', 9, "expected a command, got an empty string"),
    ("command(abc)", 9, "expected a quoted command string"),
    ('command("a\\nb")', 11, "after a backslash"),
    ("up(a) up(b)", 7, 'expected "and", "or" or the end of the condition, got "up"'),
    ("up(a))", 6, 'expected "and", "or" or the end of the condition, got ")"'),
    ("no_regressions()", 15, 'expected "and", "or" or the end'),
    ("up(a) and", 10, 'expected a condition after "and", got the end of the condition'),
    ("up(a) or", 9, 'expected a condition after "or"'),
    ("not", 4, 'expected a condition after "not"'),
    ("and up(a)", 1, 'expected a condition, got "and"'),
    ("", 1, "expected a condition, got the end of the condition"),
    ("   ", 4, "expected a condition"),
    ("up(web@we$b)", 10, 'expected a selector character (letters, digits, _ . * ? [ ] : -)'),
    ("cpu(we b) < 5%", 8, 'expected ")" after the selector, got "b"'),
    ("up(web@)", 8, 'expected a host selector'),
    ("cpu() < 5%", 5, "expected a host selector"),
    ("up(web@foo:bar)", 11, 'expected "tag:NAME" for a selector with ":"'),
    ("up(web@tag:)", 12, 'expected a tag name after "tag:"'),
    ("up(web@tag:a:b)", 13, 'expected a tag name without ":"'),
    ("p95(api)", 9, "expected a comparison (< <= > >= == !=) after p95(api)"),
    ('value("x")', 11, 'expected a comparison (< <= > >= == !=) after value("x")'),
    ('value("x") = 5', 12, "expected a comparison"),
    ("cpu(all) 50%", 10, "expected a comparison"),
    ('value("x") == ', 15, "expected a plain number for value()"),
]


@pytest.mark.parametrize(("text", "column", "fragment"), ERRORS)
def test_errors_name_the_column_and_what_was_expected(text: str, column: int, fragment: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse(text)
    err = info.value
    assert isinstance(err, CockpitError)
    assert err.column == column, err.reason
    assert err.reason.startswith(f"col {column}: ")
    assert fragment in err.reason
    # the message shows the text with a caret under the column
    lines = err.message.splitlines()
    assert lines[0] == err.reason
    assert lines[2].index("^") - 4 == column - 1


def test_error_message_layout_and_hints() -> None:
    with pytest.raises(ConditionError) as info:
        parse("p95(api < 200ms")
    assert info.value.message == ('col 9: expected ")" after the service name, got "<"\n'
                                  "    p95(api < 200ms\n"
                                  "            ^")
    with pytest.raises(ConditionError) as info:
        parse("upp(web)")
    assert info.value.hint == 'did you mean "up"?'
    assert 'fix: did you mean "up"?' in str(info.value)
    with pytest.raises(ConditionError) as info:
        parse("rss(a) < 5mb")
    assert info.value.hint == 'did you mean "MB"?'
    with pytest.raises(ConditionError) as info:
        parse('value("x") = 5')
    assert info.value.hint is not None and "==" in info.value.hint


def test_caret_line_stays_aligned_with_tabs_and_newlines() -> None:
    with pytest.raises(ConditionError) as info:
        parse("up(a)\tand\nup(b) xx")
    lines = info.value.message.splitlines()
    assert len(lines) == 3
    assert lines[1][4 + info.value.column - 1:].startswith("xx")


# --------------------------------------------------------------------------- parsing: properties

_names = st.from_regex(r"[A-Za-z0-9_.-]{1,10}", fullmatch=True)
_selectors = st.one_of(
    _names, st.from_regex(r"[A-Za-z0-9_.*?\[\]-]{1,10}", fullmatch=True), _names.map(lambda n: f"tag:{n}"),
    st.just("all"),
)
_targets = st.builds(Target, _names, st.none() | _selectors)
_ops = st.sampled_from(["<", "<=", ">", ">=", "==", "!="])
_nonneg = st.floats(min_value=0, max_value=1e15, allow_nan=False, allow_infinity=False)
_commands = st.text(min_size=1, max_size=15).filter(lambda s: s.strip() != "")
_value_of = st.builds(ValueOf, _commands, st.none() | _selectors)


def _qty(*units: str) -> st.SearchStrategy[Quantity]:
    return st.builds(Quantity, _nonneg, st.sampled_from(units))


_atoms: st.SearchStrategy[Node] = st.one_of(
    st.builds(Health, st.sampled_from(["up", "any_up", "down"]), _targets),
    st.builds(StatusIn, _targets, st.lists(st.integers(100, 599), min_size=1, max_size=4).map(tuple)),
    st.builds(WindowStat, st.just("p95"), _targets, _ops, _qty("ms", "s", "m", "h")),
    st.builds(WindowStat, st.just("error_rate"), _targets, _ops, _qty("%")),
    st.builds(LoadStat, st.sampled_from(["cpu", "mem"]), _selectors, _ops, _qty("%")),
    st.builds(Rss, _targets, _ops, _qty("KB", "MB", "GB")),
    st.builds(Command, _commands, st.none() | _selectors),
    st.builds(ValueCmp, _value_of, _ops, st.one_of(
        st.builds(Quantity, st.floats(-1e15, 1e15, allow_nan=False, allow_infinity=False)), _value_of)),
    st.just(NoRegressions()),
)
_nodes: st.SearchStrategy[Node] = st.recursive(
    _atoms,
    lambda kids: st.one_of(
        st.builds(Not, kids),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(kids, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
    ),
    max_leaves=6,
)


@settings(max_examples=150, deadline=None)
@given(_nodes)
def test_render_then_parse_gives_the_same_ast(node: Node) -> None:
    text = render(node)
    assert parse(text) == node
    assert render(parse(text)) == text


_GRAMMAR_CHARS = "()[]@,<>=!%\"'\\ .:*?-_ \t" + "updownanyorstatusinp95ecmrvlqk0123456789MBGKsh"


def _parse_or_condition_error(text: str) -> None:
    try:
        node = parse(text)
    except ConditionError as exc:
        assert 1 <= exc.column <= len(text) + 1
        assert exc.reason.startswith(f"col {exc.column}: ")
        str(exc)
    else:
        assert parse(render(node)) == node


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=40) | st.text(alphabet=_GRAMMAR_CHARS, max_size=40))
def test_arbitrary_text_raises_only_condition_error(text: str) -> None:
    _parse_or_condition_error(text)


@settings(max_examples=200, deadline=None)
@given(_nodes, st.data())
def test_mutated_valid_text_raises_only_condition_error(node: Node, data: st.DataObject) -> None:
    text = render(node)
    start = data.draw(st.integers(0, len(text)))
    end = data.draw(st.integers(start, min(len(text), start + 4)))
    insert = data.draw(st.text(alphabet=_GRAMMAR_CHARS, max_size=3))
    _parse_or_condition_error(text[:start] + insert + text[end:])


# --------------------------------------------------------------------------- the in-memory context

def res(service: str, host: str, status: str = "up", *, detail: str = "", latency: float | None = None,
        at: float = 0.0, **extra: float | int | str) -> CheckResult:
    return CheckResult(service=service, host=host, kind="http", status=status, detail=detail,  # type: ignore[arg-type]
                       latency=latency, at=at, extra=tuple(extra.items()))


@dataclass
class FakeCtx:
    """An EvalContext over plain dicts; records commands it ran and how many ran at once."""

    hosts: dict[str, tuple[str, ...]] = field(default_factory=dict)  # host -> tags
    services: dict[str, list[str]] = field(default_factory=dict)  # service -> hosts it is checked on
    results: dict[tuple[str, str], CheckResult] = field(default_factory=dict)  # (service, host) -> latest
    reach: dict[str, bool | None] = field(default_factory=dict)  # default True
    samples: dict[str, list[CheckResult]] = field(default_factory=dict)
    loads: dict[str, Load | None] = field(default_factory=dict)
    outputs: dict[tuple[str, str], tuple[int | None, str]] = field(default_factory=dict)  # (command, host)
    default_command_hosts: list[str] | None = None
    regs: list[str] = field(default_factory=list)
    min_samples: int = 20
    window_seconds: float = 0.0  # 0: verdicts do not name a window
    ran: list[tuple[str, str]] = field(default_factory=list)
    running: int = 0
    max_running: int = 0

    def _select(self, selector: str) -> list[str]:
        if selector == "all":
            return list(self.hosts)
        if selector.startswith("tag:"):
            return [h for h, tags in self.hosts.items() if any(fnmatchcase(t, selector[4:]) for t in tags)]
        return [h for h in self.hosts if fnmatchcase(h, selector)]

    def hosts_for(self, service: str, selector: str | None) -> list[str]:
        on = self.services.get(service, [])
        return [h for h in on if selector is None or h in self._select(selector)]

    def latest(self, service: str, host: str) -> CheckResult | None:
        return self.results.get((service, host))

    def reachable(self, host: str) -> bool | None:
        return self.reach.get(host, True)

    def window(self, service: str, hosts: list[str]) -> list[CheckResult]:
        return [r for r in self.samples.get(service, []) if r.host in hosts]

    def load(self, selector: str) -> list[HostState]:
        out = []
        for h in self._select(selector):
            ok = self.reach.get(h, True)
            out.append(HostState(name=h, reach="ok" if ok else "unreachable", load=self.loads.get(h)))
        return out

    def is_service(self, name: str) -> bool:
        return name in self.services

    def command_hosts(self, selector: str | None) -> list[str]:
        if selector is None:
            return list(self.default_command_hosts if self.default_command_hosts is not None else self.hosts)
        return self._select(selector)

    async def run(self, command: str, host: str) -> tuple[int | None, str]:
        self.ran.append((command, host))
        self.running += 1
        self.max_running = max(self.max_running, self.running)
        await asyncio.sleep(0.01)
        self.running -= 1
        return self.outputs.get((command, host), (0, ""))

    def regressions(self) -> list[str]:
        return list(self.regs)

    def undecided(self) -> list[str]:
        return []


def test_public_api_is_reexported() -> None:
    import cockpit.conditions as conditions
    import cockpit.conditions.evaluator as conditions_eval
    import cockpit.conditions.parser as conditions_parse

    for name in conditions.__all__:
        assert hasattr(conditions, name), name
    for module in (conditions_parse, conditions_eval):
        for name in module.__all__:
            assert getattr(conditions, name) is getattr(module, name), name


def test_fake_context_satisfies_the_protocol() -> None:
    ctx: EvalContext = FakeCtx()
    assert ctx.min_samples == 20


def fleet(*hosts: str, service: str = "web", tags: dict[str, tuple[str, ...]] | None = None) -> FakeCtx:
    return FakeCtx(hosts={h: (tags or {}).get(h, ()) for h in hosts}, services={service: list(hosts)})


async def judge(text: str, ctx: FakeCtx) -> Verdict:
    verdict = await evaluate(parse(text), ctx)
    assert "\n" not in verdict.detail
    return verdict


# --------------------------------------------------------------------------- up / any_up / down

def health_ctx(states: tuple[str, ...]) -> FakeCtx:
    """One host per state: up, degraded, down, unknown (status), missing (no fresh result), unreachable."""
    hosts = tuple(f"h{i}" for i in range(len(states)))
    ctx = fleet(*hosts)
    for h, state in zip(hosts, states):
        if state == "unreachable":
            ctx.reach[h] = False
            ctx.results[("web", h)] = res("web", h, "up")  # a stale "up" must not count
        elif state != "missing":
            ctx.results[("web", h)] = res("web", h, state)
    return ctx


HEALTH_TABLE = [
    # states,                       up,    any_up, down
    (("up",),                       True,  True,  False),
    (("up", "up", "up"),            True,  True,  False),
    (("down",),                     False, False, True),
    (("down", "down"),              False, False, True),
    (("degraded",),                 False, False, False),
    (("unknown",),                  None,  None,  None),
    (("missing",),                  None,  None,  None),
    (("unreachable",),              None,  None,  None),
    (("up", "down"),                False, True,  False),
    (("up", "degraded"),            False, True,  False),
    (("down", "degraded"),          False, False, False),
    (("up", "missing"),             None,  True,  False),
    (("up", "unreachable"),         None,  True,  False),
    (("up", "unknown"),             None,  True,  False),
    (("down", "missing"),           False, None,  None),
    (("down", "unreachable"),       False, None,  None),
    (("down", "unknown"),           False, None,  None),
    (("degraded", "unreachable"),   False, None,  False),
    (("missing", "unreachable"),    None,  None,  None),
]


@pytest.mark.parametrize(("states", "up", "any_up", "down"), HEALTH_TABLE)
async def test_health_truth_table(states: tuple[str, ...], up: bool | None, any_up: bool | None,
                                  down: bool | None) -> None:
    ctx = health_ctx(states)
    assert (await judge("up(web)", ctx)).value is up
    assert (await judge("any_up(web)", ctx)).value is any_up
    assert (await judge("down(web)", ctx)).value is down


async def test_health_unknown_reachability_trusts_a_fresh_result() -> None:
    ctx = fleet("h1")
    ctx.reach["h1"] = None
    ctx.results[("web", "h1")] = res("web", "h1", "down")
    assert (await judge("down(web)", ctx)).value is True


async def test_health_details_name_hosts_and_reasons() -> None:
    ctx = fleet("csb1", "csb2", "csb3", service="fleet-web")
    ctx.results[("fleet-web", "csb1")] = res("fleet-web", "csb1", "down", detail="HTTP 502")
    ctx.results[("fleet-web", "csb2")] = res("fleet-web", "csb2", "up", detail="HTTP 200")
    ctx.reach["csb3"] = False
    v = await judge("up(fleet-web)", ctx)
    assert v == Verdict(False, "up(fleet-web): down on csb1 (HTTP 502)")
    v = await judge("down(fleet-web)", ctx)
    assert v.value is False and "up on csb2 (HTTP 200)" in v.detail
    v = await judge("up(fleet-web@csb[23])", ctx)
    assert v == Verdict(None, "up(fleet-web@csb[23]): csb3 unreachable")
    v = await judge("any_up(fleet-web)", ctx)
    assert v == Verdict(True, "any_up(fleet-web): up on csb2 (HTTP 200) (1 of 3 hosts)")
    ctx.results[("fleet-web", "csb1")] = res("fleet-web", "csb1", "up")
    ctx.reach["csb3"] = True
    ctx.results[("fleet-web", "csb3")] = res("fleet-web", "csb3", "up")
    assert await judge("up(fleet-web)", ctx) == Verdict(True, "up(fleet-web): up on all 3 host(s)")


async def test_health_on_no_hosts_is_inconclusive() -> None:
    ctx = fleet("h1")
    v = await judge("up(web@nothing*)", ctx)
    assert v.value is None and "no host" in v.detail
    assert (await judge("down(other)", ctx)).value is None


# --------------------------------------------------------------------------- status in

async def test_status_in() -> None:
    ctx = fleet("h1", "h2")
    ctx.results[("web", "h1")] = res("web", "h1", http_status=200)
    ctx.results[("web", "h2")] = res("web", "h2", http_status=301)
    assert (await judge("status(web) in [200, 301]", ctx)).value is True
    v = await judge("status(web) in [200]", ctx)
    assert v == Verdict(False, "status(web): HTTP 301 on h2, want 200")
    assert (await judge("status(web@h1) in [200]", ctx)).value is True
    ctx.results[("web", "h1")] = res("web", "h1", "down")  # no http_status (connection refused)
    v = await judge("status(web) in [200, 301]", ctx)
    assert v.value is None and "no HTTP status from h1" in v.detail
    del ctx.results[("web", "h1")]
    assert (await judge("status(web) in [200, 301]", ctx)).value is None
    assert (await judge("status(web) in [200]", ctx)).value is False  # h2's 301 already decides
    ctx.results[("web", "h1")] = res("web", "h1", http_status="200")  # extras may arrive as strings
    assert (await judge("status(web@h1) in [200]", ctx)).value is True
    ctx.results[("web", "h1")] = res("web", "h1", http_status="inf")
    assert (await judge("status(web@h1) in [200]", ctx)).value is None


# --------------------------------------------------------------------------- p95 / error_rate

def with_samples(latencies: list[float | None], statuses: list[str] | None = None, hosts: tuple[str, ...] = ("h1",),
                 min_samples: int = 20) -> FakeCtx:
    ctx = fleet(*hosts, service="api")
    ctx.min_samples = min_samples
    statuses = statuses or ["up"] * len(latencies)
    ctx.samples["api"] = [res("api", hosts[i % len(hosts)], s, latency=lat, at=float(i))
                          for i, (lat, s) in enumerate(zip(latencies, statuses))]
    return ctx


async def test_p95_inconclusive_below_min_samples() -> None:
    ctx = with_samples([0.01] * 7)
    assert await judge("p95(api) < 200ms", ctx) == Verdict(None, "p95(api): inconclusive, 7 of 20 probes by the cockpit")
    # samples without a latency do not count
    ctx = with_samples([0.01] * 19 + [None] * 5)
    assert (await judge("p95(api) < 200ms", ctx)).value is None


async def test_p95_nearest_rank_above_min_samples() -> None:
    ctx = with_samples([i / 1000 for i in range(1, 21)])  # 1..20 ms: nearest rank 19 -> 19 ms
    assert (await judge("p95(api) < 20ms", ctx)).value is True
    assert (await judge("p95(api) <= 19ms", ctx)).value is True
    v = await judge("p95(api) < 19ms", ctx)
    assert v == Verdict(False, "p95(api) = 19 ms over 20 probes by the cockpit, limit < 19 ms")
    ctx = with_samples([0.1] * 30 + [0.23] * 4)  # 34 samples, nearest rank 33 -> 230 ms
    assert await judge("p95(api) < 200ms", ctx) == Verdict(False, "p95(api) = 230 ms over 34 probes by the cockpit, limit < 200 ms")
    assert (await judge("p95(api) < 1s", ctx)).value is True


async def test_p95_uses_the_targeted_hosts_only() -> None:
    ctx = with_samples([0.01] * 20 + [5.0] * 20, hosts=("h1", "h2"))
    ctx.samples["api"] = [r for r in ctx.samples["api"]]
    for i, r in enumerate(ctx.samples["api"]):
        ctx.samples["api"][i] = res("api", "h1" if i < 20 else "h2", latency=r.latency)
    assert (await judge("p95(api@h1) < 100ms", ctx)).value is True
    assert (await judge("p95(api) < 100ms", ctx)).value is False


async def test_error_rate() -> None:
    ctx = with_samples([0.01] * 20, ["up"] * 19 + ["down"])
    v = await judge("error_rate(api) < 1%", ctx)
    assert v == Verdict(False, "error_rate(api) = 5% over 20 probes by the cockpit, limit < 1%")
    assert (await judge("error_rate(api) <= 5%", ctx)).value is True
    ctx = with_samples([0.01] * 1000, ["up"] * 999 + ["down"])
    assert (await judge("error_rate(api) <= 0.1%", ctx)).value is True
    assert (await judge("error_rate(api) < 0.1%", ctx)).value is False
    ctx = with_samples([None] * 19, ["down"] * 19)
    assert await judge("error_rate(api) < 1%", ctx) == Verdict(None, "error_rate(api): inconclusive, 19 of 20 probes by the cockpit")
    # degraded is not an error; unknown samples are no evidence either way
    ctx = with_samples([None] * 40, ["degraded"] * 20 + ["unknown"] * 20)
    assert (await judge("error_rate(api) == 0%", ctx)).value is True
    ctx = with_samples([None] * 25, ["down"] * 5 + ["unknown"] * 20)
    assert (await judge("error_rate(api) < 50%", ctx)).value is None


# --------------------------------------------------------------------------- cpu / mem / rss

async def test_cpu_and_mem() -> None:
    ctx = fleet("web1", "web2", "db1", tags={"web1": ("web",), "web2": ("web",)})
    ctx.loads = {"web1": Load(at=0, cpu=12.0, mem=40.0), "web2": Load(at=0, cpu=42.0, mem=95.0),
                 "db1": Load(at=0, cpu=99.0, mem=None)}
    assert await judge("cpu(tag:web) < 50%", ctx) == Verdict(True, "cpu(tag:web) = 12%..42% on 2 host(s), limit < 50%")
    v = await judge("cpu(all) < 50%", ctx)
    assert v == Verdict(False, "cpu(all): 99% on db1, limit < 50%")
    assert (await judge("mem(web1) < 50%", ctx)).value is True
    v = await judge("mem(web*) < 90%", ctx)
    assert v.value is False and "95% on web2" in v.detail
    v = await judge("mem(db1) < 90%", ctx)
    assert v.value is None and "no mem figure from db1" in v.detail
    ctx.loads["web2"] = None
    assert (await judge("cpu(web*) < 50%", ctx)).value is None
    ctx.loads["web2"] = Load(at=0, cpu=1.0)
    ctx.reach["web2"] = False
    v = await judge("cpu(tag:web) < 50%", ctx)
    assert v.value is None and "web2 unreachable" in v.detail
    assert (await judge("cpu(all) < 50%", ctx)).value is False  # db1's 99% already decides
    assert (await judge("cpu(nomatch*) < 50%", ctx)).value is None


async def test_rss() -> None:
    ctx = fleet("csb1", "csb2", service="agent")
    ctx.results[("agent", "csb1")] = res("agent", "csb1", rss_kb=100 * 1024)  # 100 MB
    ctx.results[("agent", "csb2")] = res("agent", "csb2", rss_kb=250 * 1024)
    assert (await judge("rss(agent@csb1) < 200MB", ctx)).value is True
    v = await judge("rss(agent) < 200MB", ctx)
    assert v == Verdict(False, "rss(agent): 250 MB on csb2, limit < 200 MB")
    assert (await judge("rss(agent) < 1GB", ctx)).value is True
    assert (await judge("rss(agent) > 102399KB", ctx)).value is True
    ctx.results[("agent", "csb2")] = res("agent", "csb2", rss_kb="300000")
    assert (await judge("rss(agent@csb2) > 200MB", ctx)).value is True
    ctx.results[("agent", "csb2")] = res("agent", "csb2", "down")  # process gone: no figure
    v = await judge("rss(agent) < 200MB", ctx)
    assert v.value is None and "no memory figure from csb2" in v.detail  # rss() is mem()'s alias
    ctx.reach["csb1"] = False
    assert (await judge("rss(agent@csb1) < 200MB", ctx)).value is None


# --------------------------------------------------------------------------- command / value

async def test_command_all_zero_runs_concurrently() -> None:
    ctx = fleet("h1", "h2", "h3", "h4")
    started = time.monotonic()
    v = await judge('command("systemctl is-active agent")', ctx)
    assert v == Verdict(True, 'command("systemctl is-active agent"): exit 0 on all 4 host(s)')
    assert ctx.max_running == 4
    assert time.monotonic() - started < 0.5
    assert sorted(ctx.ran) == [("systemctl is-active agent", h) for h in ("h1", "h2", "h3", "h4")]


async def test_command_failures_name_hosts_and_last_output_line() -> None:
    ctx = fleet("h1", "h2", "h3", tags={"h1": ("csb",), "h2": ("csb",)})
    ctx.outputs[("check", "h2")] = (3, "loading\ninactive\n\x1b[31m\n")
    v = await judge('command("check")', ctx)
    assert v == Verdict(False, 'command("check"): exit 3 on h2: inactive')
    ctx.outputs[("check", "h3")] = (None, "connection lost")
    assert (await judge('command("check")@h[13]', ctx)) == Verdict(
        None, 'command("check")@h[13]: could not run on h3: connection lost')
    assert (await judge('command("check")', ctx)).value is False  # h2's exit 3 decides
    assert (await judge('command("check")@tag:csb', ctx)).value is False
    assert (await judge('command("check")@h1', ctx)).value is True
    ctx.default_command_hosts = ["h1"]
    assert (await judge('command("check")', ctx)).value is True
    assert (await judge('command("check")@none*', ctx)).value is None


async def test_value_against_a_number() -> None:
    ctx = fleet("h1", "h2")
    ctx.outputs[("count", "h1")] = (0, "12\n")
    ctx.outputs[("count", "h2")] = (0, " 7 ")
    v = await judge('value("count") > 5', ctx)
    assert v == Verdict(True, 'value("count") > 5: 12 on h1; 7 on h2')
    v = await judge('value("count") > 10', ctx)
    assert v == Verdict(False, 'value("count") > 10: 7 on h2')
    assert (await judge('value("count")@h1 == 12', ctx)).value is True
    assert (await judge('value("count")@h1 != 12', ctx)).value is False
    ctx.outputs[("count", "h2")] = (0, "-0.5")
    assert (await judge('value("count") >= -0.5', ctx)).value is True
    ctx.outputs[("count", "h2")] = (0, "n/a")
    v = await judge('value("count") > 5', ctx)
    assert v.value is False and "h2: printed 'n/a', not a number" in v.detail
    ctx.outputs[("count", "h2")] = (0, "nan")
    assert (await judge('value("count") > 5', ctx)).value is False
    ctx.outputs[("count", "h2")] = (2, "permission denied")
    v = await judge('value("count") > 5', ctx)
    assert v == Verdict(False, 'value("count") > 5: h2: exit 2: permission denied')
    ctx.outputs[("count", "h2")] = (None, "")
    v = await judge('value("count") > 5', ctx)
    assert v == Verdict(None, 'value("count") > 5: h2: could not run')
    ctx.outputs[("count", "h1")] = (0, "1")
    assert (await judge('value("count") > 5', ctx)).value is False  # h1's 1 decides


async def test_value_detail_stays_short_on_many_hosts() -> None:
    ctx = fleet(*(f"h{i:02}" for i in range(30)))
    ctx.outputs.update({("n", f"h{i:02}"): (0, str(i)) for i in range(30)})
    v = await judge('value("n") >= 0', ctx)
    assert v == Verdict(True, 'value("n") >= 0: 0 on h00; 1 on h01; 2 on h02; 27 more')


async def test_value_against_value_per_host() -> None:
    ctx = fleet("db1", "db2")
    ctx.outputs.update({("before", "db1"): (0, "1200"), ("after", "db1"): (0, "1200"),
                        ("before", "db2"): (0, "500"), ("after", "db2"): (0, "499")})
    v = await judge('value("before") == value("after")', ctx)
    assert v == Verdict(False, 'value("before") == value("after"): 500 vs 499 on db2')
    assert (await judge('value("before")@db1 == value("after")@db1', ctx)).value is True
    assert (await judge('value("before") >= value("after")', ctx)).value is True
    # exact comparison of large integers (row counts)
    ctx.outputs.update({("before", "db1"): (0, "9007199254740993"), ("after", "db1"): (0, "9007199254740992")})
    assert (await judge('value("before")@db1 == value("after")@db1', ctx)).value is False
    ctx.outputs[("after", "db2")] = (None, "")
    assert (await judge('value("before")@db2 == value("after")@db2', ctx)).value is None


async def test_value_across_hosts() -> None:
    ctx = fleet("old", "new1", "new2")
    ctx.outputs.update({("rows", "old"): (0, "42"), ("rows", "new1"): (0, "42"), ("rows", "new2"): (0, "41")})
    v = await judge('value("rows")@new* == value("rows")@old', ctx)
    assert v == Verdict(False, 'value("rows")@new* == value("rows")@old: 41 vs 42 on new2 vs old')
    assert (await judge('value("rows")@old == value("rows")@new1', ctx)).value is True
    assert ctx.ran.count(("rows", "old")) == 2  # once per evaluation, however many pairs use it
    v = await judge('value("rows")@new* == value("rows")@*', ctx)
    assert v.value is None and "different hosts" in v.detail


# --------------------------------------------------------------------------- logic

def logic_ctx() -> FakeCtx:
    """Services t, f, n whose up() is True, False and None."""
    ctx = FakeCtx(hosts={"h": ()}, services={"t": ["h"], "f": ["h"], "n": ["h"]})
    ctx.results[("t", "h")] = res("t", "h", "up")
    ctx.results[("f", "h")] = res("f", "h", "down")
    return ctx


_VAL = {"t": True, "f": False, "n": None}
_KLEENE_AND = {(a, b): False if False in (a, b) else None if None in (a, b) else True for a in _VAL.values()
               for b in _VAL.values()}
_KLEENE_OR = {(a, b): True if True in (a, b) else None if None in (a, b) else False for a in _VAL.values()
              for b in _VAL.values()}


@pytest.mark.parametrize("a", "tfn")
@pytest.mark.parametrize("b", "tfn")
async def test_three_valued_and_or(a: str, b: str) -> None:
    ctx = logic_ctx()
    assert (await judge(f"up({a}) and up({b})", ctx)).value is _KLEENE_AND[(_VAL[a], _VAL[b])]
    assert (await judge(f"up({a}) or up({b})", ctx)).value is _KLEENE_OR[(_VAL[a], _VAL[b])]


@pytest.mark.parametrize(("a", "want"), [("t", False), ("f", True), ("n", None)])
async def test_three_valued_not(a: str, want: bool | None) -> None:
    v = await judge(f"not up({a})", logic_ctx())
    assert v.value is want
    assert v.detail.startswith("not [up(")


def test_all_of_any_of() -> None:
    assert all_of([]) is True and any_of([]) is False
    assert all_of([True, None, False]) is False and all_of([True, None]) is None
    assert any_of([False, None, True]) is True and any_of([False, None]) is None


async def test_logic_details_name_what_decided() -> None:
    ctx = logic_ctx()
    v = await judge("up(t) and up(f) and up(n)", ctx)
    assert v.value is False and "up(f)" in v.detail and "up(t)" not in v.detail and "up(n)" not in v.detail
    v = await judge("up(t) and up(n)", ctx)
    assert v.value is None and "up(n)" in v.detail and "up(t)" not in v.detail
    v = await judge("up(f) or up(t)", ctx)
    assert v.value is True and v.detail.startswith("up(t)")
    v = await judge("up(f) or up(f)", ctx)
    assert v.value is False and v.detail.count("up(f)") == 2


async def test_no_regressions() -> None:
    ctx = FakeCtx()
    assert await judge("no_regressions", ctx) == Verdict(True, "no regressions")
    ctx.regs = ["api p95 240 ms (baseline 120 ms)", "web down on h2"]
    assert await judge("no_regressions", ctx) == Verdict(
        False, "2 regression(s): api p95 240 ms (baseline 120 ms), web down on h2")
    assert (await judge("not no_regressions", ctx)).value is True


async def test_evaluate_all() -> None:
    ctx = logic_ctx()
    assert await evaluate_all([], ctx) == Verdict(True, "no conditions")
    assert (await evaluate_all(["up(t)", parse("down(f)")], ctx)).value is True
    v = await evaluate_all(["up(t)", "up(n)", "up(f)"], ctx)
    assert v == Verdict(False, "up(f): down on h")
    assert (await evaluate_all(["up(t)", "up(n)"], ctx)).value is None
    with pytest.raises(ConditionError):
        await evaluate_all(["up(t)", "up(("], ctx)
