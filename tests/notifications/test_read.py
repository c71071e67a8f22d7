"""The badge, marking read up to a cursor, the live push, bad input, and a restart."""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from tests.accounts.helpers import assert_error, state_of
from tests.conftest import register
from tests.notifications.helpers import (
    NOTIFICATIONS,
    FakeSocket,
    act_on,
    comment,
    items,
    like,
    listing,
    mark_read,
    settle,
    unread,
)
from tests.posts.helpers import make_post


async def test_the_unread_count_is_exact_through_grouping_and_reading(client, alice, bob, carol):
    first, second = await make_post(client, alice), await make_post(client, alice)
    await like(client, bob, first)
    await like(client, carol, first)  # joins an unread group: still one
    assert await unread(client, alice) == 1
    await like(client, bob, second)
    await act_on(client, carol, alice, "follow")
    body = await listing(client, alice)
    assert body["unread"] == 3 == await unread(client, alice)

    # Read up to the second item: it and everything older, not the newest.
    cursor = body["items"][1]["cursor"]
    assert await mark_read(client, alice, cursor) == 1
    assert [i["read"] for i in await items(client, alice)] == [False, True, True]
    assert await mark_read(client, alice, cursor) == 1  # again: nothing changes
    assert await mark_read(client, alice, body["items"][0]["cursor"]) == 0

    # News in a read group makes it unread again, and it moves to the top.
    await like(client, bob, first, on=False)
    assert await unread(client, alice) == 0  # an actor leaving is not news
    await like(client, bob, first)
    listed = await items(client, alice)
    assert listed[0]["post_id"] == first["id"] and listed[0]["read"] is False
    assert listed[0]["summary"] == "bob and carol liked your post"
    assert await unread(client, alice) == 1
    # Deleting an unread notification takes it off the badge.
    await like(client, bob, first, on=False)
    await like(client, carol, first, on=False)
    assert await unread(client, alice) == 0 and len(await items(client, alice)) == 2


async def test_a_notification_is_pushed_live_with_the_badge(client, hub, alice, bob, carol):
    socket = FakeSocket(alice)
    hub.add(socket)
    try:
        post = await make_post(client, alice)
        await like(client, bob, post)
        await comment(client, bob, post, "wow")
        settle(client)
        frames = socket.frames()
        assert [frame["type"] for frame in frames] == ["notification", "notification"]
        assert [frame["unread"] for frame in frames] == [1, 2]
        assert frames[0]["notification"]["summary"] == "bob liked your post"
        assert frames[1]["notification"]["summary"] == "bob commented: wow"
        assert frames[1]["notification"] == (await items(client, alice))[0]
        # A regrouped notification is pushed again, with the same id.
        await like(client, carol, post)
        settle(client)
        [again] = socket.frames()
        assert again["notification"]["id"] == frames[0]["notification"]["id"] and again["unread"] == 2
        assert again["notification"]["summary"] == "carol and bob liked your post"
        # Nothing is pushed to anyone else.
        await like(client, alice, await make_post(client, bob))
        settle(client)
        assert socket.frames() == []
        assert socket.closed is None
    finally:
        hub.remove(socket)


async def test_bad_input_is_a_400_that_says_what_is_wrong(client, alice):
    for params in ({"cursor": "abc"}, {"cursor": "-5"}, {"limit": 0}, {"limit": 101}, {"cursor": "9" * 30}):
        response = await client.get(NOTIFICATIONS, headers=alice.headers, params=params)
        assert response.status_code == 400, (params, response.text)
    assert_error(await client.get(NOTIFICATIONS, headers=alice.headers, params={"cursor": "abc"}), 400, "cursor")
    for body in ({}, {"cursor": 5}, {"cursor": "x1"}, {"cursor": ""}, {"cursor": "1", "extra": 1}, ["1"]):
        response = await client.post(f"{NOTIFICATIONS}/read", headers=alice.headers, json=body)
        assert_error(response, 400)
    assert_error(await client.post(f"{NOTIFICATIONS}/read", headers=alice.headers, json={"cursor": 5}), 400, "cursor")
    assert await unread(client, alice) == 0


@pytest.mark.parametrize("method, path", [("GET", ""), ("GET", "/unread"), ("POST", "/read")])
async def test_the_routes_need_a_login(client, method, path):
    response = await client.request(method, NOTIFICATIONS + path, json={"cursor": "1"} if method == "POST" else None)
    assert_error(response, 401)


async def test_notifications_and_the_badge_survive_a_restart(config):
    async with AsyncTestClient(create_app(config)) as client:
        alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
        post = await make_post(client, alice)
        await like(client, bob, post)
        await like(client, carol, post)
        await act_on(client, bob, alice, "follow")
        await mark_read(client, alice, (await items(client, alice))[1]["cursor"])
        before = await listing(client, alice)
    assert before["unread"] == 1
    async with AsyncTestClient(create_app(config)) as client:
        assert await listing(client, alice) == before
        assert await unread(client, alice) == 1
        await like(client, bob, post, on=False)  # the group is still open after the restart
        assert (await items(client, alice))[1]["summary"] == "carol liked your post"
        assert state_of(client).notifications.failed == 0
