"""process_image, called in-process on files built by samples.py: formats, sizes, orientation,
metadata proven gone (parsed and as raw bytes), and the refusals."""

from __future__ import annotations

from pathlib import Path

import msgspec
import pytest
from PIL import Image

from instamini.config import MediaConfig
from instamini.media import images
from instamini.media.errors import MediaRejected
from instamini.media.images import process_image

from . import samples


def settings(**overrides) -> dict:
    return {**msgspec.to_builtins(MediaConfig()), **overrides}


def run(source: Path, tmp_path: Path, **overrides) -> tuple[dict, Path]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return process_image(str(source), str(out), settings(**overrides)), out


ALLOWED = {
    "photo.jpg": samples.jpeg,
    "text.png": samples.png_with_text,
    "photo.webp": samples.webp,
    "anim.gif": samples.gif,
    "photo.heic": samples.heic,
}


@pytest.mark.parametrize("name", ALLOWED)
def test_each_allowed_format_becomes_webp_widths_and_one_jpeg(tmp_path, name):
    source = ALLOWED[name](tmp_path / name)
    with Image.open(source) as original:
        size = original.size
    result, out = run(source, tmp_path)
    assert (result["kind"], result["duration_ms"]) == ("image", None)
    assert (result["width"], result["height"]) == size  # all samples are narrower than 1080
    assert result["placeholder"].startswith("#") and len(result["placeholder"]) == 7
    *webps, fallback = result["variants"]
    assert [v["role"] for v in webps] == ["image"] * len(webps) and fallback["role"] == "fallback"
    for variant in result["variants"]:
        with Image.open(out / variant["file"]) as written:
            assert written.format == {"image/webp": "WEBP", "image/jpeg": "JPEG"}[variant["content_type"]]
            assert written.size == (variant["width"], variant["height"])
    assert (fallback["width"], fallback["height"]) == size


@pytest.mark.parametrize(
    ("size", "widths"),
    [((2000, 1000), [1080, 640, 320]), ((1080, 720), [1080, 640, 320]), ((500, 400), [500, 320]), ((100, 80), [100])],
)
def test_widths_never_upscale_and_keep_the_aspect(tmp_path, size, widths):
    result, _ = run(samples.jpeg(tmp_path / "in.jpg", size=size), tmp_path)
    webps = [v for v in result["variants"] if v["role"] == "image"]
    assert [v["width"] for v in webps] == widths
    assert [v["file"] for v in webps] == [f"w{w}.webp" for w in widths]
    for variant in webps:
        assert variant["height"] == round(variant["width"] * size[1] / size[0])
    assert result["variants"][-1]["file"] == f"w{widths[0]}.jpg"


def test_a_very_long_screenshot_is_shrunk_to_fit_webp(tmp_path):
    result, out = run(samples.jpeg(tmp_path / "long.jpg", size=(100, 20000)), tmp_path)
    assert result["height"] <= images.WEBP_MAX_SIDE
    files = [v["file"] for v in result["variants"]]
    assert len(files) == len(set(files))
    for name in files:
        with Image.open(out / name) as written:
            assert written.height <= images.WEBP_MAX_SIDE


def test_exif_orientation_is_applied(tmp_path):
    # Orientation 6: the camera was turned a quarter clockwise, so the stored left edge
    # (red in the sample) is the top of the photo as seen.
    result, out = run(samples.jpeg(tmp_path / "turned.jpg", size=(400, 300), orientation=6), tmp_path)
    assert (result["width"], result["height"]) == (300, 400)
    with Image.open(out / "w300.webp") as written:
        assert written.size == (300, 400)
        red, green, blue = written.convert("RGB").getpixel((150, 5))
        assert red > 200 and blue < 60
        assert written.convert("RGB").getpixel((150, 300))[2] > 200  # the rest is blue


def test_orientation_is_applied_before_choosing_the_decode_scale(tmp_path):
    # 3000 wide as stored but 2000 wide as seen: the largest width must still be 1080, sharp.
    result, _ = run(samples.jpeg(tmp_path / "big.jpg", size=(3000, 2000), orientation=8), tmp_path)
    assert (result["width"], result["height"]) == (1080, 1620)


@pytest.mark.parametrize("name", ALLOWED)
def test_metadata_is_gone_parsed_and_as_bytes(tmp_path, name):
    source = ALLOWED[name](tmp_path / name)
    raw = source.read_bytes()
    planted = [secret for secret in samples.IMAGE_SECRETS if secret in raw]
    assert planted, "the sample should carry metadata for this test to mean anything"
    result, out = run(source, tmp_path)
    for variant in result["variants"]:
        path = out / variant["file"]
        with Image.open(path) as written:
            assert not images.METADATA_KEYS & written.info.keys()
            assert not written.getexif()
            assert all(marker == "APP0" for marker, _ in getattr(written, "applist", []))
        data = path.read_bytes()
        assert [secret for secret in samples.IMAGE_SECRETS if secret in data] == []


def test_the_proof_step_catches_metadata(tmp_path):
    with pytest.raises(RuntimeError, match="metadata survived"):
        images.prove_clean(str(samples.jpeg(tmp_path / "raw.jpg")))


def test_transparency_is_kept_in_webp_and_laid_on_white_in_jpeg(tmp_path):
    source = tmp_path / "alpha.png"
    image = Image.new("RGBA", (40, 30), (0, 0, 0, 0))
    image.paste((255, 0, 0, 255), (0, 0, 20, 30))
    image.save(source)
    _, out = run(source, tmp_path)
    with Image.open(out / "w40.webp") as webp:
        assert webp.mode == "RGBA" and webp.getpixel((35, 15))[3] == 0
    with Image.open(out / "w40.jpg") as jpeg:
        assert jpeg.mode == "RGB"
        assert min(jpeg.getpixel((35, 15))) > 240  # white, not black
        assert jpeg.getpixel((5, 15))[0] > 200


def test_cmyk_jpeg_becomes_rgb(tmp_path):
    result, out = run(samples.cmyk_jpeg(tmp_path / "cmyk.jpg"), tmp_path)
    with Image.open(out / "w64.webp") as written:
        red, green, blue = written.getpixel((30, 20))
    assert red < 30 and green > 220 and blue > 220  # cyan
    assert result["placeholder"] == "#00ffff"


def test_16_bit_greyscale_is_scaled_not_clipped(tmp_path):
    _, out = run(samples.png_16bit(tmp_path / "deep.png", level=40000), tmp_path)
    with Image.open(out / "w40.webp") as written:
        assert abs(written.convert("L").getpixel((10, 10)) - 40000 / 256) < 4


def test_animated_input_keeps_its_first_frame_within_the_frame_limit(tmp_path):
    result, _ = run(samples.gif(tmp_path / "anim.gif", frames=4), tmp_path, max_frames=4)
    assert result["width"] == 60
    with pytest.raises(MediaRejected, match="too many frames: 5"):
        run(samples.gif(tmp_path / "more.gif", frames=5), tmp_path, max_frames=4)


def _truncated_jpeg(path: Path) -> Path:
    return samples.truncated(path, samples.jpeg(path.with_name("whole.jpg")))


def _truncated_webp(path: Path) -> Path:
    return samples.truncated(path, samples.webp(path.with_name("whole.webp")))


def _truncated_png(path: Path) -> Path:
    return samples.truncated(path, samples.png_with_text(path.with_name("whole.png")))


BAD = {
    "bomb.png": (samples.bomb_png, "image too large"),
    "tiff.jpg": (samples.tiff, "not a JPEG, PNG, WebP, GIF or HEIC image"),
    "bmp.jpg": (samples.bmp, "not a JPEG, PNG, WebP, GIF or HEIC image"),
    "pdf.jpg": (samples.pdf, "not a JPEG, PNG, WebP, GIF or HEIC image"),
    "psd.jpg": (samples.psd, "not a JPEG, PNG, WebP, GIF or HEIC image"),
    "svg.jpg": (samples.svg, "not a JPEG, PNG, WebP, GIF or HEIC image"),
    "html.jpg": (samples.html, "not a JPEG, PNG, WebP, GIF or HEIC image"),
    "empty.jpg": (samples.zero_bytes, "the file is empty"),
    "cut.jpg": (_truncated_jpeg, "damaged or truncated"),
    "cut.webp": (_truncated_webp, "damaged or truncated"),
    "cut.png": (_truncated_png, "damaged or truncated"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_inputs_are_refused_with_a_plain_reason(tmp_path, name):
    build, reason = BAD[name]
    with pytest.raises(MediaRejected, match=reason):
        run(build(tmp_path / name), tmp_path)
    assert list((tmp_path / "out").iterdir()) == []


def test_over_the_pixel_budget_is_refused_before_decoding(tmp_path):
    # 120 x 100 is between Pillow's warning and error thresholds for a 10,000-pixel
    # limit: the warning must refuse too. The real pixels are never decoded.
    with pytest.raises(MediaRejected, match="image too large"):
        run(samples.jpeg(tmp_path / "big.jpg", size=(120, 100)), tmp_path, max_pixels=10_000)
    run(samples.jpeg(tmp_path / "fits.jpg", size=(100, 100)), tmp_path, max_pixels=10_000)


def test_the_pixel_limit_is_not_left_changed(tmp_path):
    before = Image.MAX_IMAGE_PIXELS
    run(samples.jpeg(tmp_path / "in.jpg"), tmp_path, max_pixels=1_000_000)
    assert Image.MAX_IMAGE_PIXELS == before
