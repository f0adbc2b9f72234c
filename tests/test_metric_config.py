"""[metrics.NAME] and metric() in the config: bad input is exit 2 with file, line, key and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from promtraffic import LOCAL_FLEET

from cockpit.config import load_config
from cockpit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]

BASE = LOCAL_FLEET.replace("{", "{{").replace("}", "}}") + """
[metrics.prom]
prometheus = "http://127.0.0.1:9090"
{source}

[[phases]]
id = "canary"
gate = [{gate}]
{analysis}
"""


def validate(tmp_path: Path, gate: str, source: str = "", analysis: str = "",
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``cockpit validate`` as a user runs it (a process: exit status, no traceback)."""
    path = tmp_path / "cockpit.toml"
    path.write_text(BASE.format(gate=gate, source=source, analysis=analysis))
    full = {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cockpit", "validate", str(path)], capture_output=True, text=True,
                          check=False, timeout=60, env=full, cwd=tmp_path)


def load(tmp_path: Path, gate: str, source: str = "", analysis: str = "") -> str:
    """What validate would print (the issues, or the warnings of a valid config), in process: ~5x faster."""
    path = tmp_path / "cockpit.toml"
    path.write_text(BASE.format(gate=gate, source=source, analysis=analysis))
    try:
        return "\n".join(load_config(path, env={}).notes)
    except ConfigError as exc:
        return "ERROR " + str(exc)


def test_a_valid_metric_gate_with_analysis_validates(tmp_path: Path) -> None:
    gate = """'''metric('sum(rate(x{phase="{phase}",instance="{address}:9100"}[1m]))', source="prom") < 0.1%'''"""
    res = validate(tmp_path, gate, 'bearer_token = "${PROM_TOKEN}"', "[phases.analysis]\ncount = 3",
                   env={"PROM_TOKEN": "t0ken-value"})
    assert res.returncode == 0, res.stdout + res.stderr
    assert "t0ken-value" not in res.stdout + res.stderr


def test_a_placeholder_outside_a_label_value_is_refused(tmp_path: Path) -> None:
    res = validate(tmp_path, """'''metric('rate(x{job="a"}[{phase}])') < 1'''""")
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert ":15: [phases.canary.gate]" in res.stderr
    assert "{phase} at col" in res.stderr and "stands outside a label matcher's quoted value" in res.stderr
    assert "fix: placeholders are substituted as escaped PromQL strings" in res.stderr


def test_a_placeholder_in_a_string_that_is_no_label_value_is_refused(tmp_path: Path) -> None:
    out = load(tmp_path, """'''metric('label_replace(up, "h", "{host}", "", "")') < 1'''""")
    assert out.startswith("ERROR") and "{host} at col" in out


def test_step_is_not_known_in_a_gate(tmp_path: Path) -> None:
    out = load(tmp_path, """'''metric('up{step="{step}"}') < 1'''""")
    assert out.startswith("ERROR") and "{step} is not known here" in out


def test_an_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    out = load(tmp_path, """'''metric('up', source="promx") < 1'''""")
    assert "names no metrics source 'promx'; known: prom" in out and "did you mean 'prom'?" in out


def test_a_literal_bearer_token_is_refused(tmp_path: Path) -> None:
    out = load(tmp_path, """'''metric('up') < 1'''""", 'bearer_token = "abc123"')
    assert out.startswith("ERROR") and "[metrics.prom.bearer_token]" in out
    assert 'bearer_token = "${PROM_TOKEN}"' in out


def test_min_count_without_a_count_query_is_a_parse_error(tmp_path: Path) -> None:
    out = load(tmp_path, """'''metric('up') < 1 min_count 5'''""")
    assert out.startswith("ERROR") and "min_count needs the count of requests" in out


def test_analysis_keys_are_checked(tmp_path: Path) -> None:
    out = load(tmp_path, """'''metric('up') < 1'''""", analysis="[phases.analysis]\ncount = 0\nfailure_limt = 1")
    assert "[phases.canary.analysis.count]" in out and "did you mean 'failure_limit'?" in out


def test_hold_beside_an_analysis_is_a_warning(tmp_path: Path) -> None:
    out = load(tmp_path, """'''metric('up') < 1'''""", analysis='hold = "5m"\n[phases.analysis]\ncount = 2')
    assert not out.startswith("ERROR") and "hold is not used" in out
