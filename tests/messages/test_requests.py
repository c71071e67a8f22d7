"""The requests folder: threads from people you do not follow wait there until you answer."""

from __future__ import annotations

from tests.messages.helpers import THREADS, listed, send, start, thread_of


async def folders(client, user) -> dict[str, list[str]]:
    return {folder: [t["id"] for t in await listed(client, user, folder)] for folder in ("inbox", "requests")}


async def test_a_stranger_lands_in_requests_until_the_reply(client, alice, bob):
    thread = await start(client, alice, bob)
    await send(client, alice, thread["id"], "hello stranger")
    assert await folders(client, alice) == {"inbox": [thread["id"]], "requests": []}
    assert await folders(client, bob) == {"inbox": [], "requests": [thread["id"]]}
    assert (await thread_of(client, bob, thread["id"]))["folder"] == "requests"
    assert (await listed(client, bob, "requests"))[0]["unread_count"] == 1

    await send(client, alice, thread["id"], "still there?")  # more from the sender: still a request
    assert await folders(client, bob) == {"inbox": [], "requests": [thread["id"]]}

    await send(client, bob, thread["id"], "hi")
    assert await folders(client, bob) == {"inbox": [thread["id"]], "requests": []}
    assert (await thread_of(client, bob, thread["id"]))["folder"] == "inbox"
    assert await folders(client, alice) == {"inbox": [thread["id"]], "requests": []}


async def test_someone_you_follow_goes_straight_to_the_inbox(client, alice, bob):
    await client.post(f"/api/v1/users/{alice.username}/follow", headers=bob.headers)
    thread = await start(client, alice, bob)
    assert await folders(client, bob) == {"inbox": [thread["id"]], "requests": []}
    # The other way round, bob is a stranger to alice: starting it again changes nothing.
    assert (await start(client, bob, alice, status=200))["folder"] == "inbox"
    assert await folders(client, alice) == {"inbox": [thread["id"]], "requests": []}


async def test_in_a_group_each_member_is_judged_on_the_creator(client, alice, bob, carol):
    await client.post(f"/api/v1/users/{alice.username}/follow", headers=carol.headers)
    group = await start(client, alice, bob, carol)
    assert await folders(client, bob) == {"inbox": [], "requests": [group["id"]]}
    assert await folders(client, carol) == {"inbox": [group["id"]], "requests": []}


async def test_accept_moves_a_request_to_the_inbox(client, alice, bob):
    thread = await start(client, alice, bob)
    await send(client, alice, thread["id"])
    response = await client.post(f"{THREADS}/{thread['id']}/accept", headers=bob.headers)
    assert response.status_code == 200, response.text
    assert response.json()["folder"] == "inbox" and response.json()["unread_count"] == 1
    assert await folders(client, bob) == {"inbox": [thread["id"]], "requests": []}
    # Accepting again, or in your own inbox, changes nothing.
    assert (await client.post(f"{THREADS}/{thread['id']}/accept", headers=bob.headers)).json()["folder"] == "inbox"
    assert (await client.post(f"{THREADS}/{thread['id']}/accept", headers=alice.headers)).json()["folder"] == "inbox"
    assert await folders(client, alice) == {"inbox": [thread["id"]], "requests": []}
