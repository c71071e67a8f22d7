"""Edge cache throughput: a hot image from the edge against the same image from the origin, in one run.

Starts a real instamini server and `python -m instamini edge` in front of it, both on
loopback and pinned to core 0 (the load generator to core 1), uploads photos through
the edge, then measures closed-loop GETs (wrk if installed, else the asyncio client) of
the 640 px WebP of one of them: from the origin directly and from the edge (a cache hit
each time), with `/healthz` of each for scale, the origin measured again at the end to
show drift. Then the first fetch of each other variant through the edge (a miss: the
origin's answer, hashed and written to the cache) against a second (a hit), one request
at a time, and the edge's own counters from `/metrics`.

    python benchmarks/edge_throughput.py [--seconds 5] [--connections 32] [--photos 3] [--tool auto|wrk|python]

Cost: about 6 x seconds of load, plus start-up and processing (about 50 s at the defaults).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import msgspec

from instamini.bench.foundation import SERVER_TOML, _cpus
from instamini.bench.loadgen import load
from instamini.bench.media import camera_like_jpeg
from instamini.bench.prometheus import metric_value
from instamini.bench.server import EdgeProcess, ServerProcess

ORIGIN_TOML = SERVER_TOML + "[media]\nuploads_per_address_per_minute = 100000\n"


def upload(client: httpx.Client, headers: dict, photo: Path) -> dict:
    media_id = client.post("/api/v1/media", files={"file": photo.open("rb")}, headers=headers).json()["id"]
    deadline = time.monotonic() + 120
    while (media := client.get(f"/api/v1/media/{media_id}", headers=headers).json())["status"] == "processing":
        assert time.monotonic() < deadline, "processing took over 120 s"
        time.sleep(0.1)  # the origin's worker processes are busy; nothing of ours to step
    assert media["status"] == "ready", media
    return media


def one_at_a_time(client: httpx.Client, urls: list[str]) -> list[float]:
    """Milliseconds of one GET each, sequentially."""
    times = []
    for url in urls:
        started = time.perf_counter()
        response = client.get(url)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.status_code
    return times


def summary(times: list[float]) -> dict:
    ordered = sorted(times)
    return {"n": len(ordered), "p50_ms": round(statistics.median(ordered), 2), "max_ms": round(ordered[-1], 2)}


def measure(workdir: Path, seconds: float, connections: int, photos: int, tool: str) -> dict:
    config_file = workdir / "origin.toml"
    config_file.write_text(ORIGIN_TOML)
    server_cpu, load_cpu = _cpus()
    with (
        ServerProcess(config_file, workdir / "origin" / "data", cpu=server_cpu) as origin,
        EdgeProcess([origin.url], workdir / "edge" / "cache", max_size="256M", cpu=server_cpu) as edge,
        httpx.Client(base_url=edge.url, timeout=60) as client,
    ):
        token = client.post("/api/v1/accounts", json={"username": "bench", "password": "benchmark-password"}).json()["token"]
        headers = {"Authorization": f"Bearer {token}"}
        uploaded = [upload(client, headers, camera_like_jpeg(workdir / f"photo{i}.jpg", (2000, 1500))) for i in range(photos)]
        hot = next(v for v in uploaded[0]["variants"] if v["role"] == "image" and v["width"] == 640)
        cold = [v["url"] for media in uploaded for v in media["variants"] if v["url"] != hot["url"]]

        def run(server, paths):
            return load("127.0.0.1", server.port, paths, {}, seconds, connections, cpu=load_cpu, tool=tool)

        run(origin, [hot["url"]])  # warm-up: the edge's first fetch, both processes' code paths
        run(edge, [hot["url"]])
        phases = {
            "origin_healthz": run(origin, ["/healthz"]),
            "origin_media": run(origin, [hot["url"]]),
            "edge_media": run(edge, [hot["url"]]),
            "edge_healthz": run(edge, ["/healthz"]),
            "origin_media_again": run(origin, [hot["url"]]),
        }
        misses, hits = one_at_a_time(client, cold), one_at_a_time(client, cold)
        with httpx.Client(base_url=origin.url, timeout=60) as straight:
            direct = one_at_a_time(straight, cold)
        text = client.get("/metrics").text
    origin_rps = (phases["origin_media"].rps + phases["origin_media_again"].rps) / 2
    counters = ("hits_total", "misses_total", "coalesced_total", "hit_ratio", "served_bytes_total", "origin_bytes_total", "cache_bytes")
    return {
        "file": f"{hot['width']}x{hot['height']} webp, {hot['bytes']} bytes",
        "connections": connections,
        "phases": {name: msgspec.to_builtins(result) for name, result in phases.items()},
        "edge_to_origin_media_ratio": round(phases["edge_media"].rps / origin_rps, 2),
        "edge_media_to_edge_healthz_ratio": round(phases["edge_media"].rps / phases["edge_healthz"].rps, 2),
        "origin_media_to_origin_healthz_ratio": round(origin_rps / phases["origin_healthz"].rps, 2),
        "one_at_a_time": {"edge_miss": summary(misses), "edge_hit": summary(hits), "origin_direct": summary(direct)},
        "edge_metrics": {name: metric_value(text, f"instamini_edge_{name}") for name in counters},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each load phase")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--photos", type=int, default=3, help="photos uploaded; their other variants are the cold misses")
    parser.add_argument("--tool", choices=["auto", "wrk", "python"], default="auto")
    parser.add_argument("--out", help="also write the JSON report here")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="instamini-edge-bench-") as tmp:
        report = measure(Path(tmp), options.seconds, options.connections, options.photos, options.tool)
    text = msgspec.json.format(msgspec.json.encode(report), indent=2)
    print(text.decode())
    if options.out:
        Path(options.out).write_bytes(text + b"\n")


if __name__ == "__main__":
    main()
