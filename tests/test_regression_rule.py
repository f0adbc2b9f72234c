"""The latency regression rule (cockpit.baseline.latency_shift): a shift, never noise.

The noisy and shifted series are real: recorded by bench/record_noise.py with the cockpit's own
prober against a loopback server while a CPU hog shared the prober's core (tests/data/).
"""

from __future__ import annotations

import itertools
import json
import math
import random
from pathlib import Path

import pytest

from cockpit.baseline import ALPHA, RULE_MIN_SAMPLES, latency_shift, mann_whitney_greater, median

SERIES = json.loads((Path(__file__).parent / "data" / "latency_series.json").read_text())


def _exact_p(base: list[float], current: list[float]) -> float:
    """P(U >= u) under H0 by counting every split of the pooled values (no ties)."""
    pooled = sorted(base + current)
    n1 = len(current)
    u_obs = sum(1 for c in current for b in base if c > b)
    hits = total = 0
    for idx in itertools.combinations(range(len(pooled)), n1):
        chosen = set(idx)
        cur = [pooled[i] for i in idx]
        bas = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        u = sum(1 for c in cur for b in bas if c > b)
        hits += u >= u_obs
        total += 1
    return hits / total


@pytest.mark.parametrize("shift", [0.0, 0.5, 1.0, 2.0])
def test_the_p_value_matches_the_exact_distribution(shift: float) -> None:
    rng = random.Random(7)
    base = [rng.gauss(10, 1) for _ in range(7)]
    current = [rng.gauss(10 + shift, 1) for _ in range(7)]
    assert mann_whitney_greater(base, current) == pytest.approx(_exact_p(base, current), abs=0.03)


def test_ties_and_identical_series() -> None:
    assert mann_whitney_greater([5.0] * 30, [5.0] * 30) == 1.0
    p = mann_whitney_greater([1, 1, 2, 2, 3, 3] * 5, [2, 2, 3, 3, 4, 4] * 5)
    assert 0 < p < 0.01
    assert mann_whitney_greater([1, 2, 3] * 10, [1, 2, 3] * 10) == pytest.approx(0.5, abs=0.05)


def test_too_few_samples_is_inconclusive_and_says_how_many() -> None:
    s = latency_shift([0.01] * 30, [0.5] * 7)
    assert s.verdict == "inconclusive" and s.detail == f"inconclusive: 7 of {RULE_MIN_SAMPLES} samples now"
    s = latency_shift([0.01] * 5, [0.5] * 30)
    assert s.verdict == "inconclusive" and "in the baseline" in s.detail


def test_every_window_of_recorded_noise_is_fine() -> None:
    """A clean fleet on a loaded machine: not one window of it is a regression."""
    noise = SERIES["noise"]
    assert len(noise) >= 200
    window = 60
    checked = 0
    for start in range(0, len(noise) - 2 * window + 1, 10):
        base, current = noise[start:start + window], noise[start + window:start + 2 * window]
        shift = latency_shift(base, current)
        assert shift.verdict == "fine", (start, shift.detail)
        checked += 1
    assert checked >= 10
    spread = max(noise) / median(noise)
    assert spread > 1.5, f"the recording is not noisy ({spread:.2f}x): re-record it under load"


def test_a_recorded_shift_is_flagged_within_a_few_probes_of_the_minimum() -> None:
    before, after = SERIES["shifted"]["before"], SERIES["shifted"]["after"]
    base = before[-60:]
    assert latency_shift(base, before[-RULE_MIN_SAMPLES:]).verdict == "fine"
    first = next(n for n in range(RULE_MIN_SAMPLES, len(after) + 1)
                 if latency_shift(base, after[:n]).verdict == "regression")
    assert first <= RULE_MIN_SAMPLES + 3
    s = latency_shift(base, after[:first])
    assert s.p is not None and s.p < ALPHA and "> 1.5x and +20 ms" in s.detail


def test_a_short_burst_and_a_small_steady_shift_are_not_regressions() -> None:
    noise = SERIES["noise"]
    base, current = noise[:60], list(noise[60:120])
    current[10:13] = [v * 10 for v in current[10:13]]  # three slow probes in a window of 60
    assert latency_shift(base, current).verdict == "fine"
    small = [v + 0.005 for v in noise[60:120]]  # +5 ms on every probe: significant, but under 20 ms
    s = latency_shift(base, small)
    assert s.verdict == "fine" and s.p is not None and s.p < ALPHA


@pytest.mark.parametrize("factor", [1.5, 2.0])
def test_the_relative_effect_uses_the_configured_factor(factor: float) -> None:
    base = [0.100 + 0.001 * (i % 7) for i in range(40)]
    current = [v * 1.7 for v in base]
    assert latency_shift(base, current, factor=factor).verdict == ("regression" if factor < 1.7 else "fine")
    assert math.isclose(median(current) / median(base), 1.7, rel_tol=1e-9)
