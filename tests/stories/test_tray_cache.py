"""The story tray from the cache: no SQLite call when warm, and exactly right after every change."""

from __future__ import annotations

import asyncio
import shutil
from contextlib import contextmanager
from pathlib import Path

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.feed.ranker import RecencyRanker, Scored
from instamini.stories import cache as cache_module
from tests.accounts.helpers import in_app, state_of
from tests.conftest import register
from tests.graph.test_private import make_private
from tests.posts.helpers import ready_media, refcounts
from tests.stories.test_stories import HOUR_MS, STORIES, follow, share, tray


@contextmanager
def sqlite_reads(client):
    """Every SQLite read the app makes inside the block (read_one and read_by_shard go through read)."""
    meta = state_of(client).meta
    calls: list = []
    original = meta.read

    async def counting_read(*args, **kwargs):
        calls.append(args)
        return await original(*args, **kwargs)

    meta.read = counting_read
    try:
        yield calls
    finally:
        del meta.read  # back to the class's method


def by_recency(client):
    """Pin the default order: the learned ranker (when its module is on) may reorder as it learns."""
    state_of(client).ranker = RecencyRanker()
    return client


async def warm_tray(client, user) -> list[dict]:
    """The tray, read twice: the second read must make no SQLite call and agree with the first."""
    first = await tray(client, user)
    with sqlite_reads(client) as calls:
        second = await tray(client, user)
    assert calls == [], calls
    assert second == first
    return second


def names(entries: list[dict]) -> list[str]:
    return [entry["user"]["username"] for entry in entries]


async def see(client, user, story) -> None:
    response = await client.post(f"{STORIES}/{story['id']}/seen", headers=user.headers)
    assert response.status_code == 200, response.text


async def test_a_warm_tray_makes_no_sqlite_call(client, alice, bob, carol):
    by_recency(client)
    await share(client, alice)
    await share(client, bob)
    await follow(client, bob, alice)
    await follow(client, bob, carol)  # a followee with no stories is cached too
    entries = await warm_tray(client, bob)
    assert names(entries) == ["alice", "bob"]  # alice unseen, bob's own seen
    assert [e["has_unseen"] for e in entries] == [True, False]
    assert await warm_tray(client, carol) == []


async def test_posting_and_seeing_write_through(client, alice, bob):
    by_recency(client)
    first = await share(client, alice)
    await follow(client, bob, alice)
    assert [s["id"] for s in (await warm_tray(client, bob))[0]["stories"]] == [first["id"]]
    second = await share(client, alice)
    (entry,) = await warm_tray(client, bob)
    assert [s["id"] for s in entry["stories"]] == [first["id"], second["id"]]
    assert [s["seen"] for s in entry["stories"]] == [False, False]
    await see(client, bob, first)
    (entry,) = await warm_tray(client, bob)
    assert [s["seen"] for s in entry["stories"]] == [True, False] and entry["has_unseen"]
    await see(client, bob, second)
    (entry,) = await warm_tray(client, bob)
    assert [s["seen"] for s in entry["stories"]] == [True, True] and not entry["has_unseen"]
    third = await share(client, alice)
    (entry,) = await warm_tray(client, bob)
    assert [s["seen"] for s in entry["stories"]] == [True, True, False] and entry["stories"][2]["id"] == third["id"]


async def test_expiry_is_checked_at_read_and_the_janitor_drops_entries(client, alice, bob):
    by_recency(client)
    service = state_of(client).stories
    start = service.clock_ms()
    old = await share(client, alice)
    service.clock_ms = lambda: start + 10 * HOUR_MS
    new = await share(client, alice)
    await follow(client, bob, alice)
    assert [s["id"] for s in (await warm_tray(client, bob))[0]["stories"]] == [old["id"], new["id"]]
    service.clock_ms = lambda: start + 25 * HOUR_MS  # the old one is past its end, the janitor has not run
    assert [s["id"] for s in (await warm_tray(client, bob))[0]["stories"]] == [new["id"]]
    assert in_app(client, service.run_once) == 1
    cached = service.cached.lists.get(int(alice.id))
    assert [s.id for s in cached.stories] == [int(new["id"])]
    assert [s["id"] for s in (await warm_tray(client, bob))[0]["stories"]] == [new["id"]]
    service.clock_ms = lambda: start + 40 * HOUR_MS
    assert await warm_tray(client, bob) == []
    assert in_app(client, service.run_once) == 1
    assert service.cached.lists.get(int(alice.id)).stories == []


async def test_follow_unfollow_and_block(client, alice, bob, carol):
    by_recency(client)
    await share(client, alice)
    await share(client, carol)
    assert names(await warm_tray(client, bob)) == []
    await follow(client, bob, alice)
    assert names(await warm_tray(client, bob)) == ["alice"]
    await follow(client, bob, carol)
    assert set(names(await warm_tray(client, bob))) == {"alice", "carol"}
    assert (await client.delete("/api/v1/users/alice/follow", headers=bob.headers)).status_code in (200, 204)
    assert names(await warm_tray(client, bob)) == ["carol"]
    await follow(client, bob, alice)
    assert set(names(await warm_tray(client, bob))) == {"alice", "carol"}
    assert (await client.post("/api/v1/users/bob/block", headers=carol.headers)).status_code in (200, 201, 204)
    assert names(await warm_tray(client, bob)) == ["alice"]
    assert (await client.delete("/api/v1/users/bob/block", headers=carol.headers)).status_code in (200, 204)
    assert names(await warm_tray(client, bob)) == ["alice"]  # the block ended the follow
    await follow(client, bob, carol)
    assert set(names(await warm_tray(client, bob))) == {"alice", "carol"}


async def test_private_accounts(client, alice, bob, carol):
    by_recency(client)
    await share(client, alice)
    await follow(client, bob, alice)
    assert names(await warm_tray(client, bob)) == ["alice"]
    await make_private(client, alice)  # bob already follows: still shown
    assert names(await warm_tray(client, bob)) == ["alice"]
    await follow(client, carol, alice)  # a request
    assert names(await warm_tray(client, carol)) == []
    assert (await client.post("/api/v1/follow-requests/carol/approve", headers=alice.headers)).status_code < 300
    assert names(await warm_tray(client, carol)) == ["alice"]
    assert (await client.delete("/api/v1/users/alice/follow", headers=carol.headers)).status_code in (200, 204)
    assert names(await warm_tray(client, carol)) == []


async def test_suspended_authors_are_left_out(client, alice, bob):
    by_recency(client)
    await share(client, alice)
    await follow(client, bob, alice)
    assert names(await warm_tray(client, bob)) == ["alice"]
    suspended = {int(alice.id)}
    state_of(client).graph.hidden_users.append(lambda user_id: user_id in suspended)
    assert names(await warm_tray(client, bob)) == []
    suspended.clear()
    assert names(await warm_tray(client, bob)) == ["alice"]


async def test_the_cache_survives_a_restart_and_a_cold_cache_gives_the_same_tray(config):
    async with AsyncTestClient(create_app(config)) as client:
        by_recency(client)
        alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
        seen = await share(client, alice)
        await share(client, alice)
        await share(client, carol)
        await share(client, bob)
        for followee in (alice, carol):
            await follow(client, bob, followee)
        await see(client, bob, seen)
        before = await warm_tray(client, bob)
        assert names(before) == ["carol", "alice", "bob"]
    async with AsyncTestClient(create_app(config)) as client:
        by_recency(client)
        with sqlite_reads(client) as calls:
            assert await tray(client, bob) == before
        assert calls == []  # every entry came back from LMDB
    shutil.rmtree(Path(config.server.data_dir) / "cache")
    async with AsyncTestClient(create_app(config)) as client:
        by_recency(client)
        with sqlite_reads(client) as calls:
            assert await tray(client, bob) == before
        assert calls  # cold: filled from SQLite
        assert await warm_tray(client, bob) == before


class Reversed:
    """Oldest newest-story first: the opposite of the default."""

    name = "reversed"

    def __init__(self) -> None:
        self.calls: list = []

    def rank(self, viewer_id, candidates):
        self.calls.append((viewer_id, list(candidates)))
        return [Scored(c.post_id, float(i), {}) for i, c in enumerate(sorted(candidates, key=lambda c: c.post_id))]


class Impressions:
    def __init__(self) -> None:
        self.recorded: list = []

    def record(self, viewer_id, surface, candidates) -> None:
        self.recorded.append((viewer_id, surface, list(candidates)))


async def test_the_ranker_orders_each_group_and_impressions_are_recorded(client, alice, bob):
    others = [await register(client, name) for name in ("dave", "erin", "frank")]
    stories = {}
    for user in others:
        stories[user.username] = await share(client, user)
        await follow(client, bob, user)
    await see(client, bob, stories["frank"])
    assert names(await tray(client, bob)) == ["erin", "dave", "frank"]  # recency: newest first
    state = state_of(client)
    state.ranker, state.impressions = Reversed(), Impressions()
    entries = await warm_tray(client, bob)
    assert names(entries) == ["dave", "erin", "frank"]  # unseen still first
    viewer, candidates = state.ranker.calls[-1]
    assert viewer == int(bob.id) and {c.kind for c in candidates} == {"story"}
    assert {(c.author_id, c.post_id, c.like_count, c.comment_count) for c in candidates} == {
        (int(u.id), int(stories[u.username]["id"]), 0, 0) for u in others
    }
    viewer, surface, shown = state.impressions.recorded[-1]
    assert (viewer, surface) == (int(bob.id), "stories")
    assert [c.post_id for c in shown] == [int(stories[name]["id"]) for name in ("dave", "erin", "frank")]
    state.stories.config = type(state.stories.config)(tray_size=1)
    assert names(await tray(client, bob)) == ["dave"]
    assert [c.author_id for c in state.impressions.recorded[-1][2]] == [int(others[0].id)]


async def racing_fill(client, viewer, write, marker: str) -> None:
    """A cold tray whose first SQLite read containing `marker` returns only after
    `write()` ran: the fill it then makes must not hide what the write did."""
    state = state_of(client)
    meta = state.meta
    started, release = asyncio.Event(), asyncio.Event()
    original = meta.read

    async def slow_read(shard, sql, *args):
        rows = await original(shard, sql, *args)
        if not started.is_set() and marker in sql:
            started.set()
            await release.wait()
        return rows

    meta.read = slow_read
    try:
        reading = asyncio.ensure_future(state.stories.tray(int(viewer.id)))
        await started.wait()
        await write()
        release.set()
        await reading
    finally:
        del meta.read


async def test_a_fill_racing_a_post_is_not_kept(client, alice, bob):
    by_recency(client)
    await share(client, alice)
    await follow(client, bob, alice)
    (media_id,) = await ready_media(client, alice)
    state_of(client).stories.cached.lists.delete(int(alice.id))  # cold: the tray will read SQLite
    posted = []

    async def post() -> None:
        posted.append(await state_of(client).stories.post(int(alice.id), int(media_id)))

    in_app(client, racing_fill, client, bob, post, "FROM stories s JOIN media")
    (entry,) = await warm_tray(client, bob)
    assert entry["stories"][-1]["id"] == str(posted[0].id) and len(entry["stories"]) == 2


async def test_a_fill_racing_a_seen_mark_is_not_kept(client, alice, bob):
    by_recency(client)
    story = await share(client, alice)
    await follow(client, bob, alice)
    assert (await warm_tray(client, bob))[0]["has_unseen"]
    stories = state_of(client).stories
    stories.cached.seen.delete((int(bob.id), int(alice.id)))

    async def see_it() -> None:
        await stories.mark_seen(int(bob.id), int(story["id"]))

    in_app(client, racing_fill, client, bob, see_it, "JOIN story_views")
    (entry,) = await warm_tray(client, bob)
    assert not entry["has_unseen"]


async def test_a_fill_racing_a_follow_is_not_kept(client, alice, bob):
    by_recency(client)
    await share(client, alice)
    assert await warm_tray(client, bob) == []
    state_of(client).stories.cached.followees.delete(int(bob.id))

    async def follow_alice() -> None:
        await state_of(client).graph.follow(int(bob.id), "alice")

    in_app(client, racing_fill, client, bob, follow_alice, "kind = 'following'")
    assert names(await warm_tray(client, bob)) == ["alice"]


async def test_followees_are_reloaded_after_a_while_anyway(client, alice, bob, monkeypatch):
    by_recency(client)
    await share(client, alice)
    await follow(client, bob, alice)
    assert names(await warm_tray(client, bob)) == ["alice"]
    later = cache_module.wall_ms() + cache_module.FOLLOWEES_TTL_MS
    monkeypatch.setattr(cache_module, "wall_ms", lambda: later)
    with sqlite_reads(client) as calls:
        assert names(await tray(client, bob)) == ["alice"]
    assert [sql for _, sql, *_ in calls] == ["SELECT dst FROM edges WHERE src = ? AND kind = 'following'"]
    assert names(await warm_tray(client, bob)) == ["alice"]


async def test_a_removed_story_leaves_the_tray_and_frees_its_media(client, alice, bob):
    by_recency(client)
    kept, taken_down = await share(client, alice), await share(client, alice)
    await follow(client, bob, alice)
    assert len((await warm_tray(client, bob))[0]["stories"]) == 2
    keys = [variant["url"].rsplit("/", 1)[1].split(".")[0] for variant in taken_down["media"]["variants"]]
    service = state_of(client).stories
    assert in_app(client, service.remove, int(taken_down["id"])) is True
    assert in_app(client, service.remove, int(taken_down["id"])) is False
    assert in_app(client, service.remove, 12345) is False
    (entry,) = await warm_tray(client, bob)
    assert [s["id"] for s in entry["stories"]] == [kept["id"]]
    assert refcounts(client, keys) == [0, 0]
    assert (await client.post(f"{STORIES}/{taken_down['id']}/seen", headers=bob.headers)).status_code == 404
