"""Videos: turn an uploaded clip into one H.264/AAC MP4, a poster and a few thumbnails.

The idea: FFmpeg can read hundreds of formats, some of which (HLS playlists, concat
scripts, QuickTime references) open other files or URLs. So we pick the demuxer
ourselves from the file's first bytes, MP4/QuickTime or Matroska/WebM and nothing
else, and tell FFmpeg to refuse any other demuxer or protocol as well. The header is
then checked against our limits (length, size, frame rate, codecs) before the
transcode; the decode itself keeps counting frames and samples so a lying header
cannot make it run longer than the limits allow. Nothing of the input's metadata is
copied: the output is built from decoded pixels and samples only, and is opened
again to prove it carries no location. Phone videos stored sideways are turned
upright (rotations by quarter turns; a mirrored display matrix is not applied).
HDR sources are converted to 8-bit without tone mapping, so they look flat.

Cost: opening the input twice (the header, then the first frame for its rotation),
one decode, a scale and one libx264 encode at most `video_height` tall, one AAC
encode; a handful of RGB conversions for the stills. Runs in a sandboxed worker
process; the only exception raised on purpose is MediaRejected.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from fractions import Fraction
from typing import NamedTuple

import av
from PIL import Image

from ..ranker.phash import dhash
from . import images
from .errors import MediaRejected

# Box types that can start a QuickTime/MP4 file (ISO BMFF), found at bytes 4 to 8.
MOV_BOXES = {b"ftyp", b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"}
EBML_MAGIC = b"\x1a\x45\xdf\xa3"  # Matroska and WebM
# FFmpeg-side guards: only plain files, only our two demuxers (a demuxer that opens
# another, like HLS or concat, is refused), and no QuickTime external data references.
OPEN_OPTIONS = {"protocol_whitelist": "file", "format_whitelist": "mov,matroska", "enable_drefs": "0"}
# Metadata keys that would place the uploader somewhere (QuickTime, MP4 and Matroska spellings).
LOCATION_HINTS = ("location", "iso6709", "xyz", "gps", "loci")
READ_ERROR = "could not read the video: it is damaged, truncated or uses an unsupported feature"
# ffmpeg's autorotate, by the counter-clockwise display rotation in quarter turns.
UPRIGHT_FILTERS = {1: [("transpose", "cclock")], 2: [("hflip", None), ("vflip", None)], 3: [("transpose", "clock")]}
AUDIO_FRAME = 1024  # samples per AAC frame


class Probe(NamedTuple):
    """What the header says, already checked against the limits."""

    video: int  # stream index
    audio: int | None
    width: int  # as displayed, before rotation (sample aspect ratio applied)
    height: int
    fps: Fraction
    seconds: float | None
    audio_rate: int | None


def process_video(source: str, out_dir: str, settings: dict) -> dict:
    """Transcode the video at `source` into `out_dir`; returns the media description.

    `settings` is `msgspec.to_builtins(MediaConfig)`. Raises MediaRejected for a file we
    will not process; partial outputs may be left in `out_dir` for the caller to remove.
    """
    demuxer = _sniff(source)
    with _opened(source, demuxer) as container:
        probe = _probe(container, settings)
        quarter_turns = _quarter_turns(container, probe)
    width, height = output_size(probe, quarter_turns, settings["video_height"])
    path = os.path.join(out_dir, f"h{height}.mp4")
    with _opened(source, demuxer) as container:
        transcoder = Transcoder(container, probe, path, (width, height), quarter_turns, settings)
        transcoder.run()
    duration_ms = prove_clean(path)
    size = {"width": width, "height": height}
    return {
        "kind": "video",
        **size,
        "duration_ms": duration_ms,
        "placeholder": images.dominant_colour(transcoder.poster),
        "phash": dhash(transcoder.poster),  # the poster frame stands for the video
        "variants": [
            {"file": os.path.basename(path), "role": "video", "content_type": "video/mp4", **size},
            *_stills(transcoder, out_dir, settings),
        ],
    }


def _sniff(source: str) -> str:
    """The demuxer to use, chosen from the first bytes: never FFmpeg's own guess."""
    with open(source, "rb") as file:
        head = file.read(12)
    if not head:
        raise MediaRejected("the file is empty")
    if head[4:8] in MOV_BOXES:
        return "mov"
    if head.startswith(EBML_MAGIC):
        return "matroska"
    raise MediaRejected("not an MP4, MOV or WebM video")


@contextlib.contextmanager
def _opened(source: str, demuxer: str) -> Iterator[av.container.InputContainer]:
    """The input, opened by our demuxer. An FFmpeg error while reading or transcoding it is
    the file's doing (broken data, impossible timestamps): refused in plain words, since
    FFmpeg's own message could quote the file."""
    try:
        with av.open(source, format=demuxer, container_options=OPEN_OPTIONS) as container:
            yield container
    except av.error.FFmpegError:
        raise MediaRejected(READ_ERROR) from None


def _probe(container: av.container.InputContainer, settings: dict) -> Probe:
    """Check the header against the limits, before the transcode decodes anything."""
    videos = [s for s in container.streams.video if not s.disposition & av.stream.Disposition.attached_pic]
    if not videos:
        raise MediaRejected("no video track in the file")
    video, audio = videos[0], next(iter(container.streams.audio), None)
    _check_codec("video", video, settings["video_codecs"])
    if audio is not None:
        _check_codec("audio", audio, settings["audio_codecs"])
    context = video.codec_context
    pixels, limit = context.width * context.height, settings["max_video_pixels"]
    if not pixels or pixels > limit:
        raise MediaRejected(f"video size not allowed: {context.width} x {context.height} pixels (at most {limit:,})")
    fps = video.average_rate or video.guessed_rate or Fraction(30)
    if fps > settings["max_video_fps"]:
        raise MediaRejected(f"frame rate too high: {float(fps):.0f} per second (at most {settings['max_video_fps']})")
    seconds = _declared_seconds(container, video)
    if seconds is not None and seconds > settings["max_video_seconds"]:
        raise MediaRejected(f"video too long: {seconds:.0f} seconds (at most {settings['max_video_seconds']})")
    aspect = video.sample_aspect_ratio or 1
    return Probe(
        video=video.index,
        audio=None if audio is None else audio.index,
        width=max(1, round(context.width * aspect)),
        height=context.height,
        fps=fps,
        seconds=seconds,
        audio_rate=None if audio is None else audio.rate,
    )


def _check_codec(kind: str, stream: av.stream.Stream, allowed: list[str]) -> None:
    context = stream.codec_context
    name = context.codec.canonical_name if context is not None else "unknown"
    if name not in allowed:
        raise MediaRejected(f"{kind} codec not supported: {name} (supported: {', '.join(allowed)})")


def _declared_seconds(container: av.container.InputContainer, video: av.video.stream.VideoStream) -> float | None:
    if container.duration:
        return container.duration / av.time_base
    if video.duration and video.time_base:
        return float(video.duration * video.time_base)
    return None  # a live recording (browser WebM) may not say; the decode limits still hold


def _quarter_turns(container: av.container.InputContainer, probe: Probe) -> int:
    """Counter-clockwise quarter turns that make the picture upright, from its first frame.

    PyAV exposes the display matrix on decoded frames only, hence this peek.
    """
    for frame in decoded(container, [container.streams[probe.video]]):
        return round(frame.rotation / 90) % 4
    raise MediaRejected("no video frames could be decoded")


def output_size(probe: Probe, quarter_turns: int, max_height: int) -> tuple[int, int]:
    """Upright size within a box `max_height` tall and 16:9 of that wide: even, never upscaled."""
    width, height = (probe.height, probe.width) if quarter_turns % 2 else (probe.width, probe.height)
    scale = min(1, max_height / height, max_height * 16 / 9 / width)
    return max(2, int(width * scale) // 2 * 2), max(2, int(height * scale) // 2 * 2)


def decoded(container: av.container.InputContainer, streams: list[av.stream.Stream]) -> Iterator[av.frame.Frame]:
    """Frames of `streams` in file order."""
    for packet in container.demux(*streams):
        yield from packet.decode()


class Transcoder:
    """One pass over the input: decode, check limits, turn upright, scale, encode, keep stills."""

    def __init__(self, container, probe: Probe, path: str, size: tuple[int, int], quarter_turns: int, settings: dict):
        self.container, self.probe, self.path, self.size = container, probe, path, size
        self.quarter_turns, self.settings = quarter_turns, settings
        seconds = min(probe.seconds or settings["max_video_seconds"], settings["max_video_seconds"])
        # However the timestamps lie, no more than this many frames, or seconds of sound, are decoded.
        self.max_audio_seconds = seconds + 1
        self.max_frames = int(self.max_audio_seconds * settings["max_video_fps"])
        self.frames, self.audio_seconds = 0, 0.0
        self.start: float | None = None  # time of the first frame: the clock our limits and stills use
        self.time_base = container.streams[probe.video].time_base
        self.graph: av.filter.Graph | None = None
        self.graph_input: tuple | None = None
        self.last_pts = -1
        self.poster: Image.Image | None = None
        self.poster_reached = False
        self.poster_time = min(0.5, (probe.seconds or 1) / 2)
        count = settings["video_thumbnails"]
        # Without a declared length (a live WebM recording) there is nothing to spread over: poster only.
        self.thumbnail_times = [probe.seconds * (i + 0.5) / count for i in range(count)] if probe.seconds else []
        self.thumbnails: list[Image.Image] = []

    def run(self) -> None:
        video = self.container.streams[self.probe.video]
        video.codec_context.thread_type = "AUTO"  # frame and slice threads: decoding is most of the work
        # Bounded: each thread reserves a stack against the worker's address-space limit,
        # and CPU time of all threads counts against its CPU limit.
        video.codec_context.thread_count = self.settings["video_threads"]
        streams = [video] if self.probe.audio is None else [video, self.container.streams[self.probe.audio]]
        with av.open(self.path, "w", format="mp4", container_options={"movflags": "+faststart"}) as self.out:
            self._add_streams(video)
            for frame in decoded(self.container, streams):
                if isinstance(frame, av.VideoFrame):
                    self._video(frame)
                else:
                    self._audio(frame)
            self._flush()
        if self.poster is None:
            raise MediaRejected("no video frames could be decoded")

    def _add_streams(self, video: av.video.stream.VideoStream) -> None:
        options = {"crf": str(self.settings["video_crf"]), "preset": self.settings["video_preset"]}
        self.out_video = self.out.add_stream("libx264", rate=self.probe.fps, options=options)
        self.out_video.width, self.out_video.height = self.size
        self.out_video.pix_fmt = "yuv420p"
        self.out_video.codec_context.thread_count = self.settings["video_threads"]
        # Keep the input's clock so variable frame rates survive as they are.
        self.out_video.codec_context.time_base = self.time_base
        self.resampler = self.out_audio = None
        if self.probe.audio is not None:
            rate = 44100 if self.probe.audio_rate % 11025 == 0 else 48000
            self.out_audio = self.out.add_stream("aac", rate=rate, layout="stereo")
            self.resampler = av.AudioResampler(format="fltp", layout="stereo", rate=rate, frame_size=AUDIO_FRAME)

    def _video(self, frame: av.VideoFrame) -> None:
        self.frames += 1
        if self.frames > self.max_frames:
            raise MediaRejected("the video has more frames than its length and frame rate allow")
        if frame.width * frame.height > self.settings["max_video_pixels"]:
            raise MediaRejected("video frames larger than the allowed size")
        if self.start is None:
            self.start = frame.time or 0.0
        if frame.time is not None and frame.time - self.start > self.settings["max_video_seconds"] + 1:
            raise MediaRejected(f"video too long: more than {self.settings['max_video_seconds']} seconds")
        key = (frame.width, frame.height, frame.format.name)
        if key != self.graph_input:  # the first frame, or a stream that changes size midway
            self.graph, self.graph_input = self._build_graph(frame), key
        self.graph.push(frame)
        self._drain()

    def _build_graph(self, frame: av.VideoFrame) -> av.filter.Graph:
        graph = av.filter.Graph()
        source = graph.add_buffer(width=frame.width, height=frame.height, format=frame.format, time_base=self.time_base)
        nodes = [source]
        for name, args in UPRIGHT_FILTERS.get(self.quarter_turns, []):
            nodes.append(graph.add(name, args))
        nodes.append(graph.add("scale", f"{self.size[0]}:{self.size[1]}"))
        nodes.append(graph.add("format", "yuv420p"))
        nodes.append(graph.add("buffersink"))
        graph.link_nodes(*nodes).configure()
        return graph

    def _drain(self) -> None:
        while True:
            try:
                frame = self.graph.pull()
            except (av.error.BlockingIOError, av.error.EOFError):
                return
            self._encode(frame)

    def _encode(self, frame: av.VideoFrame) -> None:
        # x264 needs strictly increasing timestamps; a broken file may repeat or omit them.
        frame.pts = frame.pts if frame.pts is not None and frame.pts > self.last_pts else self.last_pts + 1
        self.last_pts = frame.pts
        self._keep_stills(frame, float(frame.pts * self.time_base) - self.start)
        self.out.mux(self.out_video.encode(frame))

    def _keep_stills(self, frame: av.VideoFrame, time: float) -> None:
        """The poster is the first frame at poster_time (else the very first); thumbnails spread out."""
        if self.poster is None or (not self.poster_reached and time >= self.poster_time):
            self.poster, self.poster_reached = frame.to_image(), time >= self.poster_time
        if self.thumbnail_times and time >= self.thumbnail_times[0]:
            self.thumbnail_times = [due for due in self.thumbnail_times if due > time]
            self.thumbnails.append(frame.to_image())

    def _audio(self, frame: av.AudioFrame) -> None:
        self.audio_seconds += frame.samples / frame.sample_rate
        if self.audio_seconds > self.max_audio_seconds:
            raise MediaRejected("the audio is longer than the video's length allows")
        for resampled in self.resampler.resample(frame):
            self.out.mux(self.out_audio.encode(resampled))

    def _flush(self) -> None:
        if self.graph is not None:
            self.graph.push(None)
            self._drain()
        self.out.mux(self.out_video.encode(None))
        if self.out_audio is not None:
            for resampled in self.resampler.resample(None):
                self.out.mux(self.out_audio.encode(resampled))
            self.out.mux(self.out_audio.encode(None))


def prove_clean(path: str) -> int:
    """Open the MP4 we wrote, fail loudly if it has a location or the wrong codecs; its duration in ms."""
    with av.open(path, format="mp4", container_options=OPEN_OPTIONS) as written:
        tags = [*written.metadata, *(key for stream in written.streams for key in stream.metadata)]
        leaked = [key for key in tags if any(hint in key.lower() for hint in LOCATION_HINTS)]
        if leaked:
            raise RuntimeError(f"location metadata survived re-encoding: {sorted(leaked)}")
        codecs = {stream.codec_context.name for stream in written.streams}
        if not codecs <= {"h264", "aac"} or "h264" not in codecs:
            raise RuntimeError(f"unexpected codecs in our own output: {sorted(codecs)}")
        return round(written.duration * 1000 / av.time_base)


def _stills(transcoder: Transcoder, out_dir: str, settings: dict) -> list[dict]:
    """Poster (WebP and JPEG, video size) and thumbnails (WebP, smallest image width)."""
    poster = images.clean_pixels(transcoder.poster)
    stills = [images.encode(poster, out_dir, name, "poster", settings) for name in ("poster.webp", "poster.jpg")]
    width = min(settings["image_widths"])
    for index, image in enumerate(transcoder.thumbnails):
        small = images.fit_width(images.clean_pixels(image), width)
        stills.append(images.encode(small, out_dir, f"thumb{index}.webp", "thumbnail", settings))
    return stills
