"""The hostile media corpus (hostile_media.py) against a real server with its real worker pool.

The idea: one server subprocess, background jobs on, lowered worker limits (512 MB of
address space, 10 s of CPU a job) so that a file which gets past the checks is stopped
by the sandbox quickly. Every entry is sent; each must get the outcome the corpus names,
and then the server must still be whole: /healthz answers, a normal upload is processed
and served, the blob store holds only the re-encoded files of the accepted uploads and
none of them contains the canary's marker, nothing is left in data/uploads, the canary
cannot be fetched, and when the server stops no process of it is left. Beside it, cheap
in-process checks that the crafted files are what they claim (a bomb's header really
declares its size; the reference movie really plays the canary when FFmpeg is allowed to
follow it), so that a refusal proves the defence and not a broken sample.

Cost: about 5 s on 2 cores (one server start, 49 uploads including a 41 MB stream, the jobs).
"""

from __future__ import annotations

import hashlib
import io
import os
import socket
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

import av
import httpx
import pytest
from PIL import Image

from instamini.bench.server import ServerProcess
from instamini.media.videos import OPEN_OPTIONS
from tests.media.helpers import jpeg_bytes
from tests.reliability import hostile_media
from tests.reliability.hostile_media import Canary, Entry, Materials

CONFIG = """
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
registrations_per_address_per_minute = 1000
[media]
uploads_per_address_per_minute = 10000
worker_memory_mb = 512      # a file that decodes to gigabytes fails fast
job_cpu_seconds = 10
job_wall_seconds = 30
"""
IMAGE_CAP = 40 * 2**20  # [media] max_image_mb, left at its default
BOUNDARY = "hostile-boundary-7d1f"
JOB_DEADLINE = 120.0  # seconds for every job to finish; they take about 15


def multipart(filename: str, part_type: str, body: Iterable[bytes], fields: int = 0) -> Iterator[bytes]:
    """A multipart body built by hand (the file name goes out exactly as given): `fields`
    form fields with 4 KB names (the parser's longest header line), then the file."""
    for index in range(fields):
        name = f"f{index}" + "x" * 4000
        yield f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n1\r\n'.encode()
    yield (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
        f"Content-Type: {part_type}\r\n\r\n"
    ).encode()
    yield from body
    yield f"\r\n--{BOUNDARY}--\r\n".encode()


def send(client: httpx.Client, server: ServerProcess, entry: Entry, made, auth: dict) -> tuple[int, str]:
    """Send one entry the way it says; (status, detail or body text). Status 0: no answer.

    Each on a new connection, as an attacker's would be: after a refusal the server may
    drop a keep-alive connection whose body it did not read, and the client's next request
    on it would fail for that reason, not its own."""
    auth = {**auth, "Connection": "close"}
    form_type = {"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"}
    if entry.send == "raw":
        response = client.post("/api/v1/media", content=made, headers={**auth, "Content-Type": entry.part_type})
    elif entry.send == "no_boundary":
        body = b"".join(multipart(entry.filename, entry.part_type, [made]))
        response = client.post("/api/v1/media", content=body, headers={**auth, "Content-Type": "multipart/form-data"})
    elif entry.send in ("multipart", "many_fields"):
        fields = 40 if entry.send == "many_fields" else 0
        body = b"".join(multipart(entry.filename, entry.part_type, [made], fields))
        response = client.post("/api/v1/media", content=body, headers={**auth, **form_type})
    elif entry.send == "streamed":
        response = client.post("/api/v1/media", content=multipart(entry.filename, entry.part_type, made), headers={**auth, **form_type})
    else:
        return raw_upload(server.port, entry, made, auth)
    return response.status_code, response.text


def raw_upload(port: int, entry: Entry, made: bytes, auth: dict) -> tuple[int, str]:
    """A request over a bare socket, for what an HTTP client will not send: a Content-Length
    that lies (10 TB), or a body that stops halfway because the client hangs up."""
    body = b"".join(multipart(entry.filename, entry.part_type, [made]))
    length = 10 * 2**40 if entry.send == "declared_huge" else len(body)
    head = (
        f"POST /api/v1/media HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: {auth['Authorization']}\r\n"
        f"Content-Type: multipart/form-data; boundary={BOUNDARY}\r\nContent-Length: {length}\r\n\r\n"
    ).encode()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(head + body[: len(body) // 2])
        if entry.send == "cut_off":
            return 0, ""  # hang up: the server must throw the half-written file away
        reply = conn.recv(65536).decode("latin-1")
    return int(reply.split(" ", 2)[1]), reply


def wait_for_jobs(client: httpx.Client, ids: dict[str, str], auth: dict) -> dict[str, dict]:
    """Poll each accepted upload until it is no longer processing (the jobs run in the server)."""
    done: dict[str, dict] = {}
    deadline = time.monotonic() + JOB_DEADLINE
    while len(done) < len(ids):
        assert time.monotonic() < deadline, f"still processing: {sorted(set(ids) - set(done))}"
        for name, media_id in ids.items():
            if name not in done:
                media = client.get(f"/api/v1/media/{media_id}", headers=auth).json()
                if media["status"] != "processing":
                    done[name] = media
        time.sleep(0.1)  # polling another process's work
    return done


def descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        parent = todo.pop()
        for task in os.listdir(f"/proc/{parent}/task"):
            try:
                kids = [int(kid) for kid in Path(f"/proc/{parent}/task/{task}/children").read_text().split()]
            except OSError:
                kids = []
            found += kids
            todo += kids
    return found


def blob_files(data_dir: Path) -> dict[str, Path]:
    """Every blob on disk by key (blobs/<k[0:2]>/<k[2:4]>/<k>)."""
    return {path.name: path for path in (data_dir / "blobs").glob("??/??/*") if path.is_file()}


def key_of(url: str) -> str:
    return url.rsplit("/", 1)[1].split(".")[0]


def run_corpus(client: httpx.Client, server: ServerProcess, corpus: list[Entry], materials: Materials, auth: dict):
    """Send every entry, wait for the accepted ones' jobs; (mismatches, jobs by entry name)."""
    outcomes = {entry.name: send(client, server, entry, entry.make(materials), auth) for entry in corpus}
    wrong, accepted = [], {}
    for entry in corpus:
        status, text = outcomes[entry.name]
        if status != entry.expect.status or (status != 202 and entry.expect.says not in text):
            wrong.append((entry.name, str(entry.expect), status, text[:200]))
        elif status == 202:
            accepted[entry.name] = httpx.Response(202, text=text).json()["id"]
    jobs = wait_for_jobs(client, accepted, auth)
    for entry in corpus:
        media = jobs.get(entry.name)
        if media is not None and (media["status"] != entry.expect.job or entry.expect.says not in (media["reason"] or "")):
            wrong.append((entry.name, str(entry.expect), media["status"], media["reason"]))
    return wrong, jobs


def assert_only_reencoded_files_are_served(client: httpx.Client, data: Path, ready: list[dict], canary: Canary) -> None:
    served_keys = set()
    for media in ready:
        for variant in media["variants"]:
            response = client.get(variant["url"])
            assert response.status_code == 200 and response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["content-type"] in ("image/webp", "image/jpeg", "video/mp4")
            assert canary.marker not in response.content, variant["url"]
            served_keys.add(key_of(variant["url"]))
    stored = blob_files(data)
    assert set(stored) == served_keys  # nothing of a refused or failed upload reached the store
    for key, path in stored.items():
        assert canary.marker not in path.read_bytes(), key
    canary_key = hashlib.sha256(canary.beside_uploads.read_bytes()).hexdigest()
    assert client.get(f"/media/{canary_key}.mp4").status_code == 404


def test_the_hostile_corpus_is_refused_and_the_server_stays_whole(tmp_path):
    config, data, scratch = tmp_path / "hostile.toml", tmp_path / "data", tmp_path / "scratch"
    config.write_text(CONFIG)
    scratch.mkdir()
    canary = Canary.plant(data / "uploads", tmp_path)
    corpus = hostile_media.corpus(IMAGE_CAP)
    with ServerProcess(config, data) as server, httpx.Client(base_url=server.url, timeout=60) as client:
        token = client.post("/api/v1/accounts", json={"username": "mallory", "password": "correct horse"}).json()["token"]
        auth = {"Authorization": f"Bearer {token}"}
        wrong, jobs = run_corpus(client, server, corpus, Materials(scratch, canary), auth)
        assert wrong == [], "\n".join(map(str, wrong))
        for media in jobs.values():
            assert canary.marker.decode() not in (media["reason"] or "")
            assert media["status"] == "ready" or media["variants"] == []
        workers = descendants(server.process.pid)  # granian's worker and the media workers

        # Still whole: healthy, and a normal upload is processed and served.
        assert client.get("/healthz").json() == {"status": "ok"}
        normal = client.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes((800, 600)))}, headers=auth)
        assert normal.status_code == 202, normal.text
        normal_media = wait_for_jobs(client, {"normal": normal.json()["id"]}, auth)["normal"]
        assert normal_media["status"] == "ready", normal_media
        ready = [media for media in jobs.values() if media["status"] == "ready"] + [normal_media]
        assert_only_reencoded_files_are_served(client, data, ready, canary)

        # Nothing left behind: no upload file, no work directory, no file where a name pointed.
        assert sorted(p.name for p in (data / "uploads").iterdir()) == ["canary.mp4", "work"]
        assert list((data / "uploads" / "work").iterdir()) == []
        assert not list(tmp_path.rglob("x.jpg")) and not Path("/tmp/instamini-hostile-x.jpg").exists()
    assert server.process.returncode == 0
    assert len(workers) >= 3 and not [pid for pid in workers if os.path.exists(f"/proc/{pid}")]


# -- the crafted files are what they claim (so that a refusal proves the defence) ------------


def test_the_crafted_headers_declare_what_their_names_say():
    saved, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # read the headers with no budget
    try:
        sizes = {
            "jpeg": hostile_media.jpeg_claiming(65535, 65535),
            "gif": hostile_media.gif_claiming_screen(65535, 65535),
            "webp": hostile_media.webp_claiming(16383, 16383),
        }
        for name, data in sizes.items():
            with Image.open(io.BytesIO(data)) as image:
                assert image.size[0] * image.size[1] >= 16383**2, (name, image.size)
        with Image.open(io.BytesIO(hostile_media.apng_claiming_frames(2**31 - 1))) as image:
            assert image.n_frames >= 2**31 - 1
    finally:
        Image.MAX_IMAGE_PIXELS = saved


def test_the_reference_movie_plays_the_canary_when_ffmpeg_may_follow_it(tmp_path):
    canary = Canary.plant(tmp_path / "uploads", tmp_path)
    upload = tmp_path / "uploads" / "1.upload"
    upload.write_bytes(hostile_media.reference_movie(canary.beside_uploads.read_bytes(), "canary.mp4"))
    assert canary.marker not in upload.read_bytes()
    with av.open(str(upload), format="mov", container_options={"enable_drefs": "1"}) as followed:
        assert sum(1 for _ in followed.decode(video=0)) == 10  # every frame, read from the canary
    with av.open(str(upload), format="mov", container_options=OPEN_OPTIONS) as ours:
        assert sum(1 for _ in ours.decode(video=0)) == 0


@pytest.mark.parametrize("with_video", [True, False])
def test_the_matroska_attachment_carries_the_canary(tmp_path, with_video):
    canary = Canary.plant(tmp_path / "uploads", tmp_path)
    data = hostile_media.matroska_with_attachment(tmp_path / "a.mkv", canary.outside.read_bytes(), with_video=with_video)
    assert canary.marker in data
    if with_video:
        with av.open(str(tmp_path / "a.mkv")) as container:
            assert [stream.type for stream in container.streams] == ["video", "attachment"]
