"""cpu(S)/mem(S) of a service, load1/load5/cores/disk of hosts: parsed, rendered, judged, and validated."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_conditions import FakeCtx, judge
from test_config import issues_of, load_text

from cockpit.conditions import (
    ConditionError,
    DiskStat,
    HostStat,
    LoadStat,
    Quantity,
    ServiceUsage,
    Target,
    parse,
    references,
    render,
)
from cockpit.model import CheckResult, Load, Usage

MB = 1024 * 1024


@pytest.mark.parametrize(("text", "node"), [
    ("cpu(api@tag:eu) < 50%", ServiceUsage("cpu", Target("api", "tag:eu"), "<", Quantity(50, "%"))),
    ("mem(api@web*) < 200MB", ServiceUsage("mem", Target("api", "web*"), "<", Quantity(200, "MB"))),
    ("mem(api) < 200MB", LoadStat("mem", "api", "<", Quantity(200, "MB"))),
    ("load1(tag:eu) < 4", HostStat("load1", "tag:eu", "<", Quantity(4))),
    ("load5(all) / cores(all) < 2", HostStat("load5", "all", "<", Quantity(2), per_core=True)),
    ("cores(db*) >= 2", HostStat("cores", "db*", ">=", Quantity(2))),
    ('disk(tag:eu, "/var/lib") < 90%', DiskStat("tag:eu", "/var/lib", "<", Quantity(90, "%"))),
])
def test_resource_functions_parse_and_render_back(text: str, node: object) -> None:
    assert parse(text) == node
    assert parse(render(parse(text))) == node


@pytest.mark.parametrize(("text", "fragment"), [
    ("load1(all) / cores(web*) < 2", 'expected the same selector as load1(), "all", got "web*"'),
    ("load1(all) / 2 < 1", '"cores(all)" after "/"'),
    ("load1(all) < 50%", "expected a plain number for load1()"),
    ("cores(all) / cores(all) < 1", "expected a comparison (< <= > >= == !=) after cores(all)"),
    ('disk(all, "var") < 90%', "expected an absolute path"),
    ("disk(all) < 90%", '"," and a quoted path'),
    ("cpu(api@all) < 200MB", "expected a percentage such as 0.5% for cpu()"),
    ("mem(api) < 200", "a percentage such as 90% or a size such as 200MB for mem()"),
])
def test_resource_function_mistakes_name_what_was_expected(text: str, fragment: str) -> None:
    with pytest.raises(ConditionError) as info:
        parse(text)
    assert fragment in info.value.reason


def test_references_tell_services_from_selectors_and_collect_disks() -> None:
    refs = references(parse('cpu(api) < 50% and mem(api@tag:eu) < 1GB and disk(web*, "/var") < 90% and load1(db1) < 4'))
    assert refs.resources == {("cpu", "api", False), ("mem", "api", True)}
    assert refs.services == {"api"}
    assert refs.disks == {("web*", "/var")}
    assert {"tag:eu", "web*", "db1"} <= refs.selectors


def usage_result(service: str, host: str, cpu: float | None, mem: int | None, note: str = "") -> CheckResult:
    return CheckResult(service=service, host=host, kind="docker", status="up", detail="running", latency=None, at=0.0,
                       usage=Usage(at=0.0, cpu=cpu, cpu_host=None if cpu is None else cpu / 4, mem=mem,
                                   via="cgroup v1", note=note))


def service_ctx() -> FakeCtx:
    ctx = FakeCtx(hosts={"db1": ("eu",), "db2": ("us",)}, services={"mongodb": ["db1", "db2"]})
    ctx.results[("mongodb", "db1")] = usage_result("mongodb", "db1", 37.5, 180 * MB)
    ctx.results[("mongodb", "db2")] = usage_result("mongodb", "db2", 80.0, 1300 * MB)
    ctx.loads = {"db1": Load(at=0, mem=50.0, mem_total_kb=4 * 1024 * 1024, ncpu=4, load1=7.41, load5=3.0,
                             disks=(("/", 40.0), ("/var/lib/mongodb", 93.5))),
                 "db2": Load(at=0, mem=20.0, mem_total_kb=4 * 1024 * 1024, ncpu=2, load1=1.0, load5=0.5,
                             disks=(("/", 10.0),))}
    return ctx


async def test_a_services_own_cpu_and_memory_decide_per_host() -> None:
    ctx = service_ctx()
    v = await judge("mem(mongodb) < 200MB", ctx)
    assert v.value is False and "1.27 GB on db2" in v.detail and "limit < 200 MB" in v.detail
    v = await judge("mem(mongodb@tag:eu) < 200MB", ctx)
    assert v.value is True and v.detail == "mem(mongodb@tag:eu) = 180 MB on 1 host(s), limit < 200 MB"
    v = await judge("cpu(mongodb@db1) < 50%", ctx)
    assert v.value is True and "37.5% (of one core)" in v.detail
    v = await judge("cpu(mongodb) < 50%", ctx)
    assert v.value is False and "80% (of one core) on db2" in v.detail
    v = await judge("mem(mongodb@db1) < 5%", ctx)  # 180 MB of 4 GB: 4.39 %
    assert v.value is True and "4.39%" in v.detail


async def test_a_missing_service_figure_is_inconclusive_with_the_readings_reason() -> None:
    ctx = service_ctx()
    ctx.results[("mongodb", "db2")] = usage_result("mongodb", "db2", None, None, "CPU needs a second reading")
    v = await judge("cpu(mongodb) < 50%", ctx)
    assert v.value is None and "no CPU figure from db2 (CPU needs a second reading)" in v.detail
    ctx.reach["db1"] = False
    v = await judge("mem(mongodb@db1) < 1GB", ctx)
    assert v.value is None and "db1 unreachable" in v.detail


async def test_load_per_core_cores_and_disk() -> None:
    ctx = service_ctx()
    v = await judge("load1(db1) < 4", ctx)
    assert v.value is False and v.detail == "load1(db1): 7.41 on db1, limit < 4"
    v = await judge("load1(all) / cores(all) < 2", ctx)  # 7.41 / 4 = 1.85; 1.0 / 2 = 0.5
    assert v.value is True and v.detail == "load1(all) / cores(all) = 0.5..1.8525 on 2 host(s), limit < 2"
    assert (await judge("load5(tag:us) < 1", ctx)).value is True
    assert (await judge("cores(all) >= 4", ctx)).value is False
    v = await judge('disk(db1, "/var/lib/mongodb/data") < 90%', ctx)  # the mount holding the path
    assert v.value is False and "93.5% on db1" in v.detail
    v = await judge('disk(db2, "/var/lib/mongodb") < 90%', ctx)  # on db2 it lies on /
    assert v.value is True and "10%" in v.detail
    ctx.loads["db2"] = Load(at=0, note="load not supported on FreeBSD", supported=False)
    v = await judge("load1(db2) < 4", ctx)
    assert v.value is None and "load not supported on FreeBSD" in v.detail
    v = await judge("cores(db2) >= 1", ctx)
    assert v.value is None and "CPU count unknown on db2" in v.detail


# --------------------------------------------------------------------------- validate

_FLEET = """
[hosts.db1]
address = "10.0.0.1"
mounts = ["/", "/var/lib/mongodb"]
[hosts.db2]
address = "10.0.0.2"
[services.mongodb]
on = ["all"]
docker = "mongodb"
[services.api]
on = ["all"]
http = "http://10.0.0.1/health"
[services.agent]
on = ["all"]
process = "agent"
[services.db2]
on = ["db1"]
systemd = "postgresql"
"""


def gate(*conds: str) -> str:
    return _FLEET + '[[phases]]\nid = "p"\ngate = [' + ", ".join(f"'{c}'" for c in conds) + "]\n"


def test_validate_accepts_resource_functions_on_kinds_that_have_them(tmp_path: Path) -> None:
    cfg = load_text(tmp_path, gate("mem(mongodb) < 200MB", "cpu(agent) < 50%", "rss(agent) < 1GB",
                                   "load1(all) / cores(all) < 2", 'disk(db1, "/var/lib/mongodb") < 90%',
                                   "cpu(db2@all) < 90%"))
    assert len(cfg.runbook.phases[0].gate) == 6


def test_validate_rejects_a_resource_function_on_a_kind_without_resources(tmp_path: Path) -> None:
    text = issues_of(tmp_path, gate("cpu(api) < 50%"))
    assert "cpu(api) reads a service's cgroup or processes on its host, but 'api' is a http check" in text
    assert "names no process on a host" in text and "point cpu() at a systemd, docker, compose, pm2 or process" in text
    assert "selector 'api' matches no host" not in text  # it was read as the service, not as hosts


def test_validate_rejects_a_name_that_is_a_service_and_a_host(tmp_path: Path) -> None:
    text = issues_of(tmp_path, gate("mem(db2) < 1GB"))
    assert "mem(db2) is ambiguous: 'db2' is a service and also selects hosts" in text
    assert "write mem(db2@all) for the service" in text


def test_validate_rejects_a_disk_path_no_host_samples(tmp_path: Path) -> None:
    text = issues_of(tmp_path, gate('disk(all, "/var/lib/mongodb") < 90%'))
    assert "'/var/lib/mongodb' is not among the mounts of db2" in text
    assert 'add "/var/lib/mongodb" to mounts of [hosts.db2]' in text


def test_rss_stays_for_process_checks_only(tmp_path: Path) -> None:
    assert "rss() needs a process service, 'mongodb' is docker" in issues_of(tmp_path, gate("rss(mongodb) < 1GB"))
