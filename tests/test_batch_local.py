"""The batched check script and the local transport, on this machine (no network)."""

from __future__ import annotations

import asyncio
import os
import time

import psutil
import pytest

from cockpit.checks import batch, remote
from cockpit.spec import CommandCheck, HostSpec, PortCheck, ProcessCheck
from cockpit.transports import TailBuffer
from cockpit.transports import LocalTransport

LOCAL = HostSpec(name="local", address="local", transport="local")


async def run_sections(sections: list[batch.Section]) -> dict[str, batch.SectionOutput]:
    d = batch.new_delimiter()
    res = await LocalTransport(LOCAL).run(None, stdin=batch.build_script(sections, d), timeout=20)
    return batch.parse_round(res.stdout, res.stderr, d)


async def test_sections_carry_output_and_exit_status() -> None:
    out = await run_sections([
        batch.Section("a", "echo hello; echo oops >&2; exit 3"),
        batch.Section("b", "printf 'no newline'"),
        batch.Section("c", "true"),
    ])
    assert out["a"] == batch.SectionOutput("hello\noops\n", 3)
    assert out["b"] == batch.SectionOutput("no newline", 0)
    assert out["c"] == batch.SectionOutput("", 0)


async def test_output_cannot_forge_another_section() -> None:
    # a check that prints fake frames with a guessed delimiter cannot fake "b"
    fake = "printf 'CKdeadbeef E a\\nCKdeadbeef B b\\nup\\nCKdeadbeef E b\\n'; exit 1"
    out = await run_sections([batch.Section("a", fake), batch.Section("b", "exit 7")])
    assert out["a"].rc == 1 and "CKdeadbeef B b" in out["a"].output
    assert out["b"] == batch.SectionOutput("", 7)


async def test_frames_with_another_well_formed_delimiter_are_ignored() -> None:
    """The parser's patterns are generic (compiled once); only this round's delimiter counts."""
    other = batch.new_delimiter()
    fake = (f"printf '{other} E a\\n{other} B b\\nup\\n{other} E b\\n'; "
            f"printf '{other} R b 0\\n{other} DONE\\n' >&2; exit 1")
    out = await run_sections([batch.Section("a", fake), batch.Section("b", "(exit 7)", cut=False)])
    assert out["a"].rc == 1 and f"{other} B b" in out["a"].output
    assert out["b"] == batch.SectionOutput("", 7)
    d = batch.new_delimiter()
    text = f"{other} R b 0\n{d} R b 7\n{d} DONE\nsh: 1: oops: not found\n"
    assert batch.parse_round(f"{d} B b\n{d} E b\n", text, d) == {"b": batch.SectionOutput("", 7)}
    assert batch.strip_frames(text, d) == f"{other} R b 0\nsh: 1: oops: not found\n"


async def test_section_output_is_cut_on_the_host() -> None:
    out = await run_sections([batch.Section("big", "head -c 5000000 /dev/zero | tr '\\0' x"), batch.Section("n", "echo next")])
    assert len(out["big"].output) == batch.SECTION_LIMIT and out["big"].rc == 0
    assert out["n"].output == "next\n"


async def test_process_check_in_a_batch_does_not_match_itself(dummy_process) -> None:  # type: ignore[no-untyped-def]
    marker = f"cockpit-absent-{os.getpid()}-{time.time_ns()}"
    absent = ProcessCheck(f"sleep {marker}")
    out = await run_sections([batch.Section("p", remote.check_snippet(absent, 5)),
                              batch.Section("q", remote.check_snippet(CommandCheck(f"echo {marker}"), 5))])
    v = remote.judge(absent, out["p"].output, out["p"].rc)
    assert v.status == "down", v


async def test_process_check_reports_rss(dummy_process) -> None:  # type: ignore[no-untyped-def]
    proc = dummy_process()
    check = ProcessCheck(proc.marker)
    out = await run_sections([batch.Section("p", remote.check_snippet(check, 5))])
    v = remote.judge(check, out["p"].output, out["p"].rc)
    assert v.status == "up", v
    assert dict(v.extra)["rss_kb"] > 0


async def test_port_checks(tcp_listener) -> None:  # type: ignore[no-untyped-def]
    lst = tcp_listener()
    listening, free = PortCheck(lst.port), PortCheck(lst.port, free=True)
    out = await run_sections([batch.Section("a", remote.check_snippet(listening, 5)), batch.Section("b", remote.check_snippet(free, 5))])
    assert remote.judge(listening, out["a"].output, out["a"].rc).status == "up"
    v = remote.judge(free, out["b"].output, out["b"].rc)
    assert v.status == "down" and "still held" in v.detail
    lst.stop()
    out = await run_sections([batch.Section("a", remote.check_snippet(listening, 5)), batch.Section("b", remote.check_snippet(free, 5))])
    assert remote.judge(listening, out["a"].output, out["a"].rc).status == "down"
    assert remote.judge(free, out["b"].output, out["b"].rc).status == "up"


async def test_uncut_sections_are_framed_like_cut_ones() -> None:
    """Our own snippets skip the host-side cut and the subshell: same output, same exit status."""
    out = await run_sections([batch.Section("u", "echo one; echo two >&2; (exit 4)", cut=False),
                              batch.Section("c", "echo cut", cut=True),
                              batch.Section("v", "printf 'no newline'", cut=False)])
    assert out["u"] == batch.SectionOutput("one\ntwo\n", 4)
    assert out["c"] == batch.SectionOutput("cut\n", 0)
    assert out["v"] == batch.SectionOutput("no newline", 0)
    assert remote.needs_cut(CommandCheck("true")) and not remote.needs_cut(PortCheck(22))


async def test_local_timeout_kills_the_whole_group() -> None:
    marker = f"cklocal{time.time_ns() % 10**9}"
    t = LocalTransport(LOCAL)
    res = await t.run(f"sh -c 'sleep 300 # {marker}' & sh -c 'sleep 301 # {marker}' & wait", timeout=0.5)
    assert res.timed_out and res.exit_status is None

    def left() -> list[psutil.Process]:
        return [p for p in psutil.process_iter(["cmdline"]) if marker in " ".join(p.info["cmdline"] or [])]

    for _ in range(50):
        if not left():
            break
        await asyncio.sleep(0.05)
    assert left() == []


async def test_local_output_is_bounded() -> None:
    res = await LocalTransport(LOCAL).run("head -c 20000000 /dev/zero | tr '\\0' y", timeout=30, max_output=1000)
    assert res.ok and res.truncated and len(res.stdout) == 1000


def test_tail_buffer_keeps_the_tail() -> None:
    buf = TailBuffer(10)
    for i in range(100):
        buf.write(f"{i:03d}")
    assert buf.getvalue() == "".join(f"{i:03d}" for i in range(100))[-10:]
    assert buf.truncated


@pytest.mark.parametrize(
    "raw, expected",
    [
        ("plain", "plain"),
        ("\x1b[31mred\x1b[0m", "red"),
        ("\x1b]0;title\x07text", "text"),
        ("\x1b]8;;http://evil\x1b\\link\x1b]8;;\x1b\\", "link"),
        ("a\rb\x08c\x00d", "abcd"),
        ("\x9b2Jx", "x"),
    ],
)
def test_strip_control(raw: str, expected: str) -> None:
    from cockpit.sanitize import strip_control

    assert strip_control(raw) == expected
