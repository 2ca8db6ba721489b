"""Deterministic PNG images written with zlib and struct only (no Pillow), cached in memory.

Avatars are discs whose colour comes from the request path, so each user looks different;
media images are striped gradients with a visible pattern, also coloured by path.
"""

from __future__ import annotations

import colorsys
import hashlib
import struct
import zlib
from collections.abc import Iterable
from functools import lru_cache

RGB = tuple[int, int, int]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png(width: int, height: int, rows: Iterable[bytes], alpha: bool = False) -> bytes:
    """A PNG from raw 8-bit RGB (or RGBA) rows, each exactly width * 3 (or 4) bytes."""
    stride = width * (4 if alpha else 3)
    raw = bytearray()
    count = 0
    for row in rows:
        if len(row) != stride:
            raise ValueError(f"row {count} has {len(row)} bytes, expected {stride}")
        raw += b"\x00" + row  # filter type 0 (None)
        count += 1
    if count != height:
        raise ValueError(f"{count} rows, expected {height}")
    header = struct.pack(">IIBBBBB", width, height, 8, 6 if alpha else 2, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header)
            + _chunk(b"IDAT", zlib.compress(bytes(raw), 6)) + _chunk(b"IEND", b""))


def _colour(key: str, salt: str, sat: float, val: float) -> RGB:
    digest = hashlib.sha256(f"{salt}:{key}".encode()).digest()
    hue = int.from_bytes(digest[:2], "big") / 65536
    r, g, b = colorsys.hsv_to_rgb(hue, sat, val)
    return (round(r * 255), round(g * 255), round(b * 255))


def _mix(a: RGB, b: RGB, t: float) -> RGB:
    return (round(a[0] + (b[0] - a[0]) * t), round(a[1] + (b[1] - a[1]) * t),
            round(a[2] + (b[2] - a[2]) * t))


@lru_cache(maxsize=256)
def avatar_png(key: str, size: int = 96) -> bytes:
    """A round avatar (transparent corners): a coloured disc with a light head and shoulders."""
    base = _colour(key, "avatar", 0.65, 0.85)
    light = _mix(base, (255, 255, 255), 0.35)
    figure = _mix(base, (255, 255, 255), 0.75)
    c = (size - 1) / 2
    head_y, head_r = size * 0.38, size * 0.17
    body_y, body_r = size * 0.98, size * 0.36
    rows = []
    for y in range(size):
        row = bytearray()
        for x in range(size):
            d = ((x - c) ** 2 + (y - c) ** 2) ** 0.5
            coverage = max(0.0, min(1.0, c + 0.5 - d))  # anti-aliased rim
            if coverage == 0.0:
                row += b"\x00\x00\x00\x00"
                continue
            colour = _mix(light, base, y / size)
            if ((x - c) ** 2 + (y - head_y) ** 2 <= head_r ** 2
                    or (x - c) ** 2 + (y - body_y) ** 2 <= body_r ** 2):
                colour = figure
            row += bytes((*colour, round(255 * coverage)))
        rows.append(bytes(row))
    return encode_png(size, size, rows, alpha=True)


@lru_cache(maxsize=64)
def media_png(key: str, width: int = 1200, height: int = 675) -> bytes:
    """A photo stand-in: diagonal stripes over a vertical gradient, coloured by `key`."""
    top = _colour(key, "sky", 0.45, 0.95)
    bottom = _colour(key, "ground", 0.75, 0.55)
    period = 120
    rows = []
    for y in range(height):
        t = y / max(1, height - 1)
        a = _mix(top, bottom, t)
        b = _mix(a, (255, 255, 255), 0.45)
        tile = bytes(a) * (period // 2) + bytes(b) * (period // 2)
        repeated = tile * (width // period + 2)
        offset = (y % period) * 3
        rows.append(repeated[offset:offset + width * 3])
    # a dark frame line top and bottom, so crops are visible
    frame = bytes(_mix(bottom, (0, 0, 0), 0.5)) * width
    rows[0] = rows[1] = rows[-1] = rows[-2] = frame
    return encode_png(width, height, rows)


@lru_cache(maxsize=1)
def icon_png() -> bytes:
    """A 32x32 favicon: a dark rounded square."""
    return avatar_png("favicon", 32)
