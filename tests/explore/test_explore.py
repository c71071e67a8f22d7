"""Explore: what it leaves out, where each candidate comes from, paging; and the feed's explain.

Each test builds a small world in which a post can be found one way only, and asks
the service which source found it (`state.explore.ranked`) as well as the API.
"""

from __future__ import annotations

from tests.accounts.helpers import in_app, state_of
from tests.conftest import register
from tests.feed.helpers import fan_out, follow
from tests.posts.helpers import POSTS, all_ids, make_post

EXPLORE = "/api/v1/explore"


async def like(client, user, post: dict) -> None:
    response = await client.post(f"{POSTS}/{post['id']}/like", headers=user.headers)
    assert response.status_code == 200, response.text


async def block(client, user, other) -> None:
    response = await client.post(f"/api/v1/users/{other.username}/block", headers=user.headers)
    assert response.status_code == 200, response.text


async def make_private(client, user) -> None:
    response = await client.patch("/api/v1/me", headers=user.headers, json={"private": True})
    assert response.status_code == 200, response.text


def sources(client, user) -> dict[str, str]:
    """post id -> the source that found it, in ranked order."""
    ranked = in_app(client, state_of(client).explore.ranked, int(user.id))
    return {str(view.record.id): source for view, source in ranked}


async def test_leaves_out_followed_self_blocked_private_and_liked(client, alice, bob, carol):
    eve, mallory, ned = [await register(client, name) for name in ("eve", "mallory", "ned")]
    await follow(client, alice, bob)
    for other in (carol, eve, mallory, ned, alice):
        await follow(client, bob, other)
    await make_private(client, eve)
    await block(client, alice, mallory)
    await block(client, ned, alice)
    liked, fresh = await make_post(client, carol), await make_post(client, carol)
    await like(client, alice, liked)
    for user in (alice, bob, eve, mallory, ned):
        await make_post(client, user)
    assert sources(client, alice) == {fresh["id"]: "friends_of_friends"}
    assert await all_ids(client, EXPLORE, alice) == [fresh["id"]]


async def test_co_engagement(client, alice, bob, carol):
    dave = await register(client, "dave")
    seed, other = await make_post(client, carol), await make_post(client, dave)
    await like(client, alice, seed)
    await like(client, bob, seed)
    await like(client, bob, other)
    assert sources(client, alice) == {other["id"]: "co_engagement"}


async def test_hashtags_of_liked_and_own_posts(client, alice, bob, carol):
    dave = await register(client, "dave")
    await make_post(client, alice, "my #sunset")
    seed = await make_post(client, bob, "a #harbour")
    await like(client, alice, seed)
    by_own, by_liked = await make_post(client, carol, "#sunset again"), await make_post(client, dave, "#harbour too")
    await make_post(client, dave, "#unrelated")
    assert sources(client, alice) == {by_own["id"]: "hashtags", by_liked["id"]: "hashtags"}


async def test_friends_of_friends(client, alice, bob, carol):
    await follow(client, alice, bob)
    await follow(client, bob, carol)
    await make_post(client, bob)
    found = await make_post(client, carol)
    assert sources(client, alice) == {found["id"]: "friends_of_friends"}


async def test_new_account_gets_trending(client, alice, bob, carol):
    popular, quiet, unliked = await make_post(client, alice), await make_post(client, bob), await make_post(client, bob)
    for user in (bob, carol):
        await like(client, user, popular)
    await like(client, carol, quiet)
    newcomer = await register(client, "newcomer")
    assert sources(client, newcomer) == {popular["id"]: "trending", quiet["id"]: "trending"}
    assert await all_ids(client, EXPLORE, newcomer, limit=1) == [popular["id"], quiet["id"]]
    assert unliked["id"] not in await all_ids(client, EXPLORE, newcomer)


async def test_pages_without_duplicates(client, alice, bob, carol):
    await follow(client, alice, bob)
    await follow(client, bob, carol)
    made = [(await make_post(client, carol))["id"] for _ in range(5)]
    response = await client.get(EXPLORE, headers=alice.headers, params={"limit": 2})
    assert response.json()["next_cursor"] == "r2"
    seen = await all_ids(client, EXPLORE, alice, limit=2)
    assert sorted(seen) == sorted(made) and len(set(seen)) == len(seen)


async def test_login_and_cursor_checked(client, alice):
    assert (await client.get(EXPLORE)).status_code == 401
    assert (await client.get("/api/v1/feed/explain/1")).status_code == 401
    response = await client.get(EXPLORE, headers=alice.headers, params={"cursor": "nope"})
    assert response.status_code == 400


async def test_explain(client, alice, bob, carol):
    eve = await register(client, "eve")
    await follow(client, alice, bob)
    older, post = await make_post(client, bob), await make_post(client, bob)
    await like(client, carol, post)
    outside, hidden = await make_post(client, carol), await make_post(client, eve)
    await make_private(client, eve)
    fan_out(client)
    response = await client.get(f"/api/v1/feed/explain/{post['id']}", headers=alice.headers)
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["post_id"] == post["id"] and body["ranker"] == "learned" and body["position"] == 0
    assert body["features"]["likes"] == 1 and set(body["features"]) >= {"age_log_hours", "affinity", "velocity", "popularity"}
    assert body["features"]["popularity"] > 0 and body["contributions"]["popularity"] > 0
    assert abs(sum(body["contributions"].values()) - body["score"]) < 1e-9
    second = (await client.get(f"/api/v1/feed/explain/{older['id']}", headers=alice.headers)).json()
    assert second["position"] == 1 and second["score"] < body["score"]
    elsewhere = (await client.get(f"/api/v1/feed/explain/{outside['id']}", headers=alice.headers)).json()
    assert elsewhere["position"] is None and elsewhere["features"]["likes"] == 0
    for post_id in (hidden["id"], "123", "not-an-id"):
        assert (await client.get(f"/api/v1/feed/explain/{post_id}", headers=alice.headers)).status_code == 404


async def test_what_was_shown_in_an_earlier_visit_is_not_shown_again(client, alice, bob, carol):
    first, second = await make_post(client, bob), await make_post(client, carol)
    await like(client, carol, first)
    await like(client, bob, second)  # alice is new: Explore shows her what is liked (trending)
    explore = state_of(client).explore
    page = (await client.get(EXPLORE, headers=alice.headers, params={"limit": 1})).json()
    assert [item["id"] for item in page["items"]] == [second["id"]] and page["next_cursor"]
    # The same visit pages on through the same pool: nothing skipped, nothing repeated.
    rest = (await client.get(EXPLORE, headers=alice.headers, params={"limit": 1, "cursor": page["next_cursor"]})).json()
    assert [item["id"] for item in rest["items"]] == [first["id"]]
    start = explore.clock_ms()
    explore.clock_ms = lambda: start + 31 * 60_000  # the next visit
    fresh = await make_post(client, bob)
    await like(client, carol, fresh)
    assert await all_ids(client, EXPLORE, alice) == [fresh["id"]]
