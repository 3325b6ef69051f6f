#!/usr/bin/env python3
"""Generate every icon file in assets/ from the one drawing in `trayproxy.icons`.

    python assets/make_icons.py           # (re)write the files
    python assets/make_icons.py --check   # exit 1 if a committed file differs from a fresh render

Writes, next to this script:

- `trayproxy-{16,32,48,64,128,256,512,1024}.png`: the app icon
- `trayproxy.ico`: Windows, multi-size (16, 24, 32, 48, 64, 128, 256), each size rendered, not scaled
- `trayproxy.icns`: macOS (16 ... 1024, including the @2x variants)
- `tray/<state>-{16,32,64}.png` for stopped/starting/running/error, and
  `tray/<state>-template-{22,44}.png`, the black+alpha macOS menubar form (@1x, @2x)

The app icon comes from `icons.app_icon(size)` when the tray module provides one; otherwise it is
the "running" tray glyph (`icons.render_icon`) on a rounded tile, drawn here. Output is
deterministic, so re-running without a drawing change leaves git clean.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Callable
from pathlib import Path

from PIL import Image, ImageDraw

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))  # run from a checkout without installing

from trayproxy import icons  # noqa: E402

APP_SIZES = (16, 32, 48, 64, 128, 256, 512, 1024)
ICO_SIZES = (16, 24, 32, 48, 64, 128, 256)
ICNS_SIZES = (16, 32, 64, 128, 256, 512, 1024)
TRAY_SIZES = (16, 32, 64)
TEMPLATE_SIZES = (22, 44)
TILE = (31, 41, 55)  # slate background of the app tile
_SS = 4  # supersampling for the tile's rounded corners


def _tile_icon(size: int) -> Image.Image:
    """The running glyph on a rounded square; at 32 px and below the glyph alone reads better."""
    glyph = icons.render_icon("running", size if size <= 32 else round(size * 0.64))
    if size <= 32:
        return glyph
    big = size * _SS
    mask = Image.new("L", (big, big), 0)
    margin = round(big * 0.06)
    ImageDraw.Draw(mask).rounded_rectangle(
        (margin, margin, big - margin - 1, big - margin - 1), radius=round(big * 0.2), fill=255
    )
    img = Image.new("RGBA", (size, size), TILE + (0,))
    img.putalpha(mask.resize((size, size), Image.Resampling.LANCZOS))
    off = (size - glyph.width) // 2
    img.alpha_composite(glyph, (off, off))
    return img


def app_icon(size: int) -> Image.Image:
    fn: Callable[[int], Image.Image] | None = getattr(icons, "app_icon", None)
    img = fn(size) if fn is not None else _tile_icon(size)
    return img.convert("RGBA")


def _png(img: Image.Image) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format="PNG", optimize=True)
    return buf.getvalue()


def render_all() -> dict[Path, bytes]:
    """Every output file, path relative to assets/ -> bytes."""
    out: dict[Path, bytes] = {}
    for s in APP_SIZES:
        out[Path(f"trayproxy-{s}.png")] = _png(app_icon(s))

    ico = [app_icon(s) for s in ICO_SIZES]
    buf = io.BytesIO()
    ico[-1].save(buf, format="ICO", sizes=[(s, s) for s in ICO_SIZES], append_images=ico[:-1])
    out[Path("trayproxy.ico")] = buf.getvalue()

    icns = [app_icon(s) for s in ICNS_SIZES]
    buf = io.BytesIO()
    icns[-1].save(buf, format="ICNS", append_images=icns[:-1])
    out[Path("trayproxy.icns")] = buf.getvalue()

    for state in icons.STATES:
        for s in TRAY_SIZES:
            out[Path("tray") / f"{state}-{s}.png"] = _png(icons.render_icon(state, s))
        for s in TEMPLATE_SIZES:
            out[Path("tray") / f"{state}-template-{s}.png"] = _png(icons.render_icon(state, s, template=True))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--check", action="store_true", help="compare with the files on disk, write nothing")
    ap.add_argument("--out", type=Path, default=HERE, help="output directory (default: assets/)")
    args = ap.parse_args(argv)
    files = render_all()
    stale = [p for p, data in files.items() if not (args.out / p).is_file() or (args.out / p).read_bytes() != data]
    if args.check:
        for p in stale:
            print(f"out of date: {args.out / p}")
        print(f"{len(files) - len(stale)} of {len(files)} icon files up to date")
        return 1 if stale else 0
    for p in stale:
        (args.out / p).parent.mkdir(parents=True, exist_ok=True)
        (args.out / p).write_bytes(files[p])
    print(f"wrote {len(stale)} of {len(files)} icon files to {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
