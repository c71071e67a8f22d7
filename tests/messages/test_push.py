"""What the hub is given to push (messages, read receipts, typing) and the events fired."""

from __future__ import annotations

import pytest

from instamini.errors import Forbidden, InvalidInput, NotFound
from tests.conftest import register
from tests.messages.helpers import EventLog, connect, mark_read, send, service_call, start


async def test_a_message_is_pushed_to_every_device_of_every_participant(client, alice, bob, carol):
    group = await start(client, alice, bob, carol)
    phone, laptop, bobs, carols = connect(client, alice), connect(client, alice), connect(client, bob), connect(client, carol)
    outsider = connect(client, await register(client, "dave"))
    message = await send(client, alice, group["id"], "hello all")
    expected = {"type": "message", "thread_id": group["id"], "message": message}
    for socket in (phone, laptop, bobs, carols):
        assert socket.frames() == [expected]
    assert outsider.frames() == []

    # A message that came in on a socket is not echoed to that socket (its ack says it all).
    view = service_call(client, "send", int(bob.id), int(group["id"]), "from my phone", skip_socket=bobs)
    assert bobs.frames() == []
    assert [f["message"]["id"] for f in phone.frames()] == [str(view.record.id)]
    assert [f["message"]["text"] for f in carols.frames()] == ["from my phone"]


async def test_read_receipts_and_typing_are_pushed(client, alice, bob, carol):
    group = await start(client, alice, bob, carol)
    gid = group["id"]
    message = await send(client, alice, gid)
    sockets = {user.username: connect(client, user) for user in (alice, bob, carol)}
    await mark_read(client, bob, gid, message["id"])
    read = {"type": "read", "thread_id": gid, "user_id": bob.id, "message_id": message["id"]}
    assert {name: s.frames() for name, s in sockets.items()} == {"alice": [read], "bob": [read], "carol": [read]}
    await mark_read(client, bob, gid, message["id"])  # nothing moved: nothing pushed
    assert all(s.frames() == [] for s in sockets.values())

    service_call(client, "typing", int(carol.id), int(gid))
    typing = {"type": "typing", "thread_id": gid, "user_id": carol.id}
    assert {name: s.frames() for name, s in sockets.items()} == {"alice": [typing], "bob": [typing], "carol": []}
    second = connect(client, bob)
    service_call(client, "typing", int(carol.id), int(gid), skip_socket=sockets["bob"])
    assert sockets["bob"].frames() == [] and second.frames() == [typing]


async def test_the_service_refuses_what_http_refuses(client, alice, bob, carol):
    thread = await start(client, alice, bob)
    tid = int(thread["id"])
    with pytest.raises(NotFound):
        service_call(client, "typing", int(carol.id), tid)
    with pytest.raises(NotFound):
        service_call(client, "send", int(carol.id), tid, "hi")
    with pytest.raises(NotFound):
        service_call(client, "send", int(alice.id), 1 << 70, "hi")
    with pytest.raises(NotFound):
        service_call(client, "mark_read", int(alice.id), tid, 0)
    with pytest.raises(InvalidInput):
        service_call(client, "send", int(alice.id), tid, "")
    with pytest.raises(InvalidInput):
        service_call(client, "send", int(alice.id), tid, "", media_id=1 << 70)
    with pytest.raises(NotFound):
        service_call(client, "send", int(alice.id), tid, "", post_id=1 << 70)
    await client.post(f"/api/v1/users/{bob.username}/block", headers=alice.headers)
    with pytest.raises(Forbidden):
        service_call(client, "send", int(bob.id), tid, "hi")


async def test_events_follow_the_commit_with_the_documented_payloads(client, alice, bob, carol):
    events = EventLog(client)
    group = await start(client, alice, bob, carol)
    message = await send(client, bob, group["id"], "hey")
    sent = events.named("message.sent")
    sent[0]["recipient_ids"].sort()
    assert sent == [
        {
            "message_id": int(message["id"]),
            "thread_id": int(group["id"]),
            "sender_id": int(bob.id),
            "recipient_ids": sorted([int(alice.id), int(carol.id)]),
        }
    ]
    await mark_read(client, carol, group["id"], message["id"])
    await mark_read(client, carol, group["id"], message["id"])  # no move, no event
    assert events.named("message.read") == [
        {"thread_id": int(group["id"]), "user_id": int(carol.id), "message_id": int(message["id"])}
    ]
