"""The job loop: durable jobs survive a restart; failures get a reason; nothing is left behind."""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

from litestar.testing import AsyncTestClient
from PIL import Image

from instamini.app import create_app
from instamini.ids import shard_of
from tests.accounts.helpers import in_app
from tests.conftest import User, register
from tests.media.helpers import jpeg_bytes, leftover_uploads, process_all, upload, upload_ready


def bomb_png(width: int = 30_000, height: int = 30_000) -> bytes:
    """A valid PNG header declaring 900 megapixels, with a few bytes of data."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 1024)) + chunk(b"IEND", b"")


async def status_of(client, user: User, media_id: str) -> dict:
    return (await client.get(f"/api/v1/media/{media_id}", headers=user.headers)).json()


async def test_a_queued_job_survives_a_restart(config, tmp_path):
    async with AsyncTestClient(create_app(config)) as client:
        alice = await register(client, "alice")
        media_id = (await upload(client, alice, jpeg_bytes())).json()["id"]
    async with AsyncTestClient(create_app(config)) as client:  # the server stopped before processing
        assert (await status_of(client, alice, media_id))["status"] == "processing"
        assert process_all(client) == 1
        assert (await status_of(client, alice, media_id))["status"] == "ready"
        assert leftover_uploads(client) == []


def job_state(client, media_id: int) -> tuple | None:
    row = in_app(client, client.app.state.meta.read_one, shard_of(media_id), "SELECT state, attempts FROM media_jobs WHERE media_id = ?", (media_id,))
    return None if row is None else tuple(row)


def mark_running(client, media_id: int, attempts: int) -> None:
    def job(conn):
        conn.execute("UPDATE media_jobs SET state = 'running', attempts = ? WHERE media_id = ?", (attempts, media_id))

    in_app(client, client.app.state.meta.write, shard_of(media_id), job)


async def test_a_job_interrupted_while_running_is_queued_again(config):
    async with AsyncTestClient(create_app(config)) as client:
        alice = await register(client, "alice")
        media_id = (await upload(client, alice, jpeg_bytes())).json()["id"]
        mark_running(client, int(media_id), attempts=1)  # as if the server died mid-job
    async with AsyncTestClient(create_app(config)) as client:
        assert job_state(client, int(media_id)) == ("queued", 1)
        assert process_all(client) == 1
        assert (await status_of(client, alice, media_id))["status"] == "ready"


async def test_a_job_interrupted_too_often_fails_with_a_reason(config):
    async with AsyncTestClient(create_app(config)) as client:
        alice = await register(client, "alice")
        media_id = (await upload(client, alice, jpeg_bytes())).json()["id"]
        mark_running(client, int(media_id), attempts=config.media.max_attempts)
    async with AsyncTestClient(create_app(config)) as client:
        media = await status_of(client, alice, media_id)
        assert media["status"] == "failed" and "interrupted" in media["reason"]
        assert job_state(client, int(media_id)) is None
        assert leftover_uploads(client) == []


async def test_an_upload_file_without_a_job_is_deleted_at_start(config):
    stray = Path(config.server.data_dir) / "uploads" / "123.upload"
    async with AsyncTestClient(create_app(config)):
        pass
    stray.write_bytes(b"written, but the server stopped before recording the job")
    async with AsyncTestClient(create_app(config)) as client:
        assert not stray.exists()
        assert leftover_uploads(client) == []


CORPUS = {
    "decompression bomb": (bomb_png(), "bomb.png", "too large"),
    "truncated jpeg": (jpeg_bytes((400, 300))[:300], "cut.jpg", ""),
    "jpeg header then garbage": (b"\xff\xd8\xff\xe0" + b"\x13" * 500, "junk.jpg", ""),
    "mp4 header then garbage": (b"\x00\x00\x00\x18ftypisom\x00\x00\x02\x00isomiso2" + b"\x07" * 500, "junk.mp4", ""),
}


async def test_hostile_files_that_pass_the_gate_fail_with_a_reason_and_leave_nothing(client, alice):
    ids = {}
    for name, (data, filename, _) in CORPUS.items():
        response = await upload(client, alice, data, filename)
        assert response.status_code == 202, (name, response.text)
        ids[name] = response.json()["id"]
    assert process_all(client) == len(CORPUS)
    for name, (_, _, reason_part) in CORPUS.items():
        media = await status_of(client, alice, ids[name])
        assert media["status"] == "failed", (name, media)
        assert media["reason"] and reason_part in media["reason"], (name, media["reason"])
        assert media["variants"] == []
    assert leftover_uploads(client) == []
    assert list(client.app.state.media.work.iterdir()) == []
    stats = in_app(client, client.app.state.blobs.stats)
    assert stats["count"] == 0, stats  # nothing of a failed job reached the blob store
    # The server is still up and still processes good files.
    assert (await upload_ready(client, alice))["status"] == "ready"


async def test_served_bytes_are_the_reencoded_ones_never_the_original(client, alice):
    original = io.BytesIO()
    image = Image.new("RGB", (200, 100), (10, 200, 10))
    exif = Image.Exif()
    exif[0x010E] = "SECRET-DESCRIPTION"  # ImageDescription
    image.save(original, "JPEG", exif=exif, comment=b"SECRET-COMMENT")
    media = await upload_ready(client, alice, original.getvalue())
    for variant in media["variants"]:
        served = (await client.get(variant["url"])).content
        assert served != original.getvalue()
        assert b"SECRET" not in served
        with Image.open(io.BytesIO(served)) as output:
            assert output.format in ("WEBP", "JPEG")
            assert not output.getexif() and "comment" not in output.info and "exif" not in output.info


async def test_media_deleted_while_processing_gives_its_blobs_back(client, alice, monkeypatch):
    media_id = int((await upload(client, alice, jpeg_bytes())).json()["id"])
    service = client.app.state.media
    run = service.pool.run

    async def run_then_delete_the_media(task, args):
        result = await run(task, args)  # the worker is done; now the row goes away
        await service.meta.write(shard_of(media_id), lambda conn: conn.execute("DELETE FROM media WHERE id = ?", (media_id,)))
        return result

    monkeypatch.setattr(service.pool, "run", run_then_delete_the_media)
    assert process_all(client) == 1
    assert in_app(client, client.app.state.blobs.stats)["count"] > 0  # the outputs were stored...
    in_app(client, client.app.state.blobs.gc, 0)
    assert in_app(client, client.app.state.blobs.stats)["count"] == 0  # ...and nothing refers to them


async def test_unused_uploads_are_collected_and_release_their_blobs(client, alice):
    media = await upload_ready(client, alice)
    keys = [variant["url"].split("/")[-1].split(".")[0] for variant in media["variants"]]
    assert all(in_app(client, client.app.state.blobs.refcount, key) == 1 for key in keys)
    service = client.app.state.media
    assert in_app(client, service.collect_unused) == 0  # too young
    far_future_ms = 10**13
    assert in_app(client, service.collect_unused, far_future_ms) == 1
    assert (await client.get(f"/api/v1/media/{media['id']}", headers=alice.headers)).status_code == 404
    assert all(in_app(client, client.app.state.blobs.refcount, key) == 0 for key in keys)


async def test_a_worker_crash_fails_only_its_job(client, alice, monkeypatch):
    monkeypatch.setitem(service_tasks(), "image", "tests.media.crashing_tasks:segfault")
    media_id = (await upload(client, alice, jpeg_bytes())).json()["id"]
    assert process_all(client) == 1
    media = await status_of(client, alice, media_id)
    assert media["status"] == "failed" and "SIGSEGV" in media["reason"]
    assert leftover_uploads(client) == []
    monkeypatch.undo()
    assert (await upload_ready(client, alice))["status"] == "ready"  # a fresh worker took over
    assert client.app.state.media.stats()["crashes"] == 1


async def test_a_result_naming_files_outside_the_job_is_refused(client, alice, monkeypatch):
    monkeypatch.setitem(service_tasks(), "image", "tests.media.crashing_tasks:lying_result")
    media_id = (await upload(client, alice, jpeg_bytes())).json()["id"]
    assert process_all(client) == 1
    media = await status_of(client, alice, media_id)
    assert media["status"] == "failed" and "malformed" in media["reason"]
    assert in_app(client, client.app.state.blobs.stats)["count"] == 0


def service_tasks() -> dict:
    from instamini.media import service

    return service.TASKS
