"""[metrics.NAME] and metric() in the config: bad input is exit 2 with file, line, key and the fix."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from promtraffic import LOCAL_FLEET

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
    path = tmp_path / "cockpit.toml"
    path.write_text(BASE.format(gate=gate, source=source, analysis=analysis))
    full = {"PATH": os.environ.get("PATH", "/usr/bin"), "PYTHONPATH": str(ROOT), **(env or {})}
    return subprocess.run([sys.executable, "-m", "cockpit", "validate", str(path)], capture_output=True, text=True,
                          check=False, timeout=60, env=full, cwd=tmp_path)


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
    res = validate(tmp_path, """'''metric('label_replace(up, "h", "{host}", "", "")') < 1'''""")
    assert res.returncode == 2 and "{host} at col" in res.stderr


def test_step_is_not_known_in_a_gate(tmp_path: Path) -> None:
    res = validate(tmp_path, """'''metric('up{step="{step}"}') < 1'''""")
    assert res.returncode == 2 and "{step} is not known here" in res.stderr


def test_an_unknown_source_names_the_known_ones(tmp_path: Path) -> None:
    res = validate(tmp_path, """'''metric('up', source="promx") < 1'''""")
    assert res.returncode == 2
    assert "names no metrics source 'promx'; known: prom" in res.stderr and "did you mean 'prom'?" in res.stderr


def test_a_literal_bearer_token_is_refused(tmp_path: Path) -> None:
    res = validate(tmp_path, """'''metric('up') < 1'''""", 'bearer_token = "abc123"')
    assert res.returncode == 2 and "[metrics.prom.bearer_token]" in res.stderr
    assert 'bearer_token = "${PROM_TOKEN}"' in res.stderr


def test_min_count_without_a_count_query_is_a_parse_error(tmp_path: Path) -> None:
    res = validate(tmp_path, """'''metric('up') < 1 min_count 5'''""")
    assert res.returncode == 2 and "min_count needs the count of requests" in res.stderr


def test_analysis_keys_are_checked(tmp_path: Path) -> None:
    res = validate(tmp_path, """'''metric('up') < 1'''""", analysis="[phases.analysis]\ncount = 0\nfailure_limt = 1")
    assert res.returncode == 2
    assert "[phases.canary.analysis.count]" in res.stderr and "did you mean 'failure_limit'?" in res.stderr


def test_hold_beside_an_analysis_is_a_warning(tmp_path: Path) -> None:
    res = validate(tmp_path, """'''metric('up') < 1'''""", analysis='hold = "5m"\n[phases.analysis]\ncount = 2')
    assert res.returncode == 0, res.stderr
    assert "hold is not used" in res.stdout + res.stderr
