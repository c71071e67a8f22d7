"""The media benchmark: processing time, transcode speed, worker memory, serving throughput.

Four figures, as issue 3 asks:
1. median seconds to process a 12-megapixel JPEG (4000x3000, camera-like noise),
   through the real worker pool (a sandboxed process) end to end;
2. video transcode speed as a multiple of real time (a 1080p H.264 clip to 720p);
3. the peak resident memory any worker reported;
4. `GET /media/{key}` throughput as a ratio to `/healthz` on one server in one run
   (server pinned to one core, load to the other).
"""

from __future__ import annotations

import statistics
import tempfile
import time
from fractions import Fraction
from pathlib import Path

import anyio
import av
import httpx
import msgspec
from PIL import Image

from ..config import Config
from ..media.pool import WorkerPool
from ..media.service import TASKS
from .foundation import SERVER_TOML, _cpus
from .loadgen import load
from .server import ServerProcess


def camera_like_jpeg(path: Path, size: tuple[int, int] = (4000, 3000)) -> Path:
    """Noise over a gradient: compresses like a photo, unlike a flat colour."""
    gradient = Image.linear_gradient("L").resize(size).convert("RGB")
    noise = Image.effect_noise(size, 40).convert("RGB")
    Image.blend(gradient, noise, 0.5).save(path, "JPEG", quality=92)
    return path


def test_clip(path: Path, seconds: int = 10, size: tuple[int, int] = (1920, 1080), fps: int = 30) -> Path:
    """A moving-gradient 1080p H.264 clip with a tone: a phone video's shape, generated."""
    with av.open(str(path), "w") as container:
        video = container.add_stream("libx264", rate=fps)
        video.width, video.height, video.pix_fmt = size[0], size[1], "yuv420p"
        audio = container.add_stream("aac", rate=48000)
        base = Image.effect_noise(size, 30).convert("RGB")
        for index in range(seconds * fps):
            frame = av.VideoFrame.from_image(base.rotate(index % 360))
            for packet in video.encode(frame):
                container.mux(packet)
        samples_per_frame = 1024
        silence = av.AudioFrame(format="fltp", layout="stereo", samples=samples_per_frame)
        for plane in silence.planes:
            plane.update(bytes(plane.buffer_size))
        silence.sample_rate = 48000
        for index in range(seconds * 48000 // samples_per_frame):
            silence.pts = index * samples_per_frame
            silence.time_base = Fraction(1, 48000)
            for packet in audio.encode(silence):
                container.mux(packet)
        for stream in (video, audio):
            for packet in stream.encode(None):
                container.mux(packet)
    return path


async def through_pool(workdir: Path, image_runs: int, video_seconds: int) -> dict:
    settings = Config().media
    photo = camera_like_jpeg(workdir / "photo.jpg")
    clip = test_clip(workdir / "clip.mp4", seconds=video_seconds)
    args = msgspec.to_builtins(settings)
    async with WorkerPool(settings.workers, settings.worker_memory_mb, settings.job_cpu_seconds, settings.job_wall_seconds) as pool:
        image_times = []
        for run in range(image_runs):
            out = workdir / f"image-{run}"
            out.mkdir()
            started = time.perf_counter()
            await pool.run(TASKS["image"], {"source": str(photo), "out_dir": str(out), "settings": args})
            image_times.append(time.perf_counter() - started)
        out = workdir / "video"
        out.mkdir()
        started = time.perf_counter()
        result = await pool.run(TASKS["video"], {"source": str(clip), "out_dir": str(out), "settings": args})
        video_elapsed = time.perf_counter() - started
        stats = pool.stats()
    return {
        "jpeg_12mp_seconds_median": round(statistics.median(image_times), 3),
        "jpeg_12mp_seconds_all": [round(t, 3) for t in image_times],
        "jpeg_12mp_bytes": photo.stat().st_size,
        "video_seconds": video_seconds,
        "video_transcode_seconds": round(video_elapsed, 2),
        "video_speed_x_realtime": round(result["duration_ms"] / 1000 / video_elapsed, 2),
        "video_output": f"{result['width']}x{result['height']}",
        "worker_peak_rss_mb": round(stats["peak_rss_kb"] / 1024, 1),
    }


def media_vs_healthz(workdir: Path, seconds: float, connections: int, tool: str) -> dict:
    config_file = workdir / "bench.toml"
    config_file.write_text(SERVER_TOML + "[media]\nuploads_per_address_per_minute = 100000\n")
    server_cpu, load_cpu = _cpus()
    with ServerProcess(config_file, workdir / "data", cpu=server_cpu) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        token = client.post("/api/v1/accounts", json={"username": "bench", "password": "benchmark-password"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        photo = camera_like_jpeg(workdir / "serve.jpg", (2000, 1500))
        media_id = client.post("/api/v1/media", files={"file": photo.open("rb")}, headers=headers).json()["id"]
        deadline = time.monotonic() + 120
        while (media := client.get(f"/api/v1/media/{media_id}", headers=headers).json())["status"] == "processing":
            assert time.monotonic() < deadline, "processing took over 120 s"
            time.sleep(0.1)  # the server's worker is busy; nothing of ours to step
        variant = next(v for v in media["variants"] if v["role"] == "image" and v["width"] == 640)

        def run(paths):
            return load("127.0.0.1", server.port, paths, {}, seconds, connections, cpu=load_cpu, tool=tool)

        run(["/healthz"])
        run([variant["url"]])
        healthz_before, served, healthz_after = run(["/healthz"]), run([variant["url"]]), run(["/healthz"])
    healthz_rps = (healthz_before.rps + healthz_after.rps) / 2
    return {
        "file": f"{variant['width']}x{variant['height']} webp, {variant['bytes']} bytes",
        "healthz_before": msgspec.to_builtins(healthz_before),
        "media": msgspec.to_builtins(served),
        "healthz_after": msgspec.to_builtins(healthz_after),
        "media_to_healthz_ratio": round(served.rps / healthz_rps, 3),
        "connections": connections,
    }


def run(seconds: float, *, image_runs: int = 5, video_seconds: int = 10, connections: int = 32, tool: str = "auto") -> dict:
    with tempfile.TemporaryDirectory(prefix="instamini-bench-") as tmp:
        workdir = Path(tmp)
        print("processing a 12 MP JPEG and a 1080p clip in the worker pool ...", flush=True)
        report = {"scenario": "media", "processing": anyio.run(through_pool, workdir, image_runs, video_seconds)}
        print("measuring GET /media/{key} against /healthz ...", flush=True)
        (workdir / "http").mkdir()
        report["http"] = media_vs_healthz(workdir / "http", seconds, connections, tool)
    return report
