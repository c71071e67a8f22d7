"""Blocks: no new thread across one; a direct thread goes quiet; a group hides each from the other."""

from __future__ import annotations

from tests.accounts.helpers import assert_error
from tests.messages.helpers import THREADS, EventLog, connect, listed, mark_read, send, service_call, start, texts, thread_of


async def block(client, blocker, blocked) -> None:
    response = await client.post(f"/api/v1/users/{blocked.username}/block", headers=blocker.headers)
    assert response.status_code == 200, response.text


async def test_no_thread_can_start_across_a_block(client, alice, bob, carol):
    await block(client, bob, alice)
    for starter, other in ((alice, bob), (bob, alice)):
        response = await client.post(THREADS, headers=starter.headers, json={"usernames": [other.username]})
        assert_error(response, 404, f"no user '{other.username}'")  # the same answer as for a missing name
    response = await client.post(THREADS, headers=alice.headers, json={"usernames": ["carol", "bob"]})
    assert_error(response, 404, "no user 'bob'")
    assert await listed(client, alice) == [] and await listed(client, bob) == []


async def test_a_direct_thread_goes_quiet_after_a_block(client, alice, bob):
    thread = await start(client, alice, bob)
    tid = thread["id"]
    await send(client, alice, tid, "before")
    await block(client, alice, bob)
    bobs = connect(client, bob)
    for sender in (alice, bob):
        response = await client.post(f"{THREADS}/{tid}/messages", headers=sender.headers, json={"text": "after"})
        assert_error(response, 403, "cannot send")
    service_call(client, "typing", int(alice.id), int(tid))
    assert bobs.frames() == []
    # The history stays readable for both.
    assert await texts(client, alice, tid) == ["before"] and await texts(client, bob, tid) == ["before"]
    await client.delete(f"/api/v1/users/{bob.username}/block", headers=alice.headers)
    assert (await send(client, bob, tid, "we are fine"))["text"] == "we are fine"


async def test_in_a_group_a_block_hides_each_from_the_other(client, alice, bob, carol):
    group = await start(client, alice, bob, carol)
    gid = group["id"]
    await send(client, bob, gid, "bob before")
    await block(client, carol, bob)
    events = EventLog(client)
    sockets = {user.username: connect(client, user) for user in (alice, bob, carol)}

    from_bob = await send(client, bob, gid, "bob after")
    assert [f["message"]["text"] for f in sockets["carol"].frames()] == []
    assert [f["message"]["text"] for f in sockets["alice"].frames()] == ["bob after"]
    assert events.named("message.sent")[0]["recipient_ids"] == [int(alice.id)]
    await send(client, carol, gid, "carol after")
    assert [f["message"]["text"] for f in sockets["bob"].frames()] == ["bob after"]  # his own, not carol's
    service_call(client, "typing", int(bob.id), int(gid))
    assert [f["type"] for f in sockets["carol"].frames()] == ["message"]  # carol's own message only

    assert await texts(client, carol, gid) == ["carol after"]
    assert await texts(client, bob, gid) == ["bob after", "bob before"]
    assert await texts(client, alice, gid) == ["carol after", "bob after", "bob before"]
    # Hidden messages are not unread, nor anyone's last message.
    carols_view = await thread_of(client, carol, gid)
    assert carols_view["unread_count"] == 0 and carols_view["last_message"]["text"] == "carol after"
    bobs_view = await thread_of(client, bob, gid)
    assert bobs_view["unread_count"] == 0 and bobs_view["last_message"]["text"] == "bob after"
    assert (await thread_of(client, alice, gid))["unread_count"] == 3
    await mark_read(client, alice, gid, from_bob["id"])
    assert (await thread_of(client, alice, gid))["unread_count"] == 1
