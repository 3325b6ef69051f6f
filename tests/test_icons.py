from __future__ import annotations

import itertools

import pytest
from PIL import Image, ImageChops, ImageStat

from trayproxy.icons import STATES, render_icon, state_for


@pytest.mark.parametrize("size", [16, 22, 24, 32, 48, 64])
@pytest.mark.parametrize("state", STATES)
def test_every_state_renders_at_every_size(state: str, size: int) -> None:
    img = render_icon(state, size)
    assert img.mode == "RGBA" and img.size == (size, size)
    alpha = img.getchannel("A")
    lo, hi = alpha.getextrema()
    assert lo == 0 and hi == 255  # transparent background, fully opaque strokes: crisp, not mush
    opaque = alpha.histogram()[255]
    assert opaque >= size * size * 0.08


def test_template_is_black_with_alpha() -> None:
    for state in STATES:
        img = render_icon(state, 32, template=True)
        r, g, b, _ = img.split()
        assert r.getextrema() == g.getextrema() == b.getextrema() == (0, 0)


def _diff(a: Image.Image, b: Image.Image) -> float:
    d = ImageChops.difference(a.getchannel("A"), b.getchannel("A"))
    return float(ImageStat.Stat(d).sum[0]) / (255 * a.width * a.height)


@pytest.mark.parametrize("size", [16, 32])
def test_states_differ_by_shape_not_only_colour(size: int) -> None:
    shapes = {s: render_icon(s, size, template=True) for s in STATES}
    for a, b in itertools.combinations(STATES, 2):
        assert _diff(shapes[a], shapes[b]) > 0.08, (a, b)


def test_colours_differ() -> None:
    centres = {s: render_icon(s, 64).getpixel((8, 32))[:3] for s in ("stopped", "running")}
    assert centres["stopped"] != centres["running"]


def test_bad_input() -> None:
    with pytest.raises(ValueError):
        render_icon("sleeping")
    with pytest.raises(ValueError):
        render_icon("running", 4)


def test_state_for() -> None:
    assert state_for(False, True, "x") == "starting"
    assert state_for(True, False, "old error") == "running"
    assert state_for(False, False, "port taken") == "error"
    assert state_for(False, False, None) == "stopped"
