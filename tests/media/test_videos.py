"""process_video, called in-process on files built by samples.py: the transcode, rotation,
location metadata proven gone, and the refusals (including files that try to make
FFmpeg read another file)."""

from __future__ import annotations

from pathlib import Path

import av
import msgspec
import pytest
from PIL import Image

from instamini.config import MediaConfig
from instamini.media import videos
from instamini.media.errors import MediaRejected
from instamini.media.videos import process_video

from . import samples


def settings(**overrides) -> dict:
    return {**msgspec.to_builtins(MediaConfig()), **overrides}


def run(source: Path, tmp_path: Path, **overrides) -> tuple[dict, Path]:
    out = tmp_path / "out"
    out.mkdir(exist_ok=True)
    return process_video(str(source), str(out), settings(**overrides)), out


def streams_of(path: Path) -> dict[str, tuple]:
    with av.open(str(path)) as container:
        assert container.format.name.startswith("mov,mp4")
        return {
            s.type: (s.codec_context.name, s.codec_context.width, s.codec_context.height, s.codec_context.format.name)
            if s.type == "video"
            else (s.codec_context.name, s.rate, s.codec_context.layout.name)
            for s in container.streams
        }


def test_mp4_becomes_h264_aac_with_poster_and_thumbnails(tmp_path):
    result, out = run(samples.mp4(tmp_path / "clip.mp4", seconds=1, size=(64, 48)), tmp_path)
    assert (result["kind"], result["width"], result["height"]) == ("video", 64, 48)
    assert 900 <= result["duration_ms"] <= 1100
    assert result["placeholder"].startswith("#")
    roles = [(v["file"], v["role"], v["content_type"]) for v in result["variants"]]
    assert roles == [
        ("h48.mp4", "video", "video/mp4"),
        ("poster.webp", "poster", "image/webp"),
        ("poster.jpg", "poster", "image/jpeg"),
        ("thumb0.webp", "thumbnail", "image/webp"),
        ("thumb1.webp", "thumbnail", "image/webp"),
        ("thumb2.webp", "thumbnail", "image/webp"),
    ]
    assert streams_of(out / "h48.mp4") == {"video": ("h264", 64, 48, "yuv420p"), "audio": ("aac", 44100, "stereo")}
    for variant in result["variants"][1:]:
        with Image.open(out / variant["file"]) as still:
            assert still.size == (variant["width"], variant["height"]) == (64, 48)
    # A box moves across the sample, so thumbnails from different moments differ.
    thumbnails = {(out / f"thumb{i}.webp").read_bytes() for i in range(3)}
    assert len(thumbnails) == 3


def test_the_mp4_starts_with_its_index(tmp_path):
    _, out = run(samples.mp4(tmp_path / "clip.mp4"), tmp_path)
    data = (out / "h48.mp4").read_bytes()
    assert data.index(b"moov") < data.index(b"mdat")  # +faststart: playable while downloading


def test_large_video_is_scaled_to_the_height_limit_with_even_sides(tmp_path):
    result, out = run(samples.mp4(tmp_path / "big.mp4", size=(330, 250), audio=False), tmp_path, video_height=144)
    assert (result["width"], result["height"]) == (190, 144)
    assert streams_of(out / "h144.mp4") == {"video": ("h264", 190, 144, "yuv420p")}


def test_phone_mov_is_turned_upright_and_loses_its_location(tmp_path):
    source = samples.mov(tmp_path / "phone.mov", size=(64, 48), rotation=-90)
    raw = source.read_bytes()
    assert samples.SECRET_LOCATION.encode() in raw and samples.SECRET_CAMERA.encode() in raw
    result, out = run(source, tmp_path)
    assert (result["width"], result["height"]) == (48, 64)
    video = out / "h64.mp4"
    with av.open(str(video)) as container:
        frame = next(container.decode(video=0))
        assert (frame.width, frame.height, frame.rotation) == (48, 64, 0)
        # The red stripe stored on the left is on top once upright.
        red, green, blue = frame.to_image().getpixel((24, 2))
        assert red > 180 and blue < 90
        assert all("location" not in key.lower() for key in container.metadata)
    with Image.open(out / "poster.webp") as poster:
        assert poster.getpixel((24, 2))[0] > 180 and poster.getpixel((24, 40))[2] > 180
    data = video.read_bytes()
    for secret in (samples.SECRET_LOCATION.encode(), samples.SECRET_CAMERA.encode(), b"ISO6709", b"loci", b"\xa9xyz"):
        assert secret not in data


def test_mp4_location_and_title_are_not_copied(tmp_path):
    source = samples.mp4(tmp_path / "clip.mp4")
    with av.open(str(source)) as original:
        assert "location" in original.metadata  # the sample does carry one
    _, out = run(source, tmp_path)
    with av.open(str(out / "h48.mp4")) as container:
        tags = [*container.metadata, *(key for stream in container.streams for key in stream.metadata)]
    assert not [key for key in tags if "location" in key or key == "title"]
    assert b"loci" not in (out / "h48.mp4").read_bytes()


@pytest.mark.parametrize(
    ("name", "build"),
    [
        ("clip.webm", samples.webm),
        ("hevc.mov", lambda path: samples.mov(path, codec="libx265", size=(64, 64), rotation=None)),
        ("silent.mp4", lambda path: samples.mp4(path, audio=False)),
    ],
)
def test_other_allowed_inputs_transcode(tmp_path, name, build):
    result, out = run(build(tmp_path / name), tmp_path)
    streams = streams_of(out / result["variants"][0]["file"])
    assert streams["video"][0] == "h264"
    assert ("audio" in streams) == (name != "silent.mp4")


def test_the_proof_step_catches_location(tmp_path):
    with pytest.raises(RuntimeError, match="location metadata survived"):
        videos.prove_clean(str(samples.mp4(tmp_path / "clip.mp4")))


def _truncated_mp4(path: Path) -> Path:
    return samples.truncated(path, samples.mp4(path.with_name("whole.mp4")))


BAD = {
    "audio.mp4": (samples.audio_only, {}, "no video track"),
    "mpeg2.mp4": (lambda path: samples.mp4(path, codec="mpeg2video"), {}, "video codec not supported: mpeg2video"),
    "mjpeg.mov": (lambda path: samples.mp4(path, codec="mjpeg"), {}, "video codec not supported: mjpeg"),
    "opus.webm": (samples.webm, {"audio_codecs": ["aac"]}, "audio codec not supported: opus"),
    "long.mp4": (lambda path: samples.mp4(path, seconds=2), {"max_video_seconds": 1}, "video too long: 2 seconds"),
    "wide.mp4": (samples.mp4, {"max_video_pixels": 64 * 48 - 1}, "video size not allowed: 64 x 48"),
    "fast.mp4": (samples.mp4, {"max_video_fps": 5}, "frame rate too high: 10 per second"),
    "burst.mkv": (samples.frame_burst_mkv, {"max_video_fps": 30}, "more frames than its length"),
    "cut.mp4": (_truncated_mp4, {}, "could not read the video"),
    "empty.mp4": (samples.zero_bytes, {}, "the file is empty"),
    "photo.mp4": (samples.jpeg, {}, "not an MP4, MOV or WebM video"),
    "page.mp4": (samples.html, {}, "not an MP4, MOV or WebM video"),
}


@pytest.mark.parametrize("name", BAD)
def test_bad_inputs_are_refused_with_a_plain_reason(tmp_path, name):
    build, overrides, reason = BAD[name]
    with pytest.raises(MediaRejected, match=reason):
        run(build(tmp_path / name), tmp_path, **overrides)


def test_the_frame_burst_passes_the_header_checks(tmp_path):
    # What makes burst.mkv a real test: its header claims 10 fps over 7.3 s.
    with av.open(str(samples.frame_burst_mkv(tmp_path / "burst.mkv"))) as container:
        stream = container.streams.video[0]
        assert stream.average_rate == 10 and container.duration / av.time_base < 8
        assert sum(1 for _ in container.decode(stream)) > (7.3 + 1) * 30


@pytest.mark.parametrize("build", [samples.hls_playlist_named_mp4, samples.ffconcat_named_mp4])
def test_playlists_named_mp4_never_read_their_target(tmp_path, build):
    target = samples.mp4(tmp_path / "private.mp4", seconds=1)
    evil = build(tmp_path / "upload.mp4", target)
    with pytest.raises(MediaRejected, match="not an MP4, MOV or WebM video"):
        run(evil, tmp_path)
    assert list((tmp_path / "out").iterdir()) == []  # no video of the target was made


def test_ffmpeg_left_to_guess_would_read_the_target(tmp_path):
    # Why the sniffing matters: plain av.open follows the concat script to another file.
    target = samples.mp4(tmp_path / "private.mp4", seconds=1)
    evil = samples.ffconcat_named_mp4(tmp_path / "upload.mp4", target)
    with av.open(str(evil)) as container:
        assert container.format.name == "concat"
        assert sum(1 for _ in container.decode(video=0)) == 10
    # And our FFmpeg options alone refuse it, even without the sniffing.
    with pytest.raises(av.error.FFmpegError):
        av.open(str(evil), container_options=videos.OPEN_OPTIONS)


def test_decoding_errors_do_not_echo_file_contents(tmp_path):
    source = tmp_path / "garbage.mp4"
    source.write_bytes(b"\x00\x00\x00\x18ftypisom" + b"SECRET-BYTES" * 100)
    with pytest.raises(MediaRejected) as refused:
        run(source, tmp_path)
    assert "SECRET" not in str(refused.value)
