"""Likes of a post and follows group into one notification, within the window; unliking takes an actor out."""

from __future__ import annotations

from tests.notifications.helpers import NOTIFICATIONS, act_on, actor_names, items, like, listing, move_clock, summaries
from tests.posts.helpers import make_post


async def test_likes_of_a_post_group_newest_actor_first(client, alice, bob, carol, dave):
    post = await make_post(client, alice)
    for user in (bob, carol, dave):
        await like(client, user, post)
    body = await listing(client, alice)
    [item] = body["items"]
    assert item["summary"] == "dave and 2 others liked your post"
    assert actor_names(item) == ["dave", "carol", "bob"] and item["actor_count"] == 3 and item["count"] == 3
    assert body["unread"] == 1
    # Another post's likes are another notification.
    other = await make_post(client, alice)
    await like(client, bob, other)
    assert await summaries(client, alice) == ["bob liked your post", "dave and 2 others liked your post"]


async def test_two_likers_are_both_named(client, alice, bob, carol):
    post = await make_post(client, alice)
    await like(client, bob, post)
    await like(client, carol, post)
    assert await summaries(client, alice) == ["carol and bob liked your post"]


async def test_a_like_after_the_window_starts_a_new_notification(client, alice, bob, carol, dave):
    post = await make_post(client, alice)
    await like(client, bob, post)
    move_clock(client, hours=23)
    await like(client, carol, post)  # still inside the 24 hours since the group began
    move_clock(client, hours=2)
    await like(client, dave, post)
    body = await listing(client, alice)
    assert [i["summary"] for i in body["items"]] == ["dave liked your post", "carol and bob liked your post"]
    assert body["unread"] == 2
    # Unliking finds the actor in whichever group holds them.
    await like(client, bob, post, on=False)
    await like(client, carol, post, on=False)
    body = await listing(client, alice)
    assert [i["summary"] for i in body["items"]] == ["dave liked your post"] and body["unread"] == 1


async def test_an_unlike_takes_the_actor_out_and_the_last_one_the_notification(client, alice, bob, carol):
    post = await make_post(client, alice)
    await like(client, bob, post)
    await like(client, carol, post)
    await like(client, carol, post, on=False)
    [item] = await items(client, alice)
    assert item["summary"] == "bob liked your post" and item["actor_count"] == 1 and actor_names(item) == ["bob"]
    await like(client, bob, post, on=False)
    body = await listing(client, alice)
    assert body["items"] == [] and body["unread"] == 0
    await like(client, carol, post)  # liking again is news again
    assert await summaries(client, alice) == ["carol liked your post"]


async def test_an_unfollow_takes_the_follower_out(client, alice, bob, carol):
    await act_on(client, bob, alice, "follow")
    await act_on(client, carol, alice, "follow")
    await act_on(client, bob, alice, "follow", on=False)
    [item] = await items(client, alice)
    assert item["summary"] == "carol started following you" and item["actor_count"] == 1


async def test_a_regrouped_notification_moves_to_the_top_of_every_page(client, alice, bob, carol):
    first, second = await make_post(client, alice), await make_post(client, alice)
    await like(client, bob, first)
    await act_on(client, carol, alice, "follow")
    await like(client, bob, second)
    assert await summaries(client, alice) == ["bob liked your post", "carol started following you", "bob liked your post"]
    await like(client, carol, first)
    listed = await items(client, alice)
    assert [(i["summary"], i["post_id"]) for i in listed] == [
        ("carol and bob liked your post", first["id"]),
        ("bob liked your post", second["id"]),
        ("carol started following you", None),
    ]
    assert listed[0]["updated_at"] >= listed[0]["created_at"]

    # One by one through the cursors: the same order, nothing twice.
    paged, cursor = [], None
    while True:
        params = {"limit": 1} | ({"cursor": cursor} if cursor else {})
        body = (await client.get(NOTIFICATIONS, headers=alice.headers, params=params)).json()
        paged += [i["id"] for i in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert paged == [i["id"] for i in listed]
