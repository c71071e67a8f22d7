"""Threads survive a restart and a lost cache; the user-side index is repaired after a crash."""

from __future__ import annotations

import shutil

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.messages.index import Staged, decode_rows
from tests.accounts.helpers import in_app, register_on_shard, state_of
from tests.conftest import register
from tests.messages.helpers import THREADS, listed, mark_read, send, start, stored
from tests.posts.helpers import ready_media


async def observe(client, users) -> dict:
    """Everything the messages routes answer to each of these users."""
    seen = {}
    for user in users:
        for folder in ("inbox", "requests"):
            threads = await listed(client, user, folder)
            seen[(user.username, folder)] = threads
            for thread in threads:
                response = await client.get(f"{THREADS}/{thread['id']}/messages", headers=user.headers)
                seen[(user.username, thread["id"])] = response.json()
    return seen


async def test_threads_messages_and_receipts_survive_a_restart(config):
    async with AsyncTestClient(create_app(config)) as client:
        alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
        direct = await start(client, alice, bob)
        group = await start(client, bob, alice, carol)
        [photo] = await ready_media(client, alice)
        await send(client, alice, direct["id"], "hi", media_id=photo)
        last = await send(client, carol, group["id"], "hello group")
        await send(client, bob, direct["id"], "hey")
        await mark_read(client, alice, group["id"], last["id"])
        before = await observe(client, [alice, bob, carol])
        rows = await stored(client)
    assert before[("bob", "inbox")][0]["id"] == direct["id"]
    assert before[("alice", direct["id"])]["items"][1]["media"]["id"] == photo

    for wipe_cache in (False, True):
        if wipe_cache:
            shutil.rmtree(config.data_path / "cache")
        async with AsyncTestClient(create_app(config)) as client:
            assert await stored(client) == rows
            assert await observe(client, [alice, bob, carol]) == before, f"wipe_cache={wipe_cache}"


def outbox(client) -> list[tuple[int, Staged]]:
    """The outbox rows of every shard, oldest first."""
    state = state_of(client)

    async def read() -> list[tuple[int, Staged]]:
        found = []
        for shard in range(state.meta.shard_count):
            rows = await state.meta.read(shard, "SELECT id, shard, rows FROM messages_outbox ORDER BY id")
            found += [(shard, Staged(row["id"], row["shard"], decode_rows(row["rows"]))) for row in rows]
        return found

    return in_app(client, read)


def crash_before_delivery(client) -> None:
    """From now on the thread-side commits happen and the writes on other shards fail, as if
    the process died between the two (the request still succeeds: the message is stored)."""

    async def lost(thread_shard, staged) -> None:
        if staged:
            raise OSError("the process died here")

    state_of(client).messages.index.deliver = lost


async def test_a_restart_repairs_the_index_after_a_crash_between_shards(config):
    async with AsyncTestClient(create_app(config)) as client:
        left = await register_on_shard(client, 0, "left")
        right = await register_on_shard(client, 1, "right")
        crash_before_delivery(client)
        thread = await start(client, left, right)
        message = await send(client, left, thread["id"], "are you there?")
        assert await listed(client, right, "requests") == []  # right's shard never heard of it
        assert [t["id"] for t in await listed(client, left)] == [thread["id"]]  # left's shard is the thread's
        assert len(outbox(client)) == 2
    async with AsyncTestClient(create_app(config)) as client:
        assert outbox(client) == []
        [request] = await listed(client, right, "requests")
        assert request["id"] == thread["id"] and request["unread_count"] == 1
        assert request["last_message"]["id"] == message["id"]
        assert in_app(client, state_of(client).messages.replay_outbox) == 0


async def test_index_rows_only_move_forward_whatever_their_order(client):
    left = await register_on_shard(client, 0, "left")
    right = await register_on_shard(client, 1, "right")
    crash_before_delivery(client)
    thread = await start(client, left, right)
    await send(client, left, thread["id"], "one")
    reply = await send(client, right, thread["id"], "two")  # right's reply: right's copy moves to the inbox
    staged = outbox(client)
    assert [row.folder for _, item in staged for row in item.rows] == ["requests", "requests", "inbox"]

    index = type(state_of(client).messages.index)(state_of(client).meta)
    for shard, item in reversed(staged):  # newest first, and the oldest twice
        in_app(client, index.deliver, shard, [item])
    in_app(client, index.deliver, staged[0][0], [staged[0][1]])

    rows = (await stored(client))["user_threads"]
    assert (int(right.id), int(thread["id"]), int(reply["id"]), "inbox", int(left.id)) in rows
    assert [t["id"] for t in await listed(client, right)] == [thread["id"]]
    assert await listed(client, right, "requests") == []
    assert outbox(client) == []
