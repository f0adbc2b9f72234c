"""Meaning without colour (issue 22, item 5): the ok/warn/bad palette survives colour-vision deficiencies.

colorspacious simulates deuteranomaly and protanomaly at severity 100 (Machado et al. 2009); between
each pair of the simulated colours the CIEDE2000 distance (computed here, colorspacious has only
CAM02-UCS distances) must be at least 20, and each colour must keep a 4.5:1 contrast (WCAG) against
the screen's background. Then the styles themselves: every threshold level carries a weight as well
as a colour, so NO_COLOR (which keeps weights) still tells them apart.
"""

from __future__ import annotations

import itertools
import math

import pytest
from colorspacious import cspace_convert
from rich.style import Style

from screens import render

PALETTE = {"ok": render.OK_COLOUR, "warn": render.WARN_COLOUR, "bad": render.BAD_COLOUR}


def _rgb(hexcolour: str) -> tuple[float, float, float]:
    h = hexcolour.lstrip("#")
    return tuple(int(h[i:i + 2], 16) / 255 for i in (0, 2, 4))  # type: ignore[return-value]


def ciede2000(lab1: tuple[float, float, float], lab2: tuple[float, float, float]) -> float:
    """CIEDE2000 colour difference (Sharma, Wu, Dalal 2005), kL = kC = kH = 1."""
    (l1, a1, b1), (l2, a2, b2) = lab1, lab2
    cbar = (math.hypot(a1, b1) + math.hypot(a2, b2)) / 2
    g = 0.5 * (1 - math.sqrt(cbar ** 7 / (cbar ** 7 + 25 ** 7)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = math.hypot(a1p, b1), math.hypot(a2p, b2)
    h1p, h2p = math.degrees(math.atan2(b1, a1p)) % 360, math.degrees(math.atan2(b2, a2p)) % 360
    dhp = 0.0 if c1p * c2p == 0 else (h2p - h1p if abs(h2p - h1p) <= 180 else
                                       h2p - h1p - 360 if h2p - h1p > 180 else h2p - h1p + 360)
    d_l, d_c = l2 - l1, c2p - c1p
    d_h = 2 * math.sqrt(c1p * c2p) * math.sin(math.radians(dhp / 2))
    lbar, cbarp = (l1 + l2) / 2, (c1p + c2p) / 2
    if c1p * c2p == 0:
        hbar = h1p + h2p
    elif abs(h1p - h2p) <= 180:
        hbar = (h1p + h2p) / 2
    else:
        hbar = (h1p + h2p + 360) / 2 if h1p + h2p < 360 else (h1p + h2p - 360) / 2
    t = (1 - 0.17 * math.cos(math.radians(hbar - 30)) + 0.24 * math.cos(math.radians(2 * hbar))
         + 0.32 * math.cos(math.radians(3 * hbar + 6)) - 0.20 * math.cos(math.radians(4 * hbar - 63)))
    dtheta = 30 * math.exp(-(((hbar - 275) / 25) ** 2))
    rc = 2 * math.sqrt(cbarp ** 7 / (cbarp ** 7 + 25 ** 7))
    sl = 1 + 0.015 * (lbar - 50) ** 2 / math.sqrt(20 + (lbar - 50) ** 2)
    sc, sh = 1 + 0.045 * cbarp, 1 + 0.015 * cbarp * t
    rt = -math.sin(math.radians(2 * dtheta)) * rc
    return math.sqrt((d_l / sl) ** 2 + (d_c / sc) ** 2 + (d_h / sh) ** 2 + rt * (d_c / sc) * (d_h / sh))


def test_ciede2000_matches_the_published_test_data() -> None:
    """Two pairs of Sharma et al.'s table, so the distance below is the real CIEDE2000."""
    assert ciede2000((50, 2.6772, -79.7751), (50, 0, -82.7485)) == pytest.approx(2.0425, abs=1e-4)
    assert ciede2000((50, 2.5, 0), (73, 25, -18)) == pytest.approx(27.1492, abs=1e-4)


def _lab(rgb: tuple[float, float, float], cvd: str | None) -> tuple[float, float, float]:
    if cvd is not None:
        sim = cspace_convert(rgb, {"name": "sRGB1+CVD", "cvd_type": cvd, "severity": 100}, "sRGB1")
        rgb = tuple(min(1.0, max(0.0, float(x))) for x in sim)  # type: ignore[assignment]
    return tuple(float(x) for x in cspace_convert(rgb, "sRGB1", "CIELab"))  # type: ignore[return-value]


@pytest.mark.parametrize("cvd", ["deuteranomaly", "protanomaly", None])
def test_ok_warn_bad_stay_apart_under_colour_vision_deficiency(cvd: str | None) -> None:
    labs = {name: _lab(_rgb(colour), cvd) for name, colour in PALETTE.items()}
    for a, b in itertools.combinations(labs, 2):
        distance = ciede2000(labs[a], labs[b])
        assert distance >= 20, f"{a} and {b} are {distance:.1f} apart with {cvd or 'normal vision'}"


def _luminance(rgb: tuple[float, float, float]) -> float:
    lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in rgb]
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]


@pytest.mark.parametrize("name", list(PALETTE))
def test_each_colour_reads_against_the_background(name: str) -> None:
    fg, bg = _luminance(_rgb(PALETTE[name])), _luminance(_rgb(render.BACKGROUND))
    ratio = (max(fg, bg) + 0.05) / (min(fg, bg) + 0.05)
    assert ratio >= 4.5, f"{name} {PALETTE[name]} has {ratio:.2f}:1 against {render.BACKGROUND}"


def test_the_background_is_the_screens_own() -> None:
    """The contrast above is measured against what the dashboard really paints ($surface)."""
    from textual.app import App

    app = App()
    assert app.get_css_variables()["surface"].upper() == render.BACKGROUND


def test_every_threshold_level_has_a_weight_besides_its_colour() -> None:
    """NO_COLOR drops colours and keeps weights: the three levels must still differ, and bad never dims."""
    ok, warn, bad = (Style.parse(render.level_style(v)) for v in (10, 75, 95))
    weights = [(s.bold, s.underline, s.reverse, s.dim) for s in (ok, warn, bad)]
    assert len(set(weights)) == 3
    assert bad.bold and bad.reverse and not bad.dim
    assert (Style.parse(render.level_style(85, 80, 90)).underline  # disk's thresholds too
            and Style.parse(render.level_style(250, 100, 200)).bold)  # and load's
