"""A few generated pictures, processed once by the real image pipeline, shared by every demo post.

The idea: the demo's photos must be real files served by `/media/...`, yet
re-encoding one per post would take hours. So a handful of pictures (gradients and
shapes in different colours and aspect ratios) go ONCE through
`instamini.media.images.process_image`, the very code uploads go through, and every
demo media row points at one of those variant sets. The blob store counts one
reference per variant per media row, as the media module does for real uploads.

Cost: a few hundred milliseconds of CPU per picture (two at a time), a few
megabytes in the blob store in all.
"""

from __future__ import annotations

import random
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import msgspec
from PIL import Image, ImageDraw

from ..config import MediaConfig
from ..media.images import process_image
from ..media.records import Variant, encode_variants
from ..stores.blobs import BlobStore

SIZES = [(1080, 1080), (1080, 1350), (1080, 720)]  # square, portrait, landscape


@dataclass(frozen=True)
class Picture:
    """One processed picture: what a media row showing it stores."""

    width: int
    height: int
    placeholder: str
    upload_bytes: int
    variants: list[Variant]
    variants_json: str

    @property
    def keys(self) -> list[str]:
        return [variant.key for variant in self.variants]


def draw(rng: random.Random, size: tuple[int, int]) -> Image.Image:
    """A gradient between two random colours, with a few shapes and a little grain."""
    top, bottom = (tuple(rng.randrange(256) for _ in range(3)) for _ in range(2))
    mask = Image.linear_gradient("L").resize(size)
    image = Image.composite(Image.new("RGB", size, bottom), Image.new("RGB", size, top), mask)
    pen = ImageDraw.Draw(image)
    for _ in range(rng.randrange(3, 8)):
        x, y, r = rng.randrange(size[0]), rng.randrange(size[1]), rng.randrange(40, 320)
        colour = tuple(rng.randrange(256) for _ in range(3))
        shape = pen.ellipse if rng.random() < 0.6 else pen.rectangle
        shape((x - r, y - r, x + r, y + r), fill=colour)
    # Grain, so the files weigh what photos weigh (drawn at half size: noise is slow to make).
    grain = Image.effect_noise((size[0] // 2, size[1] // 2), 24).convert("RGB").resize(size)
    return Image.blend(image, grain, 0.08)


def _make(picture_seed: int, size: tuple[int, int], source: Path, settings: dict) -> dict:
    draw(random.Random(picture_seed), size).save(source, "JPEG", quality=92)  # what a phone would upload
    out_dir = source.with_suffix("")
    out_dir.mkdir()
    # Our own freshly drawn file, not an upload: no need for the sandboxed worker pool.
    return process_image(str(source), str(out_dir), settings)


async def make_pictures(rng: random.Random, count: int, media: MediaConfig, blobs: BlobStore) -> list[Picture]:
    """Draw, process and store `count` pictures; none is referenced yet."""
    settings = msgspec.to_builtins(media)
    seeds = [rng.getrandbits(64) for _ in range(count)]  # drawn in any order, each from its own seed
    sizes = [SIZES[index % len(SIZES)] for index in range(count)]
    with tempfile.TemporaryDirectory(prefix="instamini-demo-") as work:
        sources = [Path(work) / f"picture-{index}.jpg" for index in range(count)]
        with ThreadPoolExecutor(max_workers=2) as pool:  # Pillow lets go of the GIL while it works
            results = list(pool.map(_make, seeds, sizes, sources, [settings] * count))
        return [await _store(blobs, source, result) for source, result in zip(sources, results)]


async def _store(blobs: BlobStore, source: Path, result: dict) -> Picture:
    variants = []
    for output in result["variants"]:
        info = await blobs.put_file(source.with_suffix("") / output["file"])
        variants.append(
            Variant(info.key, output["role"], output["content_type"], output["width"], output["height"], info.size)
        )
    return Picture(
        width=result["width"],
        height=result["height"],
        placeholder=result["placeholder"],
        upload_bytes=source.stat().st_size,
        variants=variants,
        variants_json=encode_variants(variants),
    )
