"""Media across a real two-instance cluster (`LocalCluster`: subprocesses on loopback).

The uploader lives on instance b and uploads through a: the upload is relayed to b,
which keeps the row, the job and the processed files. Its status is read through
either instance, and its files are fetched from a, which does not hold them: a gets
them from b once, then serves them from its in-process edge cache. The last test runs
one instance in-process to show that a relayed upload is not counted twice against the
per-address upload limit, and that a replayed or forged relay signature earns nothing.
"""

from __future__ import annotations

import time

import httpx
import msgspec
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

from instamini.app import create_app
from instamini.cluster.auth import Signer
from instamini.media.peer_files import DIRECTORY
from tests.cluster.conftest import SECRET, TWO, cluster_toml
from tests.cluster.harness import Person, holders, name_owned_by, two_instances
from tests.conftest import make_config
from tests.media.helpers import jpeg_bytes

cluster = two_instances()
READY_WITHIN_SECONDS = 30


def metric(client: httpx.Client, name: str, **labels: str) -> float:
    """The sum of the instance's /metrics samples named `name` whose labels start with `labels`' values."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(client.get("/metrics").text)
        for sample in family.samples
        if sample.name == name and all(sample.labels.get(k, "").startswith(v) for k, v in labels.items())
    )


def wait_ready(person: Person, media_id: str) -> dict:
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    clients = [person.on("a"), person.on("b")]
    for attempt in range(10**6):
        media = clients[attempt % 2].get(f"/api/v1/media/{media_id}")  # either instance answers
        assert media.status_code == 200, media.text
        if media.json()["status"] != "processing":
            return media.json()
        assert time.monotonic() < deadline, f"upload {media_id} still processing"
        time.sleep(0.05)  # a real subprocess does the work: there is no job loop to step
    raise AssertionError("unreachable")


def test_an_upload_through_a_is_processed_on_b_and_its_files_served_by_a_from_its_edge_cache(cluster):
    uploader = Person(cluster, name_owned_by("b", "lens"))
    sent = uploader.on("a").post("/api/v1/media", files={"file": ("photo.jpg", jpeg_bytes((300, 200)))})
    assert sent.status_code == 202, sent.text
    media_id = sent.json()["id"]
    assert holders(cluster, "SELECT id FROM media", int(media_id)) == ["b"]  # the row is on the owner
    assert metric(uploader.on("a"), "instamini_media_uploads_relayed_total") == 1

    media = wait_ready(uploader, media_id)
    assert media["status"] == "ready", media
    variant = media["variants"][0]
    url, key = variant["url"], variant["url"].removeprefix("/media/").split(".")[0]
    data = {name: server.data_dir for name, server in cluster.servers.items()}
    assert (data["b"] / "blobs" / key[:2] / key[2:4] / key).is_file()
    assert not (data["a"] / "blobs" / key[:2] / key[2:4] / key).exists()

    a, b = uploader.on("a"), uploader.on("b")
    direct = b.get(url)
    first, second = a.get(url), a.get(url)
    assert direct.status_code == first.status_code == second.status_code == 200
    assert first.content == second.content == direct.content and len(direct.content) == variant["bytes"]
    assert first.headers["etag"] == direct.headers["etag"] == f'"{key}"'
    assert first.headers["content-type"] == direct.headers["content-type"] == variant["content_type"]
    assert metric(a, "instamini_media_edge_misses_total") == 1
    assert metric(a, "instamini_media_edge_hits_total") == 1
    # The copy is in the edge cache's own directory, out of the blob store's (and its gc's) sight.
    assert (data["a"] / DIRECTORY / key[:2] / key).is_file()

    ranged = a.get(url, headers={"Range": "bytes=10-99"})
    assert ranged.status_code == 206 and ranged.content == direct.content[10:100]
    assert ranged.headers["content-range"] == f"bytes 10-99/{len(direct.content)}"
    assert a.get(url, headers={"If-None-Match": f'"{key}"'}).status_code == 304
    assert metric(a, "instamini_media_edge_misses_total") == 1  # all of them from the cache


def test_a_hostile_or_unknown_name_is_a_404_and_only_a_real_name_asks_the_other_instance(cluster):
    a, b = (httpx.Client(base_url=cluster.urls[name], timeout=30) for name in "ab")
    asked = {"path": "/media/", "method": "GET", "status_code": "404"}
    before = metric(b, "instamini_requests_total", **asked)
    for hostile in ("..%2F..%2Fetc%2Fpasswd", "0" * 64 + ".exe", "A" * 64 + ".jpg", "0" * 63 + ".jpg"):
        assert a.get(f"/media/{hostile}").status_code == 404
    assert metric(b, "instamini_requests_total", **asked) == before  # b was never asked

    unknown = a.get(f"/media/{'0' * 64}.jpg")  # well formed, held by nobody: b is asked, and says 404
    assert unknown.status_code == 404, unknown.text
    assert metric(b, "instamini_requests_total", **asked) == before + 1


async def test_a_relayed_upload_is_not_counted_again_and_a_replayed_signature_earns_nothing(tmp_path):
    # Instance a alone, in-process (b is never dialled). The limit counts every upload request,
    # answered or not, so anonymous ones (401 once through the limit) show it without an account.
    config = make_config(tmp_path / "a", cluster_toml("a", TWO))
    config = msgspec.structs.replace(config, media=msgspec.structs.replace(config.media, uploads_per_address_per_minute=1))
    async with AsyncTestClient(create_app(config)) as client:

        async def upload(headers: dict[str, str] | None = None) -> int:
            return (await client.post("/api/v1/media", files={"file": ("photo.jpg", b"x")}, headers=headers)).status_code

        assert await upload() == 401
        assert await upload() == 429  # this address had its one upload of the minute
        relayed = Signer(SECRET.encode(), "b").headers("a", "POST", "/api/v1/media", b"")
        assert await upload(relayed) == 401  # relayed by b, which counted it against its client's address
        assert await upload(relayed) == 429  # the same signature again: a replay, limited as anyone's
        forged = Signer(b"not the secret", "b").headers("a", "POST", "/api/v1/media", b"")
        assert await upload(forged) == 429
