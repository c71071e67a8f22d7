"""Starting threads, listing them, and what is refused (nothing is written then)."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from tests.accounts.helpers import assert_error, concurrently
from tests.conftest import make_config, register
from tests.messages.helpers import THREADS, listed, send, start, stored, thread_of


async def test_a_direct_thread_is_made_once_whoever_starts_it_again(client, alice, bob):
    first = await start(client, alice, bob)
    assert first["kind"] == "direct"
    assert [p["username"] for p in first["participants"]] == ["alice", "bob"]
    assert first["unread_count"] == 0 and first["last_message"] is None
    assert {r["user_id"]: r["message_id"] for r in first["reads"]} == {alice.id: None, bob.id: None}

    again = await start(client, alice, "BOB", status=200)  # names are case-insensitive
    assert again["id"] == first["id"]
    from_bob = await start(client, bob, alice, status=200)
    assert from_bob["id"] == first["id"]
    assert [t["id"] for t in await listed(client, alice)] == [first["id"]]
    assert len((await stored(client))["threads"]) == 1


async def test_both_answers_of_starting_a_thread_are_documented(client):
    """Found by tests/reliability/test_schemathesis.py: the 200 for an existing direct thread was not."""
    responses = (await client.get("/schema/openapi.json")).json()["paths"][THREADS]["post"]["responses"]
    for status in ("200", "201"):
        assert responses[status]["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/ThreadOut"}


async def test_a_group_is_new_every_time(client, alice, bob, carol):
    group = await start(client, alice, carol, bob)
    assert group["kind"] == "group"
    assert [p["username"] for p in group["participants"]][0] == "alice"  # the creator first
    assert {p["username"] for p in group["participants"]} == {"alice", "bob", "carol"}
    second = await start(client, alice, bob, carol)
    assert second["id"] != group["id"]
    for user in (alice, bob, carol):
        assert (await thread_of(client, user, group["id"]))["participants"] == group["participants"]


async def test_the_list_is_most_recent_activity_first_and_pages(client, alice, bob, carol):
    dave = await register(client, "dave")
    one = await start(client, alice, bob)
    two = await start(client, alice, carol)
    three = await start(client, alice, dave)
    assert [t["id"] for t in await listed(client, alice)] == [three["id"], two["id"], one["id"]]
    await send(client, alice, one["id"], "bump")
    assert [t["id"] for t in await listed(client, alice)] == [one["id"], three["id"], two["id"]]

    seen, cursor = [], None
    while True:
        params = {"limit": 2, **({"cursor": cursor} if cursor else {})}
        body = (await client.get(THREADS, headers=alice.headers, params=params)).json()
        seen += [t["id"] for t in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [one["id"], three["id"], two["id"]]
    assert (await listed(client, alice))[0]["last_message"]["text"] == "bump"


async def test_refused_starts_write_nothing(client, alice, bob):
    before = await stored(client)
    post = lambda names: client.post(THREADS, headers=alice.headers, json={"usernames": names})  # noqa: E731
    assert_error(await post(["bob", "Bob"]), 400, "twice")
    assert_error(await post(["alice"]), 400, "you are in the thread")
    assert_error(await post([]), 400, "usernames")
    assert_error(await post(["bob", "nobody"]), 404, "nobody")
    assert_error(await client.post(THREADS, headers=alice.headers, json={"usernames": ["bob"], "x": 1}), 400, "x")
    assert_error(await client.post(THREADS, json={"usernames": ["bob"]}), 401)
    assert_error(await post(["u"] * 32), 400, "usernames")  # 31 others at most on the wire
    assert await stored(client) == before


async def test_a_group_holds_at_most_max_participants(tmp_path):
    config = make_config(tmp_path / "data", "[messages]\nmax_participants = 3\n")
    async with AsyncTestClient(create_app(config)) as client:
        alice, bob, carol, dave = [await register(client, name) for name in ("alice", "bob", "carol", "dave")]
        assert (await start(client, alice, bob, carol))["kind"] == "group"
        response = await client.post(THREADS, headers=alice.headers, json={"usernames": ["bob", "carol", "dave"]})
        assert_error(response, 400, "at most 3")


async def test_nobody_else_sees_a_thread(client, alice, bob, carol):
    thread = await start(client, alice, bob)
    message = await send(client, alice, thread["id"])
    tid = thread["id"]
    before = await stored(client)
    for method, path, body in [
        ("get", f"{THREADS}/{tid}", None),
        ("get", f"{THREADS}/{tid}/messages", None),
        ("post", f"{THREADS}/{tid}/messages", {"text": "let me in"}),
        ("post", f"{THREADS}/{tid}/read", {"message_id": message["id"]}),
        ("post", f"{THREADS}/{tid}/accept", None),
    ]:
        response = await getattr(client, method)(path, headers=carol.headers, **({"json": body} if body else {}))
        assert_error(response, 404, "no thread")
    for bad in ("abc", "0", "99999999999999999999", str(int(tid) + 1)):
        assert_error(await client.get(f"{THREADS}/{bad}", headers=alice.headers), 404)
        assert_error(await client.get(f"{THREADS}/{bad}/messages", headers=alice.headers), 404)
    assert await listed(client, carol) == [] and await listed(client, carol, "requests") == []
    assert_error(await client.get(THREADS, headers=alice.headers, params={"folder": "spam"}), 400, "folder")
    assert_error(await client.get(THREADS), 401)
    assert await stored(client) == before


async def test_two_people_starting_at_once_get_one_thread(client, alice, bob):
    async def starts(http, user, other):
        return await http.post(THREADS, headers=user.headers, json={"usernames": [other.username]})

    responses = concurrently(client, *[lambda http, u=u, o=o: starts(http, u, o) for u, o in [(alice, bob), (bob, alice)] * 3])
    assert sorted(r.status_code for r in responses) == [200] * 5 + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert len((await stored(client))["threads"]) == 1
