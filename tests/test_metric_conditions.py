"""metric() against a real Prometheus fed by backfill: thresholds, per-series verdicts, inconclusive cases.

Every value asserted follows from tests/promtraffic.py; queries run at ``prometheus.now`` (the
evaluation time a gate or an analysis measurement passes as ``time=``), so nothing waits for a scrape.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator

import pytest
from httpd import HttpServer
from prom import Prometheus, namespace
from promtraffic import SCRAPE_INTERVAL, error_ratio, p95, requests, traffic

from cockpit.conditions import Verdict, evaluate, parse
from cockpit.errors import MetricsError
from cockpit.metrics import PrometheusClient, promql_string, substitute
from cockpit.secrets import Redactor
from cockpit.spec import MetricsSourceSpec


class PromContext:
    """The metric() part of an evaluation context, over a real source (the engine's is EngineContext)."""

    def __init__(self, source: MetricsSourceSpec, at: float, hosts: dict[str, str] | None = None,
                 secrets: tuple[str, ...] = ()) -> None:
        self.source, self.at, self.hosts, self.redactor = source, at, hosts or {}, Redactor(secrets)

    def metrics_source(self, name: str | None) -> MetricsSourceSpec | None:
        return self.source if name in (None, self.source.name) else None

    def metric_client(self, source: MetricsSourceSpec) -> PrometheusClient:
        return PrometheusClient(source, self.redactor)

    def eval_time(self) -> float:
        return self.at

    def placeholder_values(self, host: str | None) -> dict[str, str]:
        return {"phase": "canary", **({"host": host, "address": self.hosts[host]} if host else {})}

    def command_hosts(self, selector: str | None) -> list[str]:
        return list(self.hosts)


@pytest.fixture(scope="module")
def ns(prometheus: Prometheus) -> Iterator[str]:
    name = namespace("metric")
    prometheus.backfill(traffic(prometheus.om(), name))
    yield name


def _source(prometheus: Prometheus, **kw: object) -> MetricsSourceSpec:
    return MetricsSourceSpec("prom", prometheus.url, scrape_interval=SCRAPE_INTERVAL, **kw)  # type: ignore[arg-type]


async def judge(prometheus: Prometheus, condition: str, at: float | None = None, **kw: object) -> Verdict:
    ctx = PromContext(_source(prometheus), prometheus.now if at is None else at, **kw)  # type: ignore[arg-type]
    return await evaluate(parse(condition), ctx)  # type: ignore[arg-type]


def metric(query: str) -> str:
    return "metric(" + json.dumps(query) + ")"


async def test_error_ratio_gate_passes_for_the_good_canary_and_fails_for_the_bad_one(prometheus: Prometheus,
                                                                                    ns: str) -> None:
    good = await judge(prometheus, f"{metric(error_ratio(ns, 'v2'))} < 0.1%")
    assert good.value is True, good.detail
    assert 'version="v2"' in good.detail and "0.05%" in good.detail and "limit < 0.1%" in good.detail
    bad = await judge(prometheus, f"{metric(error_ratio(ns, 'v3'))} < 0.1%")
    assert bad.value is False, bad.detail
    assert "FAILS" in bad.detail and "1.96%" in bad.detail


async def test_p95_latency_from_the_histogram_in_milliseconds(prometheus: Prometheus, ns: str) -> None:
    fast = await judge(prometheus, f"{metric(p95(ns, 'v2'))} < 200ms")
    assert fast.value is True and "150 ms" in fast.detail, fast.detail
    slow = await judge(prometheus, f"{metric(p95(ns, 'v3'))} < 200ms")
    assert slow.value is False and "462 ms" in slow.detail, slow.detail


async def test_several_series_are_judged_each_with_its_labels(prometheus: Prometheus, ns: str) -> None:
    verdict = await judge(prometheus, f"{metric(error_ratio(ns, window='5m'))} < 0.1%")
    assert verdict.value is False  # v3 fails; the others do not hide it
    by_series = {v.series: v for v in verdict.series}
    assert by_series['{version="v2"}'].outcome is True
    assert by_series['{version="v3"}'].outcome is False
    assert by_series['{version="v4"}'].outcome is None and "stale" in by_series['{version="v4"}'].why
    assert by_series['{version="v5"}'].outcome is None and "NaN" in by_series['{version="v5"}'].why
    assert 'version="v3"' in verdict.detail


async def test_an_empty_result_is_inconclusive_never_true(prometheus: Prometheus, ns: str) -> None:
    verdict = await judge(prometheus, f"{metric(error_ratio(ns, 'v9'))} < 0.1%")
    assert verdict.value is None and "no series" in verdict.detail, verdict.detail
    assert (await judge(prometheus, f"not {metric(error_ratio(ns, 'v9'))} < 0.1%")).value is None


async def test_nan_is_inconclusive(prometheus: Prometheus, ns: str) -> None:
    verdict = await judge(prometheus, f"{metric(error_ratio(ns, 'v5'))} < 0.1%")
    assert verdict.value is None and "NaN" in verdict.detail, verdict.detail


async def test_inf_is_inconclusive(prometheus: Prometheus, ns: str) -> None:
    query = f'sum(rate(http_requests_total{{ns="{ns}",version="v2"}}[1m])) / 0'
    verdict = await judge(prometheus, f"{metric(query)} > 1")
    assert verdict.value is None and "inf" in verdict.detail.lower(), verdict.detail


async def test_a_series_whose_newest_sample_is_older_than_two_scrape_intervals_is_stale(prometheus: Prometheus,
                                                                                     ns: str) -> None:
    # the instant query alone still answers (rate over the last samples, stamped with the evaluation time)
    [raw] = prometheus.query(error_ratio(ns, "v4", "5m"))
    assert raw["value"][0] == prometheus.now and math.isfinite(float(raw["value"][1]))  # type: ignore[index]
    verdict = await judge(prometheus, f"{metric(error_ratio(ns, 'v4', '5m'))} < 0.1%")
    assert verdict.value is None, verdict.detail
    assert "stale" in verdict.detail and "120 s old" in verdict.detail and "2 × scrape_interval (15 s)" in verdict.detail
    # 100 s earlier the same series was fresh and judged
    earlier = await judge(prometheus, f"{metric(error_ratio(ns, 'v4', '5m'))} < 0.1%", at=prometheus.now - 100)
    assert earlier.value is True, earlier.detail


async def test_min_count_makes_too_few_requests_inconclusive(prometheus: Prometheus, ns: str) -> None:
    cond = f"metric({json.dumps(error_ratio(ns, 'v2'))}, count={json.dumps(requests(ns, 'v2'))}) < 0.1%"
    enough = await judge(prometheus, cond + " min_count 500")
    assert enough.value is True, enough.detail
    too_few = await judge(prometheus, cond + " min_count 10000")
    assert too_few.value is None, too_few.detail
    assert "only 6003 requests behind it, fewer than min_count 10000" in too_few.detail


async def test_prometheus_errors_are_inconclusive_and_name_the_query(prometheus: Prometheus, ns: str) -> None:
    verdict = await judge(prometheus, metric("sum(rate(http_requests_total[1m]") + " < 1")
    assert verdict.value is None
    assert "Prometheus refused the query (bad_data)" in verdict.detail
    assert "query: sum(rate(http_requests_total[1m]" in verdict.detail


async def test_prometheus_warnings_are_shown_with_their_query(httpd: HttpServer) -> None:
    body = {"status": "success", "warnings": ["partial response: store eu-2 unreachable"],
            "data": {"resultType": "vector", "result": [{"metric": {"version": "v2"}, "value": [100.0, "0.0004"]}]}}
    url = httpd.route("/api/v1/query", body=json.dumps(body), headers={"Content-Type": "application/json"})
    source = MetricsSourceSpec("prom", url.removesuffix("/api/v1/query"), scrape_interval=15)
    verdict = await evaluate(parse(metric("vector(0.0004)") + " < 0.1%"), PromContext(source, 100.0))  # type: ignore[arg-type]
    assert verdict.value is True
    assert "Prometheus warning: partial response: store eu-2 unreachable (query: vector(0.0004))" in verdict.detail


async def test_bearer_token_is_sent_and_never_shown(httpd: HttpServer) -> None:
    url = httpd.route("/api/v1/query", status=401, body="unauthorized")
    token = "s3cr3t-token-value"
    source = MetricsSourceSpec("prom", url.removesuffix("/api/v1/query"),
                               headers=(("Authorization", f"Bearer {token}"),))
    async with PrometheusClient(source, Redactor([token])) as client:
        with pytest.raises(MetricsError) as err:
            await client.instant("up", 100.0)
    assert httpd.requests[-1].headers["Authorization"] == f"Bearer {token}"
    assert "HTTP 401" in err.value.message and token not in str(err.value)


async def test_an_unreachable_source_is_inconclusive(prometheus: Prometheus, ns: str) -> None:
    source = MetricsSourceSpec("prom", "http://127.0.0.1:9", timeout=2.0)
    verdict = await evaluate(parse(metric("up") + " < 1"), PromContext(source, prometheus.now))  # type: ignore[arg-type]
    assert verdict.value is None and "cannot reach http://127.0.0.1:9" in verdict.detail


async def test_range_query_returns_the_points(prometheus: Prometheus, ns: str) -> None:
    async with PrometheusClient(_source(prometheus)) as client:
        res = await client.range(f'http_requests_total{{ns="{ns}",version="v2",code="200"}}',
                                 prometheus.now - 60, prometheus.now, 15)
    [series] = res.series
    assert [p[0] - prometheus.now for p in series.points] == [-60, -45, -30, -15, 0]
    assert [p[1] for p in series.points] == [54000, 55500, 57000, 58500, 60000]


# --------------------------------------------------------------------------- placeholders and escaping

@pytest.mark.parametrize("value", ['a"b', "back\\slash", "new\nline", "ünï\u202ecode", '"} or vector(1) #',
                                   "\\\"}", "tab\tand\x01ctl"])
def test_promql_string_round_trips_every_value(value: str) -> None:
    from cockpit.metrics import decode_string

    literal = promql_string(value)
    assert decode_string(literal) == value
    assert "\n" not in literal and literal.count('"') - literal.count('\\"') == 2


async def test_a_placeholder_value_cannot_break_out_of_its_label_matcher(prometheus: Prometheus) -> None:
    ns = namespace("esc")
    nasty = 'db"} or vector(42) # \\ \n é'
    om = prometheus.om()
    om.gauge("escape_probe", {"ns": ns, "host": nasty}, [(-5, 7)])
    om.gauge("escape_probe", {"ns": ns, "host": "db"}, [(-5, 99)])
    prometheus.backfill(om)
    query = substitute(f'escape_probe{{ns="{ns}",host="{{host}}"}}', {"host": nasty})
    [only] = prometheus.query(query)
    assert only["value"][1] == "7" and only["metric"]["host"] == nasty  # type: ignore[index]
    regex = substitute(f'escape_probe{{ns="{ns}",host=~"{{host}}"}}', {"host": "d."})
    assert prometheus.query(regex) == []  # "d." is literal in a regex matcher: it matches neither "db" nor the rest
    verdict = await judge(prometheus, metric(f'escape_probe{{ns="{ns}",host="{{host}}"}}') + " < 10",
                          hosts={nasty: "10.0.0.1"})
    assert verdict.value is True and len(verdict.series) == 1, verdict.detail


async def test_live_scrape_of_an_exporter_end_to_end(prometheus: Prometheus, prom_exporter: object) -> None:
    """The one live test: prometheus-client exports, Prometheus scrapes (1 s), metric() judges it fresh."""
    import asyncio
    import time

    from prometheus_client import Counter
    from prom import Exporter

    assert isinstance(prom_exporter, Exporter)
    ns = namespace("live")
    served = Counter("live_requests", "requests served", ["ns", "version"], registry=prom_exporter.registry)
    served.labels(ns, "v2").inc(7)
    prometheus.scrape(ns, prom_exporter.target)
    try:
        source = MetricsSourceSpec("prom", prometheus.url, scrape_interval=prometheus.scrape_interval)
        cond = parse(metric(f'sum by (version) (live_requests_total{{ns="{ns}"}})') + " >= 7")
        deadline = time.monotonic() + 30
        verdict = Verdict(None, "not judged")
        while verdict.value is not True and time.monotonic() < deadline:
            verdict = await evaluate(cond, PromContext(source, time.time()))  # type: ignore[arg-type]
            await asyncio.sleep(0.25)
        assert verdict.value is True, verdict.detail
        assert '7 {version="v2"}' in verdict.detail
    finally:
        prometheus.unscrape(ns)


async def test_tls_is_verified_and_a_private_ca_file_is_trusted(tmp_path: pytest.TempPathFactory) -> None:
    from test_http_checks import make_cert, server_context

    ca = make_cert(tmp_path, "ca", 30, ca=True, names=())  # type: ignore[arg-type]
    leaf = make_cert(tmp_path, "prom", 30, issuer=ca)  # type: ignore[arg-type]
    body = {"status": "success", "data": {"resultType": "scalar", "result": [100.0, "3"]}}
    server = HttpServer(tls=server_context(leaf)).start()
    try:
        server.route("/api/v1/query", body=json.dumps(body), headers={"Content-Type": "application/json"})
        base = server.url("/").rstrip("/")
        strict = MetricsSourceSpec("prom", base, timeout=5)
        verdict = await evaluate(parse(metric("scalar(vector(3))") + " == 3"), PromContext(strict, 100.0))  # type: ignore[arg-type]
        assert verdict.value is None and "CERTIFICATE_VERIFY_FAILED" in verdict.detail, verdict.detail
        trusted = MetricsSourceSpec("prom", base, ca_file=str(ca.cert_file), timeout=5)
        verdict = await evaluate(parse(metric("scalar(vector(3))") + " == 3"), PromContext(trusted, 100.0))  # type: ignore[arg-type]
        assert verdict.value is True, verdict.detail
        lax = MetricsSourceSpec("prom", base, verify_tls=False, timeout=5)
        verdict = await evaluate(parse(metric("scalar(vector(3))") + " == 3"), PromContext(lax, 100.0))  # type: ignore[arg-type]
        assert verdict.value is True, verdict.detail
    finally:
        server.stop()


async def test_a_secret_address_in_a_series_label_is_masked(prometheus: Prometheus) -> None:
    """{address} from ${ENV} is a secret: the query may use it, the verdict and its series never show it."""
    ns = namespace("secret")
    secret = "10.9.8.7"
    prometheus.backfill(prometheus.om().gauge("secret_probe", {"ns": ns, "instance": f"{secret}:9100"}, [(-5, 1)]))
    verdict = await judge(prometheus, metric(f'secret_probe{{ns="{ns}",instance="{{address}}:9100"}}') + " > 0",
                          hosts={"db1": secret}, secrets=(secret,))
    assert verdict.value is True, verdict.detail
    assert secret not in verdict.detail and all(secret not in v.series for v in verdict.series)
    assert 'instance="***:9100"' in verdict.detail
