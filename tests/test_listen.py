"""The listen address and token rules shared by the metrics endpoint and the browser view."""

from __future__ import annotations

from pathlib import Path

import pytest

from cockpit.errors import UsageError
from cockpit.listen import authorized, is_loopback, load_token, parse_listen, require_token


def test_parse_listen_forms_and_errors() -> None:
    assert parse_listen("127.0.0.1:9", 8765) == ("127.0.0.1", 9)
    assert parse_listen(":9", 8765) == ("127.0.0.1", 9)
    assert parse_listen("0.0.0.0", 8765) == ("0.0.0.0", 8765)
    assert parse_listen("[::1]:9", 8765) == ("::1", 9)
    with pytest.raises(UsageError, match="port must be a number"):
        parse_listen("127.0.0.1:http", 8765)


def test_loopback_needs_no_token_anything_else_does() -> None:
    assert is_loopback("127.0.0.5") and is_loopback("::1") and is_loopback("localhost")
    assert not is_loopback("0.0.0.0") and not is_loopback("10.0.0.1") and not is_loopback("example.org")
    require_token("127.0.0.1", None)
    with pytest.raises(UsageError, match=r"beyond loopback\) needs a token"):
        require_token("0.0.0.0", None)
    require_token("0.0.0.0", "t")


def test_token_from_env_or_owner_only_file(tmp_path: Path) -> None:
    assert load_token("TOK", None, {"TOK": " s3cret\n"}) == "s3cret"
    with pytest.raises(UsageError, match="TOK is not set"):
        load_token("TOK", None, {})
    f = tmp_path / "token"
    f.write_text("filetoken\n")
    f.chmod(0o644)
    with pytest.raises(UsageError, match="readable by others") as e:
        load_token(None, str(f))
    assert "filetoken" not in str(e.value)
    f.chmod(0o600)
    assert load_token(None, str(f)) == "filetoken"
    with pytest.raises(UsageError, match="not both"):
        load_token("TOK", str(f), {"TOK": "x"})
    assert load_token(None, None) is None


def test_authorized_needs_the_exact_bearer_token() -> None:
    assert authorized(None, None)
    assert authorized("Bearer abc", "abc") and authorized("bearer abc", "abc")
    assert not authorized(None, "abc") and not authorized("Bearer abd", "abc") and not authorized("abc", "abc")
