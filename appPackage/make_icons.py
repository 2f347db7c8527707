"""Draw the Teams app icons with the standard library only (zlib + struct).

    python appPackage/make_icons.py          # rewrites appPackage/color.png and outline.png

color.png   192x192, full colour: a white shield with a blue clock face on the accent blue
            (the rapid review runs against the clock: 5 and 15 working days).
outline.png 32x32, white on transparent: the same shield as an outline, with clock hands.

The drawing is deterministic; tests compare the committed PNGs' pixels with render_*().
"""

from __future__ import annotations

import math
import struct
import sys
import zlib
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent

ACCENT = (0x2B, 0x5F, 0x9E)  # calm blue; keep in step with accentColor in manifest.json
WHITE = (0xFF, 0xFF, 0xFF)
SUPERSAMPLE = 4

Shape = Callable[[float, float], bool]


def png_bytes(width: int, height: int, rgba: bytes) -> bytes:
    """Encode 8-bit RGBA pixels (row-major, no filter bytes) as a PNG file."""
    if len(rgba) != width * height * 4:
        raise ValueError("pixel buffer does not match the size")
    stride = width * 4
    raw = b"".join(b"\x00" + rgba[y * stride : (y + 1) * stride] for y in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)  # 8-bit RGBA, no interlace
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


# --- shapes in unit coordinates (0..1 across the icon, y pointing down) ---------------------------


def shield(cx: float = 0.5, top: float = 0.14, bottom: float = 0.88, half: float = 0.31) -> Shape:
    """A heater shield: flat-ish top with a shallow dip, straight sides, curving to a point."""
    shoulder = top + (bottom - top) * 0.45

    def inside(x: float, y: float) -> bool:
        dx = abs(x - cx)
        if dx > half or y > bottom:
            return False
        edge = top + 0.035 * (1 - (dx / half) ** 2) if half else top  # the dip in the top edge
        if y < edge:
            return False
        if y <= shoulder:
            return True
        t = (y - shoulder) / (bottom - shoulder)
        return dx <= half * math.sqrt(max(0.0, 1 - t * t)) * (1 - 0.25 * t)

    return inside


def ring(cx: float, cy: float, r_out: float, r_in: float) -> Shape:
    def inside(x: float, y: float) -> bool:
        d = math.hypot(x - cx, y - cy)
        return r_in <= d <= r_out

    return inside


def disc(cx: float, cy: float, r: float) -> Shape:
    return ring(cx, cy, r, 0.0)


def segment(x0: float, y0: float, x1: float, y1: float, width: float) -> Shape:
    """A line with round caps."""
    vx, vy = x1 - x0, y1 - y0
    length2 = vx * vx + vy * vy

    def inside(x: float, y: float) -> bool:
        t = max(0.0, min(1.0, ((x - x0) * vx + (y - y0) * vy) / length2))
        return math.hypot(x - (x0 + t * vx), y - (y0 + t * vy)) <= width / 2

    return inside


def coverage(shape: Shape, px: int, py: int, size: int, box: tuple[float, float, float, float] = (0, 0, 1, 1)) -> float:
    """The share of pixel (px, py) that the shape covers, by supersampling.

    ``box`` (x0, y0, x1, y1 in unit coordinates) must hold the whole shape; pixels outside it
    are skipped, which only makes drawing faster.
    """
    x0, y0, x1, y1 = box
    if (px + 1) / size < x0 or px / size > x1 or (py + 1) / size < y0 or py / size > y1:
        return 0.0
    hits = 0
    for sy in range(SUPERSAMPLE):
        for sx in range(SUPERSAMPLE):
            x = (px + (sx + 0.5) / SUPERSAMPLE) / size
            y = (py + (sy + 0.5) / SUPERSAMPLE) / size
            hits += shape(x, y)
    return hits / (SUPERSAMPLE * SUPERSAMPLE)


def _mix(a: tuple[int, int, int], b: tuple[int, int, int], t: float) -> tuple[int, int, int]:
    return tuple(round(a[i] + (b[i] - a[i]) * t) for i in range(3))  # type: ignore[return-value]


# --- the two icons ----------------------------------------------------------------------------------

CLOCK_CX, CLOCK_CY = 0.5, 0.44


def render_color(size: int = 192) -> bytes:
    """Accent-blue square, white shield, blue clock ring and hands (10 past 12)."""
    body = shield()
    body_box = (0.18, 0.13, 0.82, 0.89)
    clock_box = (CLOCK_CX - 0.18, CLOCK_CY - 0.18, CLOCK_CX + 0.18, CLOCK_CY + 0.18)
    face = ring(CLOCK_CX, CLOCK_CY, 0.17, 0.13)
    hands = [
        segment(CLOCK_CX, CLOCK_CY, CLOCK_CX, CLOCK_CY - 0.105, 0.04),
        segment(CLOCK_CX, CLOCK_CY, CLOCK_CX + 0.085, CLOCK_CY + 0.02, 0.04),
    ]
    hub = disc(CLOCK_CX, CLOCK_CY, 0.03)
    out = bytearray()
    for py in range(size):
        for px in range(size):
            colour = _mix(ACCENT, WHITE, coverage(body, px, py, size, body_box))
            clock = max(coverage(s, px, py, size, clock_box) for s in (face, hub, *hands))
            colour = _mix(colour, ACCENT, clock)
            out += bytes((*colour, 255))
    return bytes(out)


def render_outline(size: int = 32) -> bytes:
    """White shield outline and clock hands on a transparent background."""
    outer = shield(top=0.06, bottom=0.97, half=0.40)
    inner = shield(top=0.06 + 3 / size, bottom=0.97 - 4.5 / size, half=0.40 - 3 / size)
    cy = 0.44

    def outline(x: float, y: float) -> bool:
        return outer(x, y) and not inner(x, y)

    hands = [segment(0.5, cy, 0.5, cy - 0.2, 2.6 / size), segment(0.5, cy, 0.66, cy + 0.06, 2.6 / size)]
    out = bytearray()
    for py in range(size):
        for px in range(size):
            alpha = max(coverage(s, px, py, size) for s in (outline, *hands))
            out += bytes((255, 255, 255, round(255 * alpha)))
    return bytes(out)


def main() -> int:
    (HERE / "color.png").write_bytes(png_bytes(192, 192, render_color()))
    (HERE / "outline.png").write_bytes(png_bytes(32, 32, render_outline()))
    print(f"wrote {HERE / 'color.png'} and {HERE / 'outline.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
