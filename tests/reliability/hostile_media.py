"""A corpus of hostile uploads, each made at test time, with the outcome the server owes it.

The idea: every trick a stranger can play with an upload, as one list. Each `Entry` has
a name, a builder that makes its bytes when the test runs (no binary fixtures in git:
Pillow, PyAV and a few hand-patched headers), how it is sent, and what must happen:
refused at the door (415 not a photo or video, 413 too big, 400 malformed), or accepted
and then `failed` in a sandboxed worker with a plain reason. A few carry a payload inside
a file that is otherwise a real photo or video (HTML after a JPEG's end, a file attached
to a Matroska video, a path in the file name): those are processed, and what is served
must be our re-encoded pixels only.

Several entries aim at the canary: a real MP4 beside the uploads (where a relative
reference from an upload resolves) and in the test's tmp directory (for absolute ones),
carrying a unique marker. HLS and ffconcat playlists name it, an MP4 reference movie
points its data reference (`dref` alias) at it, a Matroska file carries it as an
attachment. If any of them made FFmpeg read the canary, its job would come back
`ready`; if any original bytes were ever served, the marker would be in the blob store.

Cost: building the corpus takes about a second (the largest piece is a 41 MB stream
that is generated chunk by chunk, never held in memory).
"""

from __future__ import annotations

import io
import secrets
import struct
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import av
from PIL import Image

from tests.media import samples

# -- the canary --------------------------------------------------------------------------


@dataclass(frozen=True)
class Canary:
    """A private file no upload may ever read: a real MP4 whose title is a unique marker."""

    marker: bytes
    beside_uploads: Path  # data/uploads/canary.mp4: what a relative reference from an upload names
    outside: Path  # the same file in the test's tmp directory: what an absolute reference names

    @classmethod
    def plant(cls, uploads_dir: Path, tmp_dir: Path) -> Canary:
        marker = f"CANARY-{secrets.token_hex(12)}"
        uploads_dir.mkdir(parents=True, exist_ok=True)
        beside = samples._write_video(
            uploads_dir / "canary.mp4", seconds=1, size=(64, 48), fps=10, codec="libx264", audio=None,
            metadata={"title": marker},
        )
        outside = tmp_dir / "canary.mp4"
        outside.write_bytes(beside.read_bytes())
        return cls(marker.encode(), beside, outside)


@dataclass(frozen=True)
class Materials:
    """What builders get: a scratch directory for the files samples.py writes, and the canary."""

    scratch: Path
    canary: Canary


# -- outcomes and entries ----------------------------------------------------------------


@dataclass(frozen=True)
class Outcome:
    status: int  # of the upload request
    job: str | None = None  # "failed" or "ready", for an accepted upload (202)
    says: str = ""  # part of the refusal's detail, or of the failed job's reason

    def __str__(self) -> str:
        return f"{self.status} {self.job} ({self.says})" if self.job else f"{self.status} ({self.says})"


NOT_MEDIA = Outcome(415, says="not a supported photo or video")
UNREADABLE_IMAGE = Outcome(202, "failed", "not a JPEG, PNG, WebP, GIF or HEIC image")
DAMAGED_IMAGE = Outcome(202, "failed", "damaged or truncated")
IMAGE_TOO_LARGE = Outcome(202, "failed", "image too large")
UNREADABLE_VIDEO = Outcome(202, "failed", "could not read the video")
RE_ENCODED = Outcome(202, "ready")

Made = bytes | Iterable[bytes]


@dataclass(frozen=True)
class Entry:
    name: str
    filename: str
    make: Callable[[Materials], Made]
    expect: Outcome
    # How it travels: "multipart" (the `file` part, with part_type), "raw" (the bytes as the
    # whole body, Content-Type part_type), "no_boundary" (multipart without its boundary),
    # "streamed" (multipart, chunked, from an iterator), "declared_huge" (a Content-Length
    # of 10 TB), "cut_off" (the client hangs up halfway), "many_fields" (40 form fields with
    # 4 KB names before the file).
    send: str = "multipart"
    part_type: str = "application/octet-stream"
    group: str = ""


def _sample(build: Callable[..., Path], name: str, **options) -> Callable[[Materials], bytes]:
    return lambda m: build(m.scratch / name, **options).read_bytes()


# -- crafted headers: bombs that cost a few bytes -----------------------------------------


def _small(format: str, **options) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (16, 16), (10, 200, 10)).save(buffer, format, **options)
    return buffer.getvalue()


def jpeg_claiming(width: int, height: int) -> bytes:
    """A 16x16 JPEG whose frame header (SOF0) is patched to say width x height."""
    data = bytearray(_small("JPEG"))
    sof = data.index(b"\xff\xc0")
    data[sof + 5 : sof + 9] = struct.pack(">HH", height, width)
    return bytes(data)


def gif_claiming_screen(width: int, height: int) -> bytes:
    data = bytearray(_small("GIF"))
    data[6:10] = struct.pack("<HH", width, height)  # the logical screen, what Pillow calls its size
    return bytes(data)


def gif_with_frames(count: int) -> bytes:
    """`count` distinct 2x2 frames (Pillow merges identical ones), a few bytes each."""
    frames = []
    for index in range(count):
        frame = Image.new("P", (2, 2), 0)
        frame.putpixel((index % 2, index // 2 % 2), 1 + index % 200)
        frames.append(frame)
    buffer = io.BytesIO()
    frames[0].save(buffer, "GIF", save_all=True, append_images=frames[1:], duration=10)
    return buffer.getvalue()


def webp_claiming(width: int, height: int) -> bytes:
    """A lossy WebP whose VP8 frame header is patched to width x height (14 bits each)."""
    data = bytearray(_small("WEBP", quality=50))
    start = data.index(b"VP8 ") + 8 + 3  # chunk header, then the 3-byte frame tag
    assert data[start : start + 3] == b"\x9d\x01\x2a"  # the VP8 start code
    data[start + 3 : start + 7] = struct.pack("<HH", width & 0x3FFF, height & 0x3FFF)
    return bytes(data)


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def _with_chunk(png: bytes, kind: bytes, data: bytes) -> bytes:
    return png[:33] + _png_chunk(kind, data) + png[33:]  # right after IHDR


def apng_claiming_frames(count: int) -> bytes:
    return _with_chunk(_small("PNG"), b"acTL", struct.pack(">II", count, 0))


def png_text_bomb(megabytes: int) -> bytes:
    """A tiny PNG with a zTXt chunk that inflates to `megabytes` of zeros."""
    packer = zlib.compressobj(9)
    block = b"\x00" * (1 << 20)
    text = b"".join(packer.compress(block) for _ in range(megabytes)) + packer.flush()
    return _with_chunk(_small("PNG"), b"zTXt", b"Comment\x00\x00" + text)


def png_of_zeros(width: int, height: int) -> bytes:
    """A real RGBA PNG of transparent black: within the pixel budget, 1000:1 compressed.

    It decodes honestly; what it costs is memory (4 bytes a pixel, then copies), which
    is the worker's RLIMIT_AS to stop."""
    packer = zlib.compressobj(9)
    row = b"\x00" * (width * 4 + 1)  # filter byte 0, then the pixels
    rows = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    header = struct.pack(">IIBBBBB", width, height, 8, 6, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", rows) + _png_chunk(b"IEND", b"")


def jpeg_then_html(marker: bytes) -> bytes:
    """A real JPEG, then a web page after its end: a browser sniffing it could run the page."""
    page = b"<html><script>alert(document.cookie)</script>" + marker + b"</html>"
    return _small("JPEG", quality=90) + page


def jpeg_with_comment(marker: bytes) -> bytes:
    return _small("JPEG", comment=marker)


# -- videos: references to other files ------------------------------------------------------


def _boxes(data: bytes, start: int, end: int) -> Iterator[tuple[int, int, bytes]]:
    offset = start
    while offset + 8 <= end:
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        yield offset, size, kind
        offset += size


def _alias_to(name: str) -> bytes:
    """A dref `alis` entry (a classic Mac OS alias record) naming `name` one level down.

    The layout is what FFmpeg's mov demuxer parses: volume, file name, the levels from
    the alias and to the target (1 and 1: the same directory as the movie), then an
    absolute path record (type 2) whose last part is the target."""
    path = f"vol:dir:{name}".encode()
    fixed = b"\x00" * 10 + bytes([3]) + b"vol".ljust(27, b"\x00") + b"\x00" * 12
    fixed += bytes([len(name)]) + name.encode().ljust(63, b"\x00") + b"\x00" * 16
    fixed += struct.pack(">hh", 1, 1) + b"\x00" * 16
    records = struct.pack(">hH", 2, len(path)) + path + b"\x00" * (len(path) % 2) + struct.pack(">hH", -1, 0)
    body = b"alis" + b"\x00\x00\x00\x00" + fixed + records
    return struct.pack(">I", len(body) + 4) + body


_MOOV_PATH = {b"moov", b"trak", b"mdia", b"minf", b"dinf"}


def _aliased(box: bytes, target: str) -> bytes:
    kind = box[4:8]
    if kind == b"dref":
        body = box[8:12] + struct.pack(">I", 1) + _alias_to(target)  # version/flags, one entry
        return struct.pack(">I", len(body) + 8) + kind + body
    if kind not in _MOOV_PATH:
        return box
    children = [box[i : i + size] for i, size, child in _boxes(box, 8, len(box)) if child != b"udta"]
    inner = b"".join(_aliased(child, target) for child in children)
    return struct.pack(">I", len(inner) + 8) + kind + inner


def reference_movie(movie: bytes, target: str) -> bytes:
    """`movie` (its moov last, as PyAV writes it) turned into a QuickTime reference movie:
    its own sample data zeroed, its data reference an alias to `target`, whose bytes sit
    at the very offsets the sample table names. Its metadata (udta) is dropped, so the
    marker is in the target only. FFmpeg with drefs enabled plays `target`."""
    out = bytearray()
    for offset, size, kind in _boxes(movie, 0, len(movie)):
        box = movie[offset : offset + size]
        if kind == b"mdat":
            box = box[:8] + b"\x00" * (size - 8)
        elif kind == b"moov":
            box = _aliased(box, target)
        out += box
    return bytes(out)


def matroska_with_attachment(path: Path, payload: bytes, *, with_video: bool) -> bytes:
    """A Matroska file carrying `payload` as an attached file, with or without a real video."""
    with av.open(str(path), "w", format="matroska") as out:
        out.add_attachment("notes.txt", "text/plain", payload)
        if not with_video:
            out.start_encoding()  # the header, and the attachment in it, is all there is
        else:
            stream = out.add_stream("libx264", rate=10, options={"preset": "ultrafast"})
            stream.width, stream.height, stream.pix_fmt = 32, 24, "yuv420p"
            for index in range(10):
                frame = av.VideoFrame.from_image(samples.picture((32, 24)))
                frame.pts = index
                out.mux(stream.encode(frame))
            out.mux(stream.encode(None))
    return path.read_bytes()


def matroska_claiming_seconds(path: Path, seconds: float) -> bytes:
    """Frames spread over 1,000 s, with the header's Duration patched to `seconds`."""
    stamps = [0, 500, 1000, 999_000, 1_000_000]  # milliseconds
    samples._write_video(
        path, seconds=0, size=(16, 16), fps=1, codec="libx264", audio=None, format="matroska", pts=stamps
    )
    data = bytearray(path.read_bytes())
    at = data.index(b"\x44\x89")  # the Duration element, in TimecodeScale units (1 ms)
    if data[at + 2] == 0x88:
        data[at + 3 : at + 11] = struct.pack(">d", seconds * 1000)
    else:
        data[at + 3 : at + 7] = struct.pack(">f", seconds * 1000)
    return bytes(data)


def video(path: Path, *, seconds: float, size: tuple[int, int], fps: int) -> bytes:
    return samples._write_video(path, seconds=seconds, size=size, fps=fps, codec="libx264", audio=None).read_bytes()


def truncated(data: bytes) -> bytes:
    return data[: len(data) // 2]


def zeros(total: int, head: bytes = b"") -> Iterator[bytes]:
    """`head`, then zeros up to `total` bytes, a megabyte at a time."""
    yield head
    left, block = total - len(head), b"\x00" * (1 << 20)
    while left > 0:
        yield block[: min(left, len(block))]
        left -= len(block)


FTYP_MP4 = b"\x00\x00\x00\x14ftypisom\x00\x00\x02\x00isom"
FTYP_HEIC = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"
EBML = b"\x1a\x45\xdf\xa3"


def hls(target: str) -> bytes:
    return f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n".encode()


def ffconcat(target: str) -> bytes:
    return f"ffconcat version 1.0\nfile '{target}'\n".encode()


# -- the corpus -------------------------------------------------------------------------------


def corpus(image_cap_bytes: int) -> list[Entry]:
    """Every entry; `image_cap_bytes` is the server's photo cap (one entry streams past it)."""
    big = Outcome(413, says="larger than")
    return [
        # Decompression bombs: headers that promise billions of pixels or frames.
        Entry("PNG declaring 30000 x 30000", "bomb.png", _sample(samples.bomb_png, "bomb.png"), IMAGE_TOO_LARGE, group="bomb"),
        Entry("JPEG declaring 65535 x 65535", "huge.jpg", lambda m: jpeg_claiming(65535, 65535), IMAGE_TOO_LARGE, group="bomb"),
        Entry("GIF screen 65535 x 65535", "huge.gif", lambda m: gif_claiming_screen(65535, 65535), IMAGE_TOO_LARGE, group="bomb"),
        Entry("GIF with 5,000 frames", "frames.gif", lambda m: gif_with_frames(5000),
              Outcome(202, "failed", "too many frames: 5000"), group="bomb"),
        Entry("APNG declaring 2^31 frames", "frames.png", lambda m: apng_claiming_frames(2**31 - 1),
              Outcome(202, "failed", "too many frames"), group="bomb"),
        Entry("WebP declaring 16383 x 16383", "huge.webp", lambda m: webp_claiming(16383, 16383), IMAGE_TOO_LARGE, group="bomb"),
        Entry("PNG zTXt inflating to 64 MB", "text.png", lambda m: png_text_bomb(64), DAMAGED_IMAGE, group="bomb"),
        Entry("PNG 8000 x 8000 RGBA of zeros (250 KB)", "zeros.png", lambda m: png_of_zeros(8000, 8000),
              Outcome(202, "failed", "memory"), group="bomb"),
        # Disguised formats: the name says photo, the bytes say otherwise.
        Entry("SVG with a script named .jpg", "photo.jpg", _sample(samples.svg, "a.svg"), NOT_MEDIA, group="disguised"),
        Entry("HTML named .jpg", "photo.jpg", _sample(samples.html, "a.html"), NOT_MEDIA, group="disguised"),
        Entry("PDF named .jpg", "photo.jpg", _sample(samples.pdf, "a.pdf"), NOT_MEDIA, group="disguised"),
        Entry("PSD named .jpg", "photo.jpg", _sample(samples.psd, "a.psd"), NOT_MEDIA, group="disguised"),
        Entry("TIFF named .jpg", "photo.jpg", _sample(samples.tiff, "a.tiff"), NOT_MEDIA, group="disguised"),
        Entry("BMP named .jpg", "photo.jpg", _sample(samples.bmp, "a.bmp"), NOT_MEDIA, group="disguised"),
        Entry("GIF/JavaScript polyglot", "photo.gif", lambda m: b"GIF89a/*\x00\x00\x00\x00*/=alert(document.domain)//;",
              UNREADABLE_IMAGE, group="disguised"),
        Entry("JPEG signature, then HTML", "photo.jpg", lambda m: b"\xff\xd8\xff\xe0<html><script>alert(1)</script></html>",
              DAMAGED_IMAGE, group="disguised"),
        Entry("HEIC brand, then HTML", "photo.heic", lambda m: FTYP_HEIC + b"<html><script>alert(1)</script></html>",
              UNREADABLE_IMAGE, group="disguised"),
        Entry("real JPEG, then a web page with the marker", "photo.jpg", lambda m: jpeg_then_html(m.canary.marker),
              RE_ENCODED, group="disguised"),
        # Files that name another file: playlists, concat scripts, references, attachments.
        Entry("HLS playlist naming the canary", "clip.mp4", lambda m: hls("canary.mp4"), NOT_MEDIA, group="reference"),
        Entry("HLS playlist with the canary's absolute URL", "clip.m3u8",
              lambda m: hls(m.canary.outside.as_uri()), NOT_MEDIA, group="reference"),
        Entry("ffconcat script naming the canary", "clip.mp4", lambda m: ffconcat("canary.mp4"), NOT_MEDIA, group="reference"),
        Entry("ftyp box, then an ffconcat script", "clip.mp4", lambda m: FTYP_MP4 + b"\n" + ffconcat("canary.mp4"),
              UNREADABLE_VIDEO, group="reference"),
        Entry("EBML magic, then an HLS playlist", "clip.mkv", lambda m: EBML + hls(m.canary.outside.as_uri()),
              UNREADABLE_VIDEO, group="reference"),
        Entry("MP4 whose dref alias points at the canary", "clip.mp4",
              lambda m: reference_movie(m.canary.beside_uploads.read_bytes(), "canary.mp4"),
              Outcome(202, "failed", "no video frames could be decoded"), group="reference"),
        Entry("Matroska video with the canary attached", "clip.mkv",
              lambda m: matroska_with_attachment(m.scratch / "att.mkv", m.canary.outside.read_bytes(), with_video=True),
              RE_ENCODED, group="reference"),
        Entry("Matroska with only the canary attached", "clip.mkv",
              lambda m: matroska_with_attachment(m.scratch / "only.mkv", m.canary.outside.read_bytes(), with_video=False),
              UNREADABLE_VIDEO, group="reference"),
        # Truncated and empty.
        Entry("truncated JPEG", "cut.jpg", lambda m: truncated(samples.jpeg(m.scratch / "w.jpg").read_bytes()), DAMAGED_IMAGE,
              group="truncated"),
        Entry("truncated PNG", "cut.png", lambda m: truncated(samples.png_with_text(m.scratch / "w.png").read_bytes()),
              DAMAGED_IMAGE, group="truncated"),
        Entry("truncated MP4", "cut.mp4", lambda m: truncated(samples.mp4(m.scratch / "w.mp4").read_bytes()),
              UNREADABLE_VIDEO, group="truncated"),
        # WebM is written as it plays: the frames before the cut are a video, re-encoded like any other.
        Entry("truncated WebM", "cut.webm", lambda m: truncated(samples.webm(m.scratch / "w.webm").read_bytes()),
              RE_ENCODED, group="truncated"),
        Entry("zero bytes", "empty.jpg", lambda m: b"", Outcome(400, says="empty"), group="truncated"),
        Entry("upload cut off halfway", "photo.jpg", lambda m: jpeg_with_comment(m.canary.marker) * 64,
              Outcome(0), send="cut_off", group="truncated"),
        # Absurd sizes.
        Entry("photo streamed past the cap", "big.jpg", lambda m: zeros(image_cap_bytes + (1 << 20), _small("JPEG")),
              big, send="streamed", group="size"),
        Entry("Content-Length of 10 TB", "big.jpg", lambda m: _small("JPEG"), Outcome(413), send="declared_huge", group="size"),
        Entry("40 form fields with 4 KB names", "photo.jpg", lambda m: _small("JPEG"),
              Outcome(400, says="form fields besides the file are too long"), send="many_fields", group="size"),
        Entry("20 KB file name", "x" * 20_000 + ".jpg", lambda m: _small("JPEG"), Outcome(400, says="multipart"),
              group="size"),
        # Wrong Content-Type, and file names that try to steer where the file goes.
        Entry("JPEG as the raw body (image/jpeg)", "-", lambda m: _small("JPEG"), Outcome(415, says="multipart/form-data"),
              send="raw", part_type="image/jpeg", group="request"),
        Entry("JSON body", "-", lambda m: b'{"file": "x"}', Outcome(415, says="multipart/form-data"), send="raw",
              part_type="application/json", group="request"),
        Entry("multipart without a boundary", "photo.jpg", lambda m: _small("JPEG"), Outcome(415), send="no_boundary",
              group="request"),
        Entry("HTML sent as image/jpeg", "photo.jpg", _sample(samples.html, "b.html"), NOT_MEDIA, part_type="image/jpeg",
              group="request"),
        Entry("file name ../../x.jpg", "../../x.jpg", lambda m: jpeg_with_comment(m.canary.marker), RE_ENCODED,
              part_type="image/jpeg", group="request"),
        Entry("absolute file name", "/tmp/instamini-hostile-x.jpg", lambda m: jpeg_with_comment(m.canary.marker), RE_ENCODED,
              group="request"),
        # Absurd videos: length, frame rate, size, and headers that lie about them.
        Entry("video 200 s long", "long.mp4", lambda m: video(m.scratch / "long.mp4", seconds=200, size=(16, 16), fps=1),
              Outcome(202, "failed", "video too long: 200 seconds"), group="video"),
        Entry("header says 1 s, frames span 1000 s", "long.mkv", lambda m: matroska_claiming_seconds(m.scratch / "l.mkv", 1),
              Outcome(202, "failed", "video too long: more than"), group="video"),
        Entry("1000 frames a second", "fast.mp4", lambda m: video(m.scratch / "fast.mp4", seconds=0.02, size=(32, 24), fps=1000),
              Outcome(202, "failed", "frame rate too high"), group="video"),
        Entry("4096 x 2304 video", "wide.mp4", lambda m: video(m.scratch / "wide.mp4", seconds=1, size=(4096, 2304), fps=1),
              Outcome(202, "failed", "video size not allowed: 4096 x 2304"), group="video"),
        # 7 s at 10 fps, then 2,000 frames 1 ms apart: more than 8 s at max_video_fps (120) allow.
        Entry("honest header, then a burst of frames", "burst.mkv", _sample(samples.frame_burst_mkv, "burst.mkv", burst=2000),
              Outcome(202, "failed", "more frames than its length"), group="video"),
        Entry("sound and no picture", "audio.mp4", _sample(samples.audio_only, "audio.mp4"),
              Outcome(202, "failed", "no video track"), group="video"),
    ]
