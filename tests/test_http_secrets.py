"""Issue 14, findings 4 and 5: HTTP credentials from ``${ENV}`` never leave their origin or leak in errors.

Real loopback HTTP servers; the config is loaded with the secret in the environment.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from cockpitcfg import write_config
from test_http_checks import one_round, servers, service, start  # noqa: F401  (the servers fixture)


async def test_env_headers_do_not_follow_a_redirect_to_another_origin(  # type: ignore[no-untyped-def]
        fleet, tmp_path: Path, httpd, servers, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    monkeypatch.setenv("SIG", "sig-s3cr3t")
    other = start(servers)
    other.route("/landing", body="elsewhere")
    httpd.route("/away", status=302, headers={"Location": other.url("/landing")})
    headers = {"X-Sig": "${SIG}", "X-Probe": "cockpit"}
    r = await one_round(write_config(tmp_path, fleet, service("away", http=httpd.url("/away"), follow_redirects=True,
                                                              headers=headers), hosts=["h1"]))
    assert r["away"].status == "up", r["away"].detail
    first = [q for q in httpd.requests if q.path == "/away"]
    landed = [q for q in other.requests if q.path == "/landing"]
    assert first and first[0].headers.get("X-Sig") == "sig-s3cr3t"
    assert landed and "X-Sig" not in landed[0].headers and landed[0].headers.get("X-Probe") == "cockpit"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def cockpit(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> Callable[..., Ran]:
    """The ``cockpit`` command in this process (a traceback would fail the test as an exception)."""
    from cockpit.cli import main

    def run(*args: str, env: dict[str, str]) -> Ran:
        monkeypatch.delenv("COCKPIT_CONFIG", raising=False)
        for name, value in env.items():
            monkeypatch.setenv(name, value)
        capsys.readouterr()
        code = main(list(args))
        out = capsys.readouterr()
        return Ran(code, out.out, out.err)

    return run


@pytest.mark.parametrize("secret, what", [("line1-SECRETPART\nline2-MORE", "line break"),
                                          ("s3cr3t-M\u00fcller-TOKEN", "non-ASCII"),
                                          ("tab\tSECRETPART\x7f", "control")])
@pytest.mark.parametrize("command", ["validate", "check"])
def test_bad_header_values_are_config_errors_that_never_show_the_secret(
        tmp_path: Path, cockpit: Callable[..., Ran], secret: str, what: str, command: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[hosts.h1]\naddress = "127.0.0.1"\n[services.web]\non = ["h1"]\nhttp = "http://127.0.0.1:1/"\n'
                    'headers = { Authorization = "Bearer ${TOK}" }\n')
    out = cockpit(command, "-c", str(path), env={"TOK": secret})
    assert out.returncode == 2, out
    assert "Traceback" not in out.stderr and "services.web.headers.Authorization" in out.stderr, out.stderr
    assert what in out.stderr, out.stderr
    for part in ("SECRETPART", "M\u00fcller", "line2", "\\n"):
        assert part not in out.stdout + out.stderr, out.stderr


def test_url_with_a_tab_is_a_config_error(tmp_path: Path, cockpit: Callable[..., Ran]) -> None:
    path = tmp_path / "c.toml"
    path.write_text('[hosts.h1]\naddress = "127.0.0.1"\n[services.web]\non = ["h1"]\nhttp = "http://127.0.0.1:1/a\\tb"\n')
    out = cockpit("check", "-c", str(path), env={})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "services.web.http" in out.stderr and "c.toml:5" in out.stderr, out.stderr


@pytest.mark.parametrize("where", ["toml", "yaml"])
def test_input_nested_1000_deep_is_a_config_error(tmp_path: Path, cockpit: Callable[..., Ran], where: str) -> None:
    path = tmp_path / "c.toml"
    if where == "toml":
        path.write_text('[hosts.h1]\naddress = "127.0.0.1"\n[cockpit]\nphases = ' + "[" * 1000 + "]" * 1000 + "\n")
    else:
        (tmp_path / "hosts.yml").write_text("all:\n  vars:\n    x: " + "[" * 1000 + "]" * 1000 + "\n")
        path.write_text('[inventory]\nansible = "hosts.yml"\n')
    out = cockpit("validate", str(path), env={})
    assert out.returncode == 2 and "Traceback" not in out.stderr, out.stderr
    assert "nested too deep" in out.stderr, out.stderr


def test_redactor_masks_escaped_repr_and_line_forms() -> None:
    from cockpit.secrets import Redactor

    red = Redactor(["line1-SECRETPART\nline2-MORE", "s3cr3t-M\u00fcller-TOKEN"])
    texts = [
        "LocalProtocolError: Illegal header value b'Bearer line1-SECRETPART\\nline2-MORE'",
        repr("Bearer line1-SECRETPART\nline2-MORE"),
        "internal error: UnicodeEncodeError('ascii', 'Bearer s3cr3t-M\u00fcller-TOKEN', 14, 15)",
        repr("s3cr3t-M\u00fcller-TOKEN".encode()),
        '{"h": "Bearer s3cr3t-M\\u00fcller-TOKEN"}',
        "first line: line1-SECRETPART",
    ]
    for text in texts:
        masked = red.redact(text)
        assert "SECRETPART" not in masked and "M\u00fcller" not in masked and "xc3" not in masked \
            and "u00fc" not in masked, masked


async def test_internal_error_text_is_redacted(tmp_path: Path) -> None:
    """A bug in a round shows as "internal error: ..." in the host detail: never with a secret in it."""
    import asyncio
    import time

    from cockpit.config import load_config
    from cockpit.engine import Engine

    secret = "s3cr3t-M\u00fcller-TOKEN"
    path = tmp_path / "c.toml"
    path.write_text('[cockpit]\ninterval = "0.2s"\n[hosts.h1]\ntransport = "local"\naddress = "${ADDR}"\n')
    engine = Engine(load_config(path, env={"ADDR": secret}))

    async def broken(name: str) -> None:
        raise UnicodeEncodeError("ascii", f"Bearer {secret}", 8, 9, "ordinal not in range(128)")

    engine.round_host = broken  # type: ignore[method-assign]
    async with engine:
        await engine.start()
        deadline = time.monotonic() + 10
        while not engine.pollers["h1"].state.error and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
    error = engine.pollers["h1"].state.error
    assert error.startswith("internal error: UnicodeEncodeError") and "***" in error, error
    assert "M\u00fcller" not in error and "xfc" not in error, error
