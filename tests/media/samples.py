"""Test media built on the fly with Pillow and PyAV: no binary fixtures in git.

Each builder writes one small file to `path` and returns the path. The metadata they
embed carries the SECRET_* markers below, so a test can prove by searching the output
bytes that none of it travelled. Files are tiny (tens of pixels, a second or so) so
the whole media suite stays fast.
"""

from __future__ import annotations

import math
import struct
import zlib
from fractions import Fraction
from pathlib import Path

import av
import pillow_heif
from PIL import Image, ImageCms, ImageDraw, PngImagePlugin
from PIL.ExifTags import GPS, IFD, Base

pillow_heif.register_heif_opener()

SECRET_CAMERA = "SECRET-CAMERA-MODEL"
SECRET_GPS = "SECRET-GPS-DATUM"
SECRET_COMMENT = "SECRET-JPEG-COMMENT"
SECRET_XMP = "SECRET-XMP-CREATOR"
SECRET_PNG_TEXT = "SECRET-PNG-TEXT"
SECRET_LOCATION = "+48.8577+002.2950+035.000/"
# Every marker an image builder may embed, plus the file signatures of EXIF and ICC blocks.
IMAGE_SECRETS = [s.encode() for s in (SECRET_CAMERA, SECRET_GPS, SECRET_COMMENT, SECRET_XMP, SECRET_PNG_TEXT)]
IMAGE_SECRETS += [b"Exif\x00\x00", b"acsp", b"x:xmpmeta"]
XMP = f'<x:xmpmeta xmlns:x="adobe:ns:meta/"><dc:creator>{SECRET_XMP}</dc:creator></x:xmpmeta>'.encode()


# -- images ---------------------------------------------------------------------------


def picture(size: tuple[int, int], mode: str = "RGB") -> Image.Image:
    """A picture whose left edge is red and the rest blue: orientation is visible."""
    image = Image.new(mode, size, (0, 0, 255, 255)[: len(mode)])
    ImageDraw.Draw(image).rectangle((0, 0, max(0, size[0] // 8 - 1), size[1]), fill=(255, 0, 0, 255)[: len(mode)])
    return image


def exif(orientation: int | None = None, gps: bool = True) -> Image.Exif:
    data = Image.Exif()
    data[Base.Model] = SECRET_CAMERA
    if orientation:
        data[Base.Orientation] = orientation
    if gps:
        gps_ifd = data.get_ifd(IFD.GPSInfo)
        gps_ifd[GPS.GPSLatitudeRef] = "N"
        gps_ifd[GPS.GPSLatitude] = (48.0, 51.0, 29.88)
        gps_ifd[GPS.GPSMapDatum] = SECRET_GPS
    return data


def srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def jpeg(path: Path, size=(400, 300), exif_gps=True, orientation=None, comment=True, icc=True, mode="RGB") -> Path:
    extra = {"exif": exif(orientation, exif_gps).tobytes(), "xmp": XMP}
    if comment:
        extra["comment"] = SECRET_COMMENT.encode()
    if icc:
        extra["icc_profile"] = srgb_icc()
    picture(size).convert(mode).save(path, "JPEG", quality=90, **extra)
    return path


def png_with_text(path: Path, size=(300, 200), mode="RGBA") -> Path:
    text = PngImagePlugin.PngInfo()
    text.add_text("Comment", SECRET_PNG_TEXT)
    text.add_itxt("Description", SECRET_PNG_TEXT, zip=True)
    picture(size, mode).save(path, "PNG", pnginfo=text, exif=exif().tobytes(), icc_profile=srgb_icc())
    return path


def png_16bit(path: Path, size=(40, 30), level=40000) -> Path:
    Image.new("I;16", size, level).save(path, "PNG")
    return path


def webp(path: Path, size=(300, 200), mode="RGB") -> Path:
    picture(size, mode).save(path, "WEBP", exif=exif().tobytes(), xmp=XMP, icc_profile=srgb_icc())
    return path


def gif(path: Path, frames=3, size=(60, 40)) -> Path:
    # Distinct colours, or Pillow merges identical frames into one.
    images = [Image.new("RGB", size, (index * 37 % 256, 80, 200)) for index in range(frames)]
    images[0].save(path, "GIF", save_all=True, append_images=images[1:], duration=50, comment=SECRET_COMMENT)
    return path


def heic(path: Path, size=(400, 300)) -> Path:
    picture(size).save(path, "HEIF", quality=60, exif=exif().tobytes(), xmp=XMP)
    return path


def cmyk_jpeg(path: Path, size=(64, 48)) -> Path:
    Image.new("CMYK", size, (255, 0, 0, 0)).save(path, "JPEG", quality=95)  # pure cyan ink
    return path


def bomb_png(path: Path, width=30000, height=30000) -> Path:
    """A PNG that declares width x height pixels in a few bytes: only its header is real."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)  # 8-bit greyscale
    rows = zlib.compress(b"\x00" * (width + 1) * 4)  # a few rows of zeros; the rest is missing
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", rows) + chunk(b"IEND", b""))
    return path


def tiff(path: Path) -> Path:
    picture((40, 30)).save(path, "TIFF")
    return path


def bmp(path: Path) -> Path:
    picture((40, 30)).save(path, "BMP")
    return path


def pdf(path: Path) -> Path:
    picture((40, 30)).save(path, "PDF")
    return path


def psd(path: Path) -> Path:
    """The start of a Photoshop file: signature, version 1, 3 channels of 30x40, 8-bit RGB."""
    path.write_bytes(b"8BPS" + struct.pack(">H6xHIIHH", 1, 3, 30, 40, 8, 3) + b"\x00" * 64)
    return path


def svg(path: Path) -> Path:
    path.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="40" height="30"><script>alert(1)</script></svg>')
    return path


def html(path: Path) -> Path:
    path.write_text("<!doctype html><html><body><script>alert(document.cookie)</script></body></html>")
    return path


def truncated(path: Path, source: Path) -> Path:
    """The first half of `source`."""
    data = source.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    return path


def zero_bytes(path: Path) -> Path:
    path.write_bytes(b"")
    return path


# -- videos ---------------------------------------------------------------------------


def _video_frame(index: int, size: tuple[int, int]) -> av.VideoFrame:
    image = picture(size)
    ImageDraw.Draw(image).rectangle((index % size[0], 0, index % size[0] + 4, 4), fill=(255, 255, 0))  # motion
    return av.VideoFrame.from_image(image)


def _tone(index: int, samples: int, rate: int) -> av.AudioFrame:
    """`samples` of a 440 Hz stereo tone, starting at sample `index * samples`."""
    start = index * samples
    values = [int(8000 * math.sin(2 * math.pi * 440 * (start + n) / rate)) for n in range(samples)]
    frame = av.AudioFrame(format="s16", layout="stereo", samples=samples)
    frame.planes[0].update(struct.pack(f"<{2 * samples}h", *(v for v in values for _ in range(2))))
    frame.sample_rate, frame.pts, frame.time_base = rate, start, Fraction(1, rate)
    return frame


def _write_video(
    path: Path,
    *,
    seconds: float,
    size: tuple[int, int],
    fps: int,
    codec: str,
    audio: str | None,
    format: str | None = None,
    metadata: dict[str, str] | None = None,
    container_options: dict[str, str] | None = None,
    rotation: int | None = None,
    video: bool = True,
    pts: list[int] | None = None,
) -> Path:
    with av.open(str(path), "w", format=format, container_options=container_options or {}) as out:
        out.metadata.update(metadata or {})
        streams = []
        if video:
            stream = out.add_stream(codec, rate=fps, options=_FAST.get(codec, {}))
            stream.width, stream.height = size
            stream.pix_fmt = {"mjpeg": "yuvj420p"}.get(codec, "yuv420p")
            if rotation is not None:
                stream.set_display_rotation(rotation)
            if pts:
                stream.codec_context.time_base = Fraction(1, 1000)  # pts in milliseconds
            frames = [_video_frame(i, size) for i in range(len(pts) if pts else round(seconds * fps))]
            for frame, stamp in zip(frames, pts or range(len(frames))):
                frame.pts = stamp
            streams.append((stream, frames))
        if audio:
            rate = 48000 if audio == "libopus" else 44100
            stream = out.add_stream(audio, rate=rate)
            chunk = 960 if audio == "libopus" else 1024
            streams.append((stream, [_tone(i, chunk, rate) for i in range(math.ceil(seconds * rate / chunk))]))
        for stream, frames in streams:
            for frame in [*frames, None]:
                out.mux(stream.encode(frame))
    return path


# Tiny, quick encodes; x265 would otherwise print its banner for every file.
_FAST = {
    "libx264": {"preset": "ultrafast"},
    "libx265": {"preset": "ultrafast", "x265-params": "log-level=error"},
    "libvpx-vp9": {"deadline": "realtime", "cpu-used": "8"},
}


def mp4(path: Path, seconds=1.0, size=(64, 48), fps=10, audio=True, codec="libx264", location=True) -> Path:
    metadata = {"location": SECRET_LOCATION, "title": SECRET_CAMERA} if location else {}
    audio_codec = "aac" if audio else None
    return _write_video(path, seconds=seconds, size=size, fps=fps, codec=codec, audio=audio_codec, metadata=metadata)


def mov(path: Path, seconds=1.0, size=(64, 48), fps=10, codec="libx264", rotation=-90) -> Path:
    """Like a phone's video: QuickTime, Apple location keys, held upright (display rotation)."""
    metadata = {
        "com.apple.quicktime.location.ISO6709": SECRET_LOCATION,
        "com.apple.quicktime.model": SECRET_CAMERA,
        "location": SECRET_LOCATION,
    }
    return _write_video(
        path, seconds=seconds, size=size, fps=fps, codec=codec, audio="aac", format="mov", metadata=metadata,
        container_options={"movflags": "use_metadata_tags"}, rotation=rotation,
    )


def webm(path: Path, seconds=1.0, size=(64, 48), fps=10) -> Path:
    return _write_video(path, seconds=seconds, size=size, fps=fps, codec="libvpx-vp9", audio="libopus", format="webm")


def audio_only(path: Path, seconds=1.0) -> Path:
    return _write_video(path, seconds=seconds, size=(0, 0), fps=0, codec="", audio="aac", format="mp4", video=False)


def frame_burst_mkv(path: Path, steady_seconds=7, fps=10, burst=300) -> Path:
    """A Matroska file that plays `fps` for the probe's first seconds, then crams `burst`
    frames into one millisecond each: the header looks honest, the frame count is not."""
    steady = [round(i * 1000 / fps) for i in range(steady_seconds * fps)]
    crammed = [steady[-1] + 1 + i for i in range(burst)]
    return _write_video(
        path, seconds=0, size=(32, 24), fps=fps, codec="libx264", audio=None, format="matroska", pts=steady + crammed
    )


def hls_playlist_named_mp4(path: Path, target: Path) -> Path:
    path.write_text(f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target.name}\n#EXT-X-ENDLIST\n")
    return path


def ffconcat_named_mp4(path: Path, target: Path) -> Path:
    """An FFmpeg concat script: a naive demuxer would play `target` instead of this file."""
    path.write_text(f"ffconcat version 1.0\nfile '{target.name}'\n")
    return path
