"""Tray icons, drawn with Pillow from one description, for every state.

States are told apart by shape as well as colour, so they read in a monochrome macOS menubar
(template image: black plus alpha) and for colour-blind users:

- stopped: a hollow ring
- starting: an open arc (a spinner)
- running: a filled disc with a ">" knocked out
- error: a filled triangle with a "!" knocked out

Shapes are drawn as a mask at 4x and downsampled, so the icon is crisp from 16 to 64 px.
"""

from __future__ import annotations

from PIL import Image, ImageDraw

__all__ = ["STATES", "COLOURS", "render_icon", "state_for"]

STATES = ("stopped", "starting", "running", "error")
COLOURS: dict[str, tuple[int, int, int]] = {
    "stopped": (128, 134, 144),
    "starting": (230, 160, 20),
    "running": (34, 165, 89),
    "error": (214, 48, 49),
}
_SS = 4  # supersampling factor
_UNIT = 64  # shapes are described on a 64x64 grid


def _mask(state: str, px: int) -> Image.Image:
    """The shape of `state` as an L-mode mask of px x px (px = final size * _SS)."""
    m = Image.new("L", (px, px), 0)
    d = ImageDraw.Draw(m)
    s = px / _UNIT

    def box(x0: float, y0: float, x1: float, y1: float) -> tuple[float, float, float, float]:
        return (x0 * s, y0 * s, x1 * s, y1 * s)

    ring = max(1.0, 11 * s)
    if state == "stopped":
        d.ellipse(box(5, 5, 59, 59), outline=255, width=round(ring))
    elif state == "starting":
        d.arc(box(5, 5, 59, 59), start=-60, end=210, fill=255, width=round(ring))
        d.ellipse(box(27, 27, 37, 37), fill=255)
    elif state == "running":
        d.ellipse(box(3, 3, 61, 61), fill=255)
        chevron = [(24, 17), (44, 32), (24, 47)]
        d.line([(x * s, y * s) for x, y in chevron], fill=0, width=round(8 * s), joint="curve")
    elif state == "error":
        d.polygon([(32 * s, 3 * s), (62 * s, 59 * s), (2 * s, 59 * s)], fill=255)
        d.rounded_rectangle(box(28, 20, 36, 42), radius=3 * s, fill=0)
        d.ellipse(box(27.5, 46, 36.5, 55), fill=0)
    else:
        raise ValueError(f"unknown icon state {state!r}; expected one of {', '.join(STATES)}")
    return m


def render_icon(state: str, size: int = 64, *, template: bool = False) -> Image.Image:
    """An RGBA icon for `state`; `template=True` gives the macOS template form (black + alpha)."""
    if size < 8:
        raise ValueError("icon size must be at least 8 px")
    mask = _mask(state, size * _SS).resize((size, size), Image.Resampling.LANCZOS)
    colour = (0, 0, 0) if template else COLOURS[state]
    img = Image.new("RGBA", (size, size), colour + (0,))
    img.putalpha(mask)
    return img


def state_for(running: bool, starting: bool, error: str | None) -> str:
    """Which icon a status shows: starting wins, then running, then error, then stopped."""
    if starting:
        return "starting"
    if running:
        return "running"
    if error:
        return "error"
    return "stopped"
