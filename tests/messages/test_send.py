"""Sending text, history pages, exact unread counts and read receipts."""

from __future__ import annotations

from instamini.messages.routes import SENDS_PER_ADDRESS_PER_MINUTE
from tests.accounts.helpers import assert_error
from tests.messages.helpers import THREADS, listed, mark_read, send, start, stored, texts, thread_of


async def test_history_is_newest_first_in_pages(client, alice, bob):
    thread = await start(client, alice, bob)
    sent = [await send(client, alice if i % 2 else bob, thread["id"], f"m{i}") for i in range(7)]
    path = f"{THREADS}/{thread['id']}/messages"
    found, cursor = [], None
    while True:
        params = {"limit": 3, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(path, headers=alice.headers, params=params)).json()
        assert len(body["items"]) <= 3
        found += body["items"]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [m["id"] for m in found] == [m["id"] for m in reversed(sent)]
    assert found[0]["text"] == "m6" and found[0]["sender"]["username"] == "bob"
    assert found[0]["thread_id"] == thread["id"] and found[0]["media"] is None and found[0]["post"] is None
    assert_error(await client.get(path, headers=alice.headers, params={"cursor": "nope"}), 400, "cursor")
    assert_error(await client.get(path, headers=alice.headers, params={"limit": 101}), 400, "limit")


async def test_unread_counts_are_exact_and_drop_when_read(client, alice, bob, carol):
    group = await start(client, alice, bob, carol)
    gid = group["id"]
    a1 = await send(client, alice, gid, "a1")
    b1 = await send(client, bob, gid, "b1")
    a2 = await send(client, alice, gid, "a2")
    c1 = await send(client, carol, gid, "c1")

    async def unread(user) -> int:
        return (await thread_of(client, user, gid))["unread_count"]

    # Your own messages are never unread; sending reads what came before it.
    assert [await unread(u) for u in (alice, bob, carol)] == [1, 2, 0]
    assert (await listed(client, bob))[0]["unread_count"] == 2

    state = await mark_read(client, bob, gid, a2["id"])
    assert state == {"thread_id": gid, "message_id": a2["id"], "unread_count": 1}
    assert await unread(bob) == 1
    # A receipt never moves back.
    assert (await mark_read(client, bob, gid, a1["id"]))["message_id"] == a2["id"]
    assert (await mark_read(client, bob, gid, c1["id"]))["unread_count"] == 0
    reads = {r["user_id"]: r["message_id"] for r in (await thread_of(client, alice, gid))["reads"]}
    assert reads == {alice.id: a2["id"], bob.id: c1["id"], carol.id: c1["id"]}
    assert b1["id"] < a2["id"]


async def test_a_receipt_must_name_a_message_of_the_thread(client, alice, bob, carol):
    one = await start(client, alice, bob)
    other = await start(client, alice, carol)
    elsewhere = await send(client, alice, other["id"])
    before = await stored(client)
    read = f"{THREADS}/{one['id']}/read"
    assert_error(await client.post(read, headers=bob.headers, json={"message_id": elsewhere["id"]}), 404, "no message")
    assert_error(await client.post(read, headers=bob.headers, json={"message_id": "x1"}), 400, "message_id")
    assert_error(await client.post(read, headers=bob.headers, json={}), 400, "message_id")
    assert await stored(client) == before


async def test_bad_messages_are_refused_and_write_nothing(client, alice, bob):
    thread = await start(client, alice, bob)
    path = f"{THREADS}/{thread['id']}/messages"
    before = await stored(client)
    post = lambda body: client.post(path, headers=alice.headers, json=body)  # noqa: E731
    assert_error(await post({"text": ""}), 400, "needs text")
    assert_error(await post({"text": "   \n"}), 400, "needs text")
    assert_error(await post({}), 400, "needs text")
    assert_error(await post({"text": "x" * 2001}), 400, "text")
    assert_error(await post({"text": "hi", "media_id": "12ab"}), 400, "media_id")
    assert_error(await post({"text": "hi", "post_id": "-1"}), 400, "post_id")
    assert_error(await post({"text": "hi", "extra": True}), 400, "extra")
    assert_error(await client.post(path, json={"text": "hi"}), 401)
    assert await stored(client) == before
    assert (await send(client, alice, thread["id"], "x" * 2000))["text"] == "x" * 2000


async def test_the_configured_text_limit_applies(client, alice, bob):
    thread = await start(client, alice, bob)
    client.app.state.messages.config = type(client.app.state.messages.config)(max_text_chars=5)
    response = await client.post(f"{THREADS}/{thread['id']}/messages", headers=alice.headers, json={"text": "toolong"})
    assert_error(response, 400, "at most 5")
    assert (await send(client, alice, thread["id"], "short"))["text"] == "short"
    assert await texts(client, bob, thread["id"]) == ["short"]


async def test_a_flood_from_one_address_is_limited(client, alice, bob):
    thread = await start(client, alice, bob)
    path = f"{THREADS}/{thread['id']}/messages"
    for _ in range(SENDS_PER_ADDRESS_PER_MINUTE):
        assert (await client.post(path, headers=alice.headers, json={})).status_code == 400  # cheap, still counted
    response = await client.post(path, headers=alice.headers, json={"text": "one more"})
    assert response.status_code == 429
    assert await texts(client, bob, thread["id"]) == []
