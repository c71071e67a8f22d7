"""`admin move-shard`: a shard moved between two real instances under a stream of writes, the refusals,
and each step of the protocol in-process (freeze, failures undone, the switch's checks).

The end-to-end test registers accounts whose usernames hash to the moving shard, through
both instances, for as long as the command runs: every 201 must then log in through
both instances and be in the target's shard file; the only other answer allowed is a
503 with Retry-After, for a registration that arrived during the freeze.
"""

from __future__ import annotations

import asyncio
import itertools
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import msgspec
import pytest

from instamini.cluster.errors import ProcedureError, RpcCallFailed, RpcUnavailable
from instamini.cluster.forward import _raise_again
from instamini.cluster.launch import LocalCluster
from instamini.cluster.move_driver import Failed, MoveDriver
from instamini.cluster.node import ClusterNode
from instamini.cluster.registry import RpcRegistry
from instamini.cluster.rpc_server import RpcServer
from instamini.cluster.schemas import Ok, WireCall
from instamini.cluster.move_schemas import AdoptArgs, ChunkArgs, FreezeArgs, MoveRef, PullArgs
from instamini.cluster.shard_move import ShardMover
from instamini.cluster.topology import Instance, Topology
from instamini.errors import ShardMoving
from instamini.stores.blobs_memory import MemoryBlobStore
from instamini.stores.meta import ShardedMeta, shard_for_text
from tests.cluster.harness import FAST, SHARDS, holders
from tests.media.helpers import jpeg_bytes

REPO = Path(__file__).resolve().parents[2]
MOVING, SOURCE, TARGET = 1, "a", "b"  # shard 1 is a's (a: 0-1, b: 2-3)
PASSWORD = "long enough pw"


@pytest.fixture
def cluster(tmp_path):
    # Function-scoped: a move changes the cluster for good.
    with LocalCluster(tmp_path, 2, shards=SHARDS, extra_toml=FAST, edge=False) as running:
        yield running


def move_shard(cluster: LocalCluster, *args: str, config: str = "a") -> subprocess.CompletedProcess:
    config_file = cluster.root / f"{config}.toml"
    command = [sys.executable, "-m", "instamini", "admin", "move-shard", *args, "--config", str(config_file)]
    return subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)


def names_on(shard: int, stem: str):
    return (f"{stem}{n}" for n in itertools.count() if shard_for_text(f"{stem}{n}", SHARDS) == shard)


def saved_map(cluster: LocalCluster, instance: str) -> dict:
    return msgspec.json.decode((cluster.servers[instance].data_dir / "cluster" / "topology.json").read_bytes())


def in_shard_file(cluster: LocalCluster, instance: str, shard: int, username: str) -> bool:
    path = cluster.servers[instance].data_dir / "meta" / f"shard-{shard:04d}.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        return conn.execute("SELECT 1 FROM users WHERE username = ?", (username,)).fetchone() is not None


class Registrations(threading.Thread):
    """Registers new usernames of the moving shard through one instance until told to stop."""

    def __init__(self, url: str, stem: str) -> None:
        super().__init__(daemon=True)
        self.client, self.names = httpx.Client(base_url=url, timeout=30), names_on(MOVING, stem)
        self.answers: list[tuple[str, int, str | None]] = []  # (username, status, Retry-After)
        self.stopping, self.after = threading.Event(), 0

    def run(self) -> None:
        while not self.stopping.is_set() or self.after < 10:  # a few more once the move is over
            name = next(self.names)
            answer = self.client.post("/api/v1/accounts", json={"username": name, "password": PASSWORD})
            self.answers.append((name, answer.status_code, answer.headers.get("retry-after")))
            self.after += self.stopping.is_set()


def log_in(client: httpx.Client, name: str) -> int:
    return client.post("/api/v1/sessions", json={"username": name, "password": PASSWORD}).status_code


def test_a_shard_moves_under_writes_and_no_acknowledged_registration_is_lost(cluster):
    clients = {name: httpx.Client(base_url=url, timeout=30) for name, url in cluster.urls.items()}
    others = {shard: next(names_on(shard, "other")) for shard in (0, 2, 3)}  # shards that stay where they are
    for name in others.values():
        assert clients["a"].post("/api/v1/accounts", json={"username": name, "password": PASSWORD}).status_code == 201
    writers = [Registrations(cluster.urls[instance], f"via{instance}") for instance in "ab"]
    for writer in writers:
        writer.start()
    while min(len(writer.answers) for writer in writers) < 10:  # writes before the freeze, on both paths
        threading.Event().wait(0.01)
    moved = move_shard(cluster, str(MOVING), TARGET)
    for writer in writers:
        writer.stopping.set()
    for writer in writers:
        writer.join(60)
    print(moved.stdout, moved.stderr)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert "writes to it refused for" in moved.stdout and "map version 2" in moved.stdout

    answers = [answer for writer in writers for answer in writer.answers]
    assert {status for _, status, _ in answers} <= {201, 503}, answers
    assert all(retry_after == "1" for _, status, retry_after in answers if status == 503)
    registered = [name for name, status, _ in answers if status == 201]
    assert len(registered) >= 40  # 10 before and 10 after on each instance, at least
    for name in registered:
        assert [log_in(client, name) for client in clients.values()] == [201, 201], name
        assert in_shard_file(cluster, TARGET, MOVING, name), name
        assert TARGET in holders(cluster, "SELECT username FROM users", name)
    for shard, name in others.items():  # nothing else moved or went missing
        assert [log_in(client, name) for client in clients.values()] == [201, 201], name
        assert holders(cluster, "SELECT username FROM users", name) == ["a" if shard == 0 else "b"]
    for instance in "ab":
        assert saved_map(cluster, instance) == {"version": 2, "shards": {"a": "0", "b": "1-3"}, "format": 1}

    cluster.servers[TARGET].stop()
    cluster.servers[TARGET].start()
    assert saved_map(cluster, TARGET)["version"] == 2
    for name in registered[:3] + registered[-3:]:
        assert [log_in(client, name) for client in clients.values()] == [201, 201], name
    late = next(names_on(MOVING, "late"))
    assert clients["a"].post("/api/v1/accounts", json={"username": late, "password": PASSWORD}).status_code == 201
    assert holders(cluster, "SELECT username FROM users", late) == [TARGET]  # the source's copy is no longer written
    again = move_shard(cluster, str(MOVING), TARGET, config="b")  # both instances agree on the map after the restart
    assert again.returncode == 2 and "already on instance 'b' (map version 2)" in again.stderr, again.stderr


def test_a_shard_moved_back_serves_nothing_that_its_old_owner_cached(cluster):
    """a caches the session of a user of shard 1; the shard moves to b, where the user logs out;
    the shard moves back. a must not believe its old cache entry: gaining a shard empties the
    instance's cache (shard_move.py), which refills from the shards."""
    clients = {name: httpx.Client(base_url=url, timeout=30) for name, url in cluster.urls.items()}
    name = next(names_on(MOVING, "roundtrip"))
    token = clients["a"].post("/api/v1/accounts", json={"username": name, "password": PASSWORD}).json()["token"]
    bearer = {"Authorization": f"Bearer {token}"}
    assert clients["a"].get("/api/v1/me", headers=bearer).status_code == 200  # cached on a now
    assert move_shard(cluster, str(MOVING), TARGET).returncode == 0
    assert clients["b"].delete("/api/v1/sessions/current", headers=bearer).status_code == 204
    moved_back = move_shard(cluster, str(MOVING), SOURCE)
    assert moved_back.returncode == 0, moved_back.stdout + moved_back.stderr
    for client in clients.values():
        assert client.get("/api/v1/me", headers=bearer).status_code == 401
        assert log_in(client, name) == 201  # the user is still there, on a again
    assert in_shard_file(cluster, SOURCE, MOVING, name)


def refcounts(cluster: LocalCluster, instance: str, keys: list[str]) -> list[int]:
    """The instance's reference counts for these blobs, read off its refs.sqlite."""
    path = cluster.servers[instance].data_dir / "blobs" / "refs.sqlite"
    with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
        found = dict(conn.execute(f"SELECT key, refs FROM blobs WHERE key IN ({','.join('?' * len(keys))})", keys))
    return [found.get(key, 0) for key in keys]


def test_a_moved_shards_photos_are_served_by_its_new_owner_alone_and_freed_there(cluster):
    """A photo posted by a user of shard 1 (on a); the shard moves to b, which copies the blobs and
    takes their references; with a stopped, b still serves the photo; deleting the post on b
    frees them there, and a holds none of them any more."""
    client = httpx.Client(base_url=cluster.urls["b"], timeout=30)
    name = next(names_on(MOVING, "photographer"))
    token = client.post("/api/v1/accounts", json={"username": name, "password": PASSWORD}).json()["token"]
    client.headers["Authorization"] = f"Bearer {token}"
    media = client.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes((320, 240)))}).json()
    deadline = time.monotonic() + 30
    while (ready := client.get(f"/api/v1/media/{media['id']}").json())["status"] != "ready":
        assert time.monotonic() < deadline, ready
        time.sleep(0.1)  # polling the media worker of a, the shard's owner
    post = client.post("/api/v1/posts", json={"caption": "before the move", "media_ids": [media["id"]]}).json()
    keys = [variant["url"].rsplit("/", 1)[1].split(".")[0] for variant in ready["variants"]]
    assert refcounts(cluster, "a", keys) == [1] * len(keys) and refcounts(cluster, "b", keys) == [0] * len(keys)

    moved = move_shard(cluster, str(MOVING), TARGET)
    assert moved.returncode == 0, moved.stdout + moved.stderr
    assert f"took the references to the {len(keys)} blobs" in moved.stdout, moved.stdout
    assert refcounts(cluster, "b", keys) == [1] * len(keys) and refcounts(cluster, "a", keys) == [0] * len(keys)
    cluster.servers["a"].stop()
    for variant in ready["variants"]:
        answer = httpx.get(cluster.urls["b"] + variant["url"], timeout=30)
        assert answer.status_code == 200 and len(answer.content) == variant["bytes"], variant
    assert client.delete(f"/api/v1/posts/{post['id']}").status_code == 204
    assert refcounts(cluster, "b", keys) == [0] * len(keys)  # freed where the post was deleted


def test_refusals_change_nothing(cluster, tmp_path):
    for args, message in [
        (("1", "zz"), "no instance is named 'zz' (the config names a, b)"),
        (("2", "b"), "shard 2 is already on instance 'b' (map version 1)"),
        (("9", "b"), "shard 9 is outside 0-3"),
        (("one", "b"), "'one' is not a shard number"),
    ]:
        refused = move_shard(cluster, *args)
        assert refused.returncode == 2 and message in refused.stderr and "nothing was changed" in refused.stderr, (
            args, refused.stderr)
    single = tmp_path / "single.toml"
    single.write_text(FAST)
    refused = subprocess.run([sys.executable, "-m", "instamini", "admin", "move-shard", "1", "b", "--config", str(single)],
                             cwd=REPO, capture_output=True, text=True, timeout=60)
    assert refused.returncode == 2 and "move-shard needs a cluster" in refused.stderr
    for instance in "ab":
        assert not (cluster.servers[instance].data_dir / "cluster" / "topology.json").exists()
    name = next(names_on(MOVING, "after"))
    answer = httpx.post(cluster.urls["b"] + "/api/v1/accounts", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 201 and holders(cluster, "SELECT username FROM users", name) == [SOURCE]


# -- the steps, in-process: two ShardedMetas, two movers, calls routed between them ----------

MIGRATIONS = {
    "items": ["CREATE TABLE items (id INTEGER PRIMARY KEY, value TEXT NOT NULL)"],
    # The one column of the media module's table that a move's blob handover reads (move_blobs.py).
    "media": ["CREATE TABLE media (id INTEGER PRIMARY KEY, variants TEXT NOT NULL DEFAULT '[]')"],
}
INSTANCES = (Instance("a", "http://a.invalid"), Instance("b", "http://b.invalid"))
RANGES = {"a": "0-1", "b": "2-3"}


class Routed:
    """An RpcClient stand-in: a call runs in the named instance's registry; `fail` makes calls fail."""

    def __init__(self, topology: Topology, registries: dict[str, RpcRegistry], fail: dict[tuple[str, str], int]) -> None:
        self.topology, self.registries, self.fail = topology, registries, fail

    async def call(self, instance: str, procedure: str, args: Any = None, *, result_type: Any = Any, **_: Any) -> Any:
        if self.fail.get((instance, procedure), 0) > 0:
            self.fail[(instance, procedure)] -= 1
            raise RpcUnavailable(instance, "failed by the test")
        outcome = await self.registries[instance].run_one(WireCall(procedure, msgspec.Raw(msgspec.msgpack.encode(args))))
        if type(outcome) is not Ok:
            raise RpcCallFailed(instance, procedure, outcome.code, outcome.detail, outcome.data)
        return msgspec.msgpack.decode(outcome.value, type=result_type)


@pytest.fixture
async def pair(tmp_path):
    registries, fail, sides = {}, {}, {}
    for name in "ab":
        meta = ShardedMeta(tmp_path / name / "meta", shards=SHARDS)
        await meta.open(MIGRATIONS)
        topology = Topology.from_ranges(name, INSTANCES, RANGES, SHARDS)
        registry = registries[name] = RpcRegistry()
        node = ClusterNode(topology, Routed(topology, registries, fail), registry, RpcServer(topology, registry, None),
                           tmp_path / name / "cluster")
        mover = ShardMover(node, meta, blobs=MemoryBlobStore())
        mover.register(registry)
        sides[name] = (meta, node, mover)
    yield sides, fail
    for meta, _, _ in sides.values():
        await meta.close()


def insert(value: str):
    return lambda conn: conn.execute("INSERT INTO items (value) VALUES (?)", (value,)).lastrowid


async def rows(meta: ShardedMeta, shard: int) -> list[str]:
    return [row[0] for row in await meta.read(shard, "SELECT value FROM items ORDER BY id")]


async def test_writes_queued_at_the_freeze_commit_into_the_copy_and_later_ones_are_refused(pair):
    meta, _, mover = pair[0]["a"]
    queued = [asyncio.ensure_future(meta.write(MOVING, insert(f"w{n}"))) for n in range(50)]
    await asyncio.sleep(0)  # they are in the writer's queue, none committed yet
    frozen = await mover.freeze(FreezeArgs(MOVING, "m1"))
    assert all(task.done() and not task.exception() for task in queued)  # acknowledged: so in the copy
    with pytest.raises(ShardMoving, match="shard 1 is moving"):
        await meta.write(MOVING, insert("late"))
    assert await meta.write(0, insert("other shard")) > 0  # the freeze is one shard's
    copy = sqlite3.connect(mover.outgoing[MOVING].path)
    assert [row[0] for row in copy.execute("SELECT value FROM items ORDER BY id")] == [f"w{n}" for n in range(50)]
    assert frozen.bytes == mover.outgoing[MOVING].path.stat().st_size
    copy.close()


def media_row(*keys: str):
    variants = msgspec.json.encode([{"key": key, "role": "image"} for key in keys]).decode()
    return lambda conn: conn.execute("INSERT INTO media (variants) VALUES (?)", (variants,)).lastrowid


async def test_a_moved_shards_blobs_go_with_it_and_the_source_keeps_what_its_other_shards_use(pair):
    sides, _ = pair
    meta_a, node_a, mover_a = sides["a"]
    meta_b, _, mover_b = sides["b"]
    blobs_a, blobs_b = mover_a.blobs.blobs, mover_b.blobs.blobs
    photo, shared, big = [await blobs_a.put_bytes(data) for data in (b"photo", b"shared", bytes(range(256)) * 9000)]
    # Shard 1 (moving) uses photo twice, shared once and big (2.3 MB: three chunks) once;
    # shard 0 (staying on a) uses shared too. Refcounts as the media workers leave them.
    await meta_a.write(MOVING, media_row(photo.key, shared.key))
    await meta_a.write(MOVING, media_row(photo.key, big.key))
    await meta_a.write(0, media_row(shared.key))
    for key, n in ((photo.key, 2), (shared.key, 2), (big.key, 1)):
        await blobs_a.incref(key, n)

    lines: list[str] = []
    await MoveDriver(node_a.client, INSTANCES, lines.append).run(str(MOVING), "b")
    assert [await blobs_b.refcount(key) for key in (photo.key, shared.key, big.key)] == [2, 1, 1]
    assert await blobs_b.read(big.key) == bytes(range(256)) * 9000  # copied whole, in chunks
    assert [await blobs_a.refcount(key) for key in (photo.key, shared.key, big.key)] == [0, 1, 0]  # shard 0's stays
    assert any("took the references to the 3 blobs" in line and "copying 3" in line for line in lines), lines

    # Moved back: b lets go, a takes them again (it still holds the files: nothing to copy).
    lines.clear()
    await MoveDriver(node_a.client, INSTANCES, lines.append).run(str(MOVING), "a")
    assert [await blobs_a.refcount(key) for key in (photo.key, shared.key, big.key)] == [2, 2, 1]
    assert [await blobs_b.refcount(key) for key in (photo.key, shared.key, big.key)] == [0, 0, 0]
    assert any("took the references to the 3 blobs" in line and "copying 0" in line for line in lines), lines


async def test_a_source_that_went_before_the_blobs_were_taken_keeps_its_references(pair):
    sides, fail = pair
    meta_a, node_a, mover_a = sides["a"]
    _, _, mover_b = sides["b"]
    photo = await mover_a.blobs.blobs.put_bytes(b"photo")
    await meta_a.write(MOVING, media_row(photo.key))
    await mover_a.blobs.blobs.incref(photo.key)
    fail[("b", "cluster.move.take_blobs")] = 1
    lines: list[str] = []
    await MoveDriver(node_a.client, INSTANCES, lines.append).run(str(MOVING), "b")
    assert any("did not take the shard's blobs (it could not take them" in line for line in lines), lines
    assert await mover_a.blobs.blobs.refcount(photo.key) == 1  # kept, and served to b by the peer fetch
    assert await mover_b.blobs.blobs.refcount(photo.key) == 0


async def test_an_instance_takes_part_in_one_move_at_a_time(pair):
    (meta_a, _, mover_a), (_, _, mover_b) = pair[0]["a"], pair[0]["b"]
    await mover_a.freeze(FreezeArgs(MOVING, "m1"))
    with pytest.raises(ProcedureError, match="source of move m1.*one move at a time"):
        await mover_a.freeze(FreezeArgs(0, "m2"))  # a second shard of the same source
    with pytest.raises(ProcedureError, match="source of move m1"):
        await mover_a.pull(PullArgs(2, "m3", "b", 1, "0" * 64, 1024))  # nor a target meanwhile
    assert await meta_a.write(0, insert("still writable")) > 0  # the refused freeze froze nothing
    assert await mover_a.unfreeze(MoveRef(MOVING, "m1")) == "unfrozen"
    await mover_a.freeze(FreezeArgs(0, "m2"))  # once the first is over, the next may begin
    assert await mover_a.unfreeze(MoveRef(0, "m2")) == "unfrozen"


async def test_the_driver_moves_and_every_map_switches(pair):
    sides, _ = pair
    meta_a, node_a, _ = sides["a"]
    meta_b, node_b, _ = sides["b"]
    await meta_a.write(MOVING, insert("kept"))
    lines: list[str] = []
    await MoveDriver(node_a.client, INSTANCES, lines.append).run(str(MOVING), "b")
    assert node_a.topology.owner_of(MOVING) == node_b.topology.owner_of(MOVING) == "b"
    assert node_a.topology.version == node_b.topology.version == 2
    assert await rows(meta_b, MOVING) == ["kept"] and meta_a.is_frozen(MOVING) and not meta_b.is_frozen(MOVING)
    assert not list((meta_a.root).glob("*.outgoing")) and not list(meta_b.root.glob("*.before-move"))
    assert lines[-1].startswith("moved shard 1 from a to b: ")


@pytest.mark.parametrize("where", [("a", "cluster.move.freeze"), ("b", "cluster.move.pull"), ("a", "cluster.adopt_map")])
async def test_a_failure_before_the_switch_is_undone(pair, where):
    sides, fail = pair
    meta_a, node_a, _ = sides["a"]
    meta_b, node_b, _ = sides["b"]
    await meta_a.write(MOVING, insert("kept"))
    fail[where] = 1
    with pytest.raises(Failed, match="the map is unchanged|nothing was changed") as failure:
        await MoveDriver(node_a.client, INSTANCES, lambda line: None).run(str(MOVING), "b")
    assert "unfrozen on a" in str(failure.value)  # a freeze that timed out may still have happened
    if where == ("a", "cluster.adopt_map"):
        assert "b put its own copy back" in str(failure.value)
    assert node_a.topology.version == node_b.topology.version == 1 and node_a.topology.owner_of(MOVING) == "a"
    assert not meta_a.is_frozen(MOVING) and await meta_a.write(MOVING, insert("after")) > 0
    assert await rows(meta_a, MOVING) == ["kept", "after"] and await rows(meta_b, MOVING) == []
    assert not [path for path in [*meta_a.root.iterdir(), *meta_b.root.iterdir()] if path.suffix not in (".sqlite", ".json")
                and not path.name.endswith(("-wal", "-shm"))]


async def test_the_target_pulls_in_chunks_and_installs_only_a_copy_that_checks_out(pair):
    sides, _ = pair
    meta_a, _, mover_a = sides["a"]
    meta_b, _, mover_b = sides["b"]
    await meta_a.write(MOVING, insert("x" * 50_000))
    frozen = await mover_a.freeze(FreezeArgs(MOVING, "m1"))
    with pytest.raises(ProcedureError, match="do not hash to"):
        await mover_b.pull(PullArgs(MOVING, "m1", "a", frozen.bytes, "0" * 64, chunk_bytes=4096))
    assert await rows(meta_b, MOVING) == [] and not list(meta_b.root.glob("*.incoming"))
    installed = await mover_b.pull(PullArgs(MOVING, "m1", "a", frozen.bytes, frozen.sha256, chunk_bytes=4096))
    assert installed.chunks == -(-frozen.bytes // 4096) and await rows(meta_b, MOVING) == ["x" * 50_000]
    assert await meta_b.write(MOVING, insert("on b")) > 0  # reopened, writable


async def test_a_freeze_lifts_itself_when_no_chunk_is_read_for_its_lease(pair):
    meta_a, _, mover_a = pair[0]["a"]
    await mover_a.freeze(FreezeArgs(MOVING, "m1", lease_seconds=60))
    await mover_a.chunk(ChunkArgs(MOVING, "m1", offset=0, size=10))
    outgoing = mover_a.outgoing[MOVING]
    mover_a._expire(MoveRef(MOVING, "m1"))  # what the loop's timer calls; the lease was just renewed
    assert mover_a._expiring is None and meta_a.is_frozen(MOVING)
    outgoing.expires = 0.0  # as if the lease had run out
    mover_a._expire(MoveRef(MOVING, "m1"))
    await mover_a._expiring
    assert not meta_a.is_frozen(MOVING) and MOVING not in mover_a.outgoing and not outgoing.path.exists()


async def test_the_switch_is_refused_without_the_freeze_and_maps_only_go_forward(pair):
    sides, _ = pair
    meta_a, node_a, mover_a = sides["a"]
    moved = node_a.topology.with_shard_moved(MOVING, "b")
    for move in (MoveRef(MOVING, "m9"), None):  # a restarted source has lost its freeze, and takes writes
        with pytest.raises(ProcedureError, match="shard 1 is not frozen here"):
            await mover_a.adopt_map(AdoptArgs(moved.version, moved.ranges(), move))
    await meta_a.freeze(MOVING, "moving")
    with pytest.raises(ProcedureError, match="shard 1 is not frozen here for this move"):
        await mover_a.adopt_map(AdoptArgs(moved.version, moved.ranges(), MoveRef(MOVING, "m9")))
    assert (await mover_a.adopt_map(AdoptArgs(moved.version, moved.ranges()))).changed  # a re-run's push
    assert not (await mover_a.adopt_map(AdoptArgs(moved.version, moved.ranges()))).changed
    with pytest.raises(ProcedureError, match="older than the version 2 of 'a'"):
        await mover_a.adopt_map(AdoptArgs(1, RANGES))
    with pytest.raises(ProcedureError, match="another map with version 2"):
        await mover_a.adopt_map(AdoptArgs(2, RANGES))
    assert msgspec.json.decode((node_a.map_directory / "topology.json").read_bytes())["version"] == 2


def test_a_forwarded_shard_moving_error_is_raised_again_as_itself():
    with pytest.raises(ShardMoving, match="moving"):
        _raise_again(RpcCallFailed("a", "x.register", "shard_moving", "shard 1 is moving to another instance; retry"))


async def test_a_frozen_shard_answers_503_with_retry_after(client):
    name = next(names_on(2, "frozen"))
    # The flag alone: meta.freeze would await the writer from this loop, and the app's stores run on another.
    client.app.state.meta.shards[2].writer.freeze("shard 2 is moving to another instance; retry")
    answer = await client.post("/api/v1/accounts", json={"username": name, "password": PASSWORD})
    assert answer.status_code == 503 and answer.headers["retry-after"] == "1", answer.text
    client.app.state.meta.unfreeze(2)
    assert (await client.post("/api/v1/accounts", json={"username": name, "password": PASSWORD})).status_code == 201
