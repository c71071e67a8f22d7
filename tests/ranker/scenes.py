"""Synthetic photos for perceptual-hash tests: a gradient and random shapes, from a seed."""

from __future__ import annotations

import io
import random

from PIL import Image, ImageDraw


def scene(seed: int, size: tuple[int, int] = (480, 360)) -> Image.Image:
    """A picture with structure everywhere (a dHash of a flat image is all noise)."""
    rnd = random.Random(seed)
    image = Image.linear_gradient("L").rotate(rnd.choice((90, 270))).resize(size).convert("RGB")
    draw = ImageDraw.Draw(image)
    for _ in range(12):
        x, y = rnd.randrange(size[0]), rnd.randrange(size[1])
        w, h = rnd.randrange(size[0] // 12, size[0] // 2), rnd.randrange(size[1] // 8, size[1] // 2)
        colour = tuple(rnd.randrange(256) for _ in range(3))
        (draw.ellipse if rnd.random() < 0.5 else draw.rectangle)((x, y, x + w, y + h), fill=colour)
    return image


def encoded(image: Image.Image, fmt: str = "JPEG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def reopened(image: Image.Image, fmt: str = "JPEG", **options) -> Image.Image:
    return Image.open(io.BytesIO(encoded(image, fmt, **options)))
