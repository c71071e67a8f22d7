"""A perceptual hash: 64 bits that say what an image looks like, not which bytes it is.

The idea (a difference hash, "dHash"): shrink the image to 9 x 8 grey cells, each the
average of its area, and keep one bit per pair of horizontal neighbours: is the left
cell brighter than the right one? The 64 bits describe the coarse gradients of the
picture. Re-encoding (JPEG, WebP, quality), resizing, a little brightening or
contrast, a logo in a corner or a few changed pixels move each cell a little and
flip few bits, so similar images get hashes a few bits apart (`hamming`), while
unrelated images differ in about half of them (32). It is not robust to crops,
rotations, mirroring or large overlays: those move the whole grid. A DCT hash
(pHash) is a bit more robust but needs numpy; this needs Pillow alone.

Cost: one greyscale conversion and one resize of the image (linear in its pixels;
about a millisecond for a 1080 px photo), then 64 comparisons. Comparing two hashes
is one XOR and a popcount. SQLite integers are signed 64-bit, so a hash is stored
through `to_signed` and read back through `to_unsigned`.
"""

from __future__ import annotations

from PIL import Image

BITS = 64
_MASK = (1 << BITS) - 1
_SIGN = 1 << (BITS - 1)
# Larger images are first reduced to this size by averaging boxes: the same result
# for the same picture whatever its size, and cheap.
_PREVIEW = 256


def dhash(image: Image.Image) -> int:
    """The 64-bit difference hash of `image` (any mode; transparency counts as white)."""
    grey = _grey(image)
    if max(grey.size) > _PREVIEW:
        grey.thumbnail((_PREVIEW, _PREVIEW), Image.Resampling.BOX)
    cells = grey.resize((9, 8), Image.Resampling.LANCZOS)
    values = cells.tobytes()  # 72 grey levels, row by row
    bits = 0
    for row in range(8):
        for column in range(8):
            left, right = values[row * 9 + column], values[row * 9 + column + 1]
            bits = (bits << 1) | (left > right)
    return bits


def _grey(image: Image.Image) -> Image.Image:
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        white = Image.new("RGBA", rgba.size, "white")
        return Image.alpha_composite(white, rgba).convert("L")
    return image.convert("L")


def hamming(a: int, b: int) -> int:
    """How many of the 64 bits differ: 0 for the same picture, about 32 for unrelated ones."""
    return ((a ^ b) & _MASK).bit_count()


def to_signed(value: int) -> int:
    """An unsigned 64-bit hash as the signed integer SQLite can store."""
    value &= _MASK
    return value - (1 << BITS) if value & _SIGN else value


def to_unsigned(value: int) -> int:
    """A hash read back from SQLite (signed) as the unsigned 64-bit value."""
    return value & _MASK


def to_hex(value: int) -> str:
    """16 hex digits: how a hash travels in JSON (a 64-bit number does not survive JavaScript)."""
    return f"{to_unsigned(value):016x}"
