"""The perceptual hash: near for copies of a picture, far for different pictures, storable in SQLite."""

from __future__ import annotations

import sqlite3

from PIL import Image, ImageDraw, ImageEnhance

from instamini.media.images import process_image
from instamini.media.videos import process_video
from instamini.ranker.phash import dhash, hamming, to_hex, to_signed, to_unsigned
from tests.media import samples
from tests.media.test_images import settings
from tests.ranker.scenes import reopened, scene

DISTANCE = 6  # the default [moderation] blocklist_distance


def test_copies_of_a_picture_stay_close():
    for seed in range(6):
        original = scene(seed)
        reference = dhash(original)
        copies = {
            "jpeg q40": reopened(original, "JPEG", quality=40),
            "webp q30": reopened(original, "WEBP", quality=30),
            "png": reopened(original, "PNG"),
            "smaller": reopened(original.resize((300, 225), Image.Resampling.BILINEAR), quality=60),
            "larger": original.resize((1200, 900), Image.Resampling.BICUBIC),
            "brighter": ImageEnhance.Brightness(original).enhance(1.08),
            "greyscale": original.convert("L"),
            "transparent": original.convert("RGBA"),
        }
        marked = original.copy()
        ImageDraw.Draw(marked).text((5, 5), "@someone", fill="white")
        copies["watermark"] = marked
        for name, copy in copies.items():
            assert hamming(reference, dhash(copy)) <= DISTANCE, (seed, name)


def test_different_pictures_are_far_apart():
    hashes = [dhash(scene(seed)) for seed in range(12)]
    distances = [hamming(a, b) for i, a in enumerate(hashes) for b in hashes[i + 1 :]]
    assert min(distances) > DISTANCE
    assert sum(distances) / len(distances) > 16
    # A crop or a mirror is a different picture to this hash (documented, not a goal).
    picture = scene(1)
    assert hamming(dhash(picture), dhash(picture.transpose(Image.Transpose.FLIP_LEFT_RIGHT))) > DISTANCE


def test_hamming():
    assert hamming(0, 0) == 0
    assert hamming(0, (1 << 64) - 1) == 64
    assert hamming(0b1011, 0b0001) == 2
    assert hamming(-1, (1 << 64) - 1) == 0  # a signed value read back from SQLite compares the same


def test_signed_round_trip_through_sqlite():
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE t (phash INTEGER)")
    values = [0, 1, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 0xDEADBEEFCAFEF00D, dhash(scene(3))]
    for value in values:
        assert -(1 << 63) <= to_signed(value) < 1 << 63
        conn.execute("INSERT INTO t VALUES (?)", (to_signed(value),))
    stored = [row[0] for row in conn.execute("SELECT phash FROM t")]
    assert [to_unsigned(value) for value in stored] == values
    assert to_hex(to_signed(1 << 63)) == "8000000000000000"
    assert 0 <= dhash(scene(3)) < 1 << 64


def test_the_worker_hashes_upright_images_and_video_posters(tmp_path):
    """process_image hashes after EXIF orientation; process_video hashes its poster frame."""
    upright = scene(4)
    sideways = tmp_path / "sideways.jpg"  # stored turned, with EXIF saying "rotate 90 clockwise to view"
    exif = Image.Exif()
    exif[0x0112] = 6
    upright.transpose(Image.Transpose.ROTATE_90).save(sideways, "JPEG", quality=90, exif=exif)
    out = tmp_path / "out"
    out.mkdir()
    result = process_image(str(sideways), str(out), settings())
    assert (result["width"], result["height"]) == upright.size
    assert hamming(result["phash"], dhash(upright)) <= DISTANCE

    video_out = tmp_path / "video"
    video_out.mkdir()
    video = process_video(str(samples.mp4(tmp_path / "clip.mp4")), str(video_out), settings())
    with Image.open(video_out / "poster.jpg") as poster:
        assert hamming(video["phash"], dhash(poster)) <= DISTANCE
