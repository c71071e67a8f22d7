"""Images: turn an uploaded picture into WebP widths and one JPEG fallback, with nothing else in them.

The idea: trust nothing in the upload but its pixels. Only five formats are ever
parsed (JPEG, PNG, WebP, GIF, HEIC); the declared size is checked against a pixel
budget before a single row is decoded; the decoded pixels are turned upright (EXIF
orientation), converted to sRGB through their ICC profile, and copied into a fresh
image that has never had any metadata. Every file written is opened again to prove
it carries no EXIF, XMP, ICC profile or comment. Animated GIF/WebP/APNG and HEIC
bursts keep their first frame only: we serve stills.

Cost: one decode (JPEGs much larger than the largest width decode at 1/2, 1/4 or
1/8 scale through libjpeg's DCT scaling, the big win for phone photos), one LANCZOS
resize and one encode per width, plus one JPEG and a perceptual hash (ranker/phash.py).
Runs in a sandboxed worker process; the only exception raised on purpose is
MediaRejected, whose message the uploader sees.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import warnings
from collections.abc import Iterator

import pillow_heif
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError
from PIL.ExifTags import Base

from ..ranker.phash import dhash
from .errors import MediaRejected

pillow_heif.register_heif_opener(thumbnails=False, depth_images=False, aux_images=False)

ALLOWED_FORMATS = ["JPEG", "PNG", "WEBP", "GIF", "HEIF"]
# Things Pillow reads out of a file that would be metadata if they survived into ours.
METADATA_KEYS = {"exif", "xmp", "XML:com.adobe.xmp", "icc_profile", "comment", "photoshop", "adobe", "mp"}
# The WebP bitstream cannot hold a side longer than this; a long screenshot is shrunk to fit.
WEBP_MAX_SIDE = 16383
# What Pillow raises on a damaged, truncated or lying file while opening or decoding it.
DECODE_ERRORS = (UnidentifiedImageError, OSError, SyntaxError, ValueError, EOFError)
SRGB = ImageCms.createProfile("sRGB")


def process_image(source: str, out_dir: str, settings: dict) -> dict:
    """Re-encode the image at `source` into `out_dir`; returns the media description.

    `settings` is `msgspec.to_builtins(MediaConfig)`. Raises MediaRejected for a file we
    will not process; partial outputs may be left in `out_dir` for the caller to remove.
    """
    with _opened(source, settings) as image:
        width, _ = _upright_size(image)
        widths = variant_widths(width, settings["image_widths"])
        pixels = _decode(image, widths[0])
    sized = _resized(pixels, widths)
    variants = [encode(image, out_dir, f"w{image.width}.webp", "image", settings) for image in sized]
    # The fallback is for browsers without WebP; one width (the largest) is enough.
    largest = sized[0]
    variants.append(encode(largest, out_dir, f"w{largest.width}.jpg", "fallback", settings))
    return {
        "kind": "image",
        "width": largest.width,
        "height": largest.height,
        "duration_ms": None,
        "placeholder": dominant_colour(sized[-1]),
        "phash": dhash(largest),  # of the upright pixels, as served
        "variants": variants,
    }


def variant_widths(source_width: int, image_widths: list[int]) -> list[int]:
    """The widths to produce, largest first: never wider than the source, never none."""
    widths = {w for w in image_widths if w <= source_width}
    widths.add(min(source_width, max(image_widths)))
    return sorted(widths, reverse=True)


@contextlib.contextmanager
def _opened(source: str, settings: dict) -> Iterator[Image.Image]:
    """Open `source` as one of the allowed formats, within the pixel and frame budgets."""
    limit = settings["max_pixels"]
    saved_limit = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = limit
    try:
        with warnings.catch_warnings():
            # Pillow only warns between 1x and 2x its limit; over our limit is a refusal.
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = _open(source, limit)
            with image:
                _check_frames(image, settings["max_frames"])
                yield image
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise MediaRejected(f"image too large: more than {limit:,} pixels") from None
    except DECODE_ERRORS:
        raise MediaRejected("could not read the image: it is damaged or truncated") from None
    finally:
        Image.MAX_IMAGE_PIXELS = saved_limit


def _open(source: str, limit: int) -> Image.Image:
    if os.path.getsize(source) == 0:
        raise MediaRejected("the file is empty")
    try:
        image = Image.open(source, formats=ALLOWED_FORMATS)
    except UnidentifiedImageError:
        raise MediaRejected("not a JPEG, PNG, WebP, GIF or HEIC image") from None
    width, height = image.size
    if width * height > limit:
        image.close()
        raise MediaRejected(f"image too large: {width} x {height} pixels (at most {limit:,})")
    return image


def _check_frames(image: Image.Image, max_frames: int) -> None:
    """Refuse more than `max_frames` frames; the first is the one we keep.

    n_frames is read from the header (WebP, APNG, HEIC) or counted by skipping
    through a GIF's blocks without decoding them: cheap either way.
    """
    frames = getattr(image, "n_frames", 1)
    if frames > max_frames:
        raise MediaRejected(f"too many frames: {frames} (at most {max_frames})")


def _upright_size(image: Image.Image) -> tuple[int, int]:
    width, height = image.size
    turned = image.getexif().get(Base.Orientation) in (5, 6, 7, 8)
    return (height, width) if turned else (width, height)


def _decode(image: Image.Image, target_width: int) -> Image.Image:
    """Decode, turn upright and convert to sRGB: fresh RGB/RGBA pixels with no metadata."""
    if image.format in ("JPEG", "MPO"):
        # Ask libjpeg for a smaller decode that is still at least target_width wide.
        scale = target_width / _upright_size(image)[0]
        image.draft(None, (math.ceil(image.width * scale), math.ceil(image.height * scale)))
    image.load()
    if image.getexif().get(Base.Orientation, 1) != 1:
        # (exif_transpose copies even when there is nothing to do: only call it when needed)
        image = ImageOps.exif_transpose(image)
    return clean_pixels(image)


def clean_pixels(image: Image.Image) -> Image.Image:
    """sRGB pixels of `image` in a brand-new RGB or RGBA image: no info, EXIF or profile."""
    converted = _to_srgb(image)
    fresh = Image.new(converted.mode, converted.size)
    fresh.paste(converted)
    return fresh


def _to_srgb(image: Image.Image) -> Image.Image:
    mode = "RGBA" if image.has_transparency_data else "RGB"
    icc = image.info.get("icc_profile")
    if image.mode.startswith("I"):
        # 16-bit greyscale: scale to 8 bits (a plain convert would clip it to white).
        image = image.convert("I").point(lambda value: value * (1 / 256)).convert("L")
    if image.mode not in ("CMYK", mode):
        image = image.convert(mode)
    if icc:
        with contextlib.suppress(ImageCms.PyCMSError, OSError):
            # A profile that does not fit the pixels (or does not parse) is ignored:
            # the colours are then a little off, which beats refusing the photo.
            return ImageCms.profileToProfile(image, ImageCms.ImageCmsProfile(io.BytesIO(icc)), SRGB, outputMode=mode)
    return image.convert(mode)


def _resized(pixels: Image.Image, widths: list[int]) -> list[Image.Image]:
    """One image per distinct width, largest first (WebP's limit can merge two widths)."""
    by_width: dict[int, Image.Image] = {}
    for width in widths:
        image = fit_width(pixels, width)
        by_width.setdefault(image.width, image)
    return list(by_width.values())


def fit_width(pixels: Image.Image, width: int) -> Image.Image:
    """`pixels` resized to `width` (keeping the aspect), shrunk further to fit WebP's limit."""
    scale = min(width / pixels.width, WEBP_MAX_SIDE / pixels.height, 1)
    size = (max(1, round(pixels.width * scale)), max(1, round(pixels.height * scale)))
    if size == pixels.size:
        return pixels
    return pixels.resize(size, Image.Resampling.LANCZOS, reducing_gap=3.0)


def encode(pixels: Image.Image, out_dir: str, file: str, role: str, settings: dict) -> dict:
    """Save clean pixels as WebP or JPEG (by `file`'s extension), prove it clean, describe it."""
    path = os.path.join(out_dir, file)
    if file.endswith(".webp"):
        content_type = "image/webp"
        pixels.save(path, "WEBP", quality=settings["webp_quality"], method=4)
    else:
        content_type = "image/jpeg"
        flatten(pixels).save(path, "JPEG", quality=settings["jpeg_quality"], optimize=True, progressive=True)
    prove_clean(path)
    return {"file": file, "role": role, "content_type": content_type, "width": pixels.width, "height": pixels.height}


def flatten(pixels: Image.Image) -> Image.Image:
    """RGB pixels: transparency laid over white (JPEG has no alpha)."""
    if pixels.mode != "RGBA":
        return pixels
    white = Image.new("RGB", pixels.size, "white")
    white.paste(pixels, mask=pixels.getchannel("A"))
    return white


def prove_clean(path: str) -> None:
    """Open a file we wrote and fail loudly (not a MediaRejected: it is our bug) if it has metadata."""
    with Image.open(path) as written:
        leaked = METADATA_KEYS & written.info.keys()
        if written.getexif():
            leaked.add("exif")
        # Any APP segment but the JFIF header (APP0) could carry metadata.
        leaked |= {marker for marker, _ in getattr(written, "applist", []) if marker != "APP0"}
        if leaked:
            raise RuntimeError(f"metadata survived re-encoding into {os.path.basename(path)}: {sorted(leaked)}")


def dominant_colour(pixels: Image.Image) -> str:
    """The mean colour as #rrggbb: shown while the real image loads."""
    red, green, blue = flatten(pixels).resize((1, 1), Image.Resampling.BOX).getpixel((0, 0))
    return f"#{red:02x}{green:02x}{blue:02x}"
