"""No one hears of their own actions or across a block; what was deleted is not talked about."""

from __future__ import annotations

from tests.notifications.helpers import act_on, comment, items, like, listing, summaries
from tests.posts.helpers import POSTS, make_post


async def test_nobody_is_told_of_their_own_actions(client, alice):
    post = await make_post(client, alice, "me, @alice")
    await like(client, alice, post)
    top = await comment(client, alice, post, "hi @alice")
    await comment(client, alice, post, "me again", reply_to=top["id"])
    body = await listing(client, alice)
    assert body == {"items": [], "next_cursor": None, "unread": 0}


async def test_nothing_crosses_a_block(client, alice, bob, carol):
    await act_on(client, alice, bob, "block")
    post = await make_post(client, carol)
    await make_post(client, bob, "hey @alice")  # a mention of someone who blocked you
    await comment(client, bob, post, "look @alice")
    await act_on(client, bob, carol, "follow")
    assert await items(client, alice) == []
    assert await summaries(client, carol) == ["bob started following you", "bob commented: look @alice"]


async def test_a_block_removes_what_each_said_to_the_other(client, alice, bob, carol):
    post, bobs = await make_post(client, alice), await make_post(client, bob)
    await like(client, bob, post)
    await like(client, carol, post)
    await comment(client, bob, post, "nice")
    await act_on(client, bob, alice, "follow")
    await like(client, alice, bobs)
    assert len(await items(client, alice)) == 3 and len(await items(client, bob)) == 1

    await act_on(client, alice, bob, "block")
    body = await listing(client, alice)
    assert [i["summary"] for i in body["items"]] == ["carol liked your post"] and body["unread"] == 1
    assert body["items"][0]["actor_count"] == 1
    assert await listing(client, bob) == {"items": [], "next_cursor": None, "unread": 0}


async def test_deleting_a_post_removes_what_was_said_about_it(client, alice, bob, carol):
    post, kept = await make_post(client, alice, "with @carol"), await make_post(client, alice)
    await like(client, bob, post)
    await comment(client, bob, post, "and @carol again")
    await like(client, bob, kept)
    assert len(await items(client, carol)) == 2

    response = await client.delete(f"{POSTS}/{post['id']}", headers=alice.headers)
    assert response.status_code == 204, response.text
    body = await listing(client, alice)
    assert [i["post_id"] for i in body["items"]] == [kept["id"]] and body["unread"] == 1
    assert await listing(client, carol) == {"items": [], "next_cursor": None, "unread": 0}


async def test_deleting_a_comment_removes_its_notifications_and_its_replies(client, alice, bob, carol, dave):
    post = await make_post(client, alice)
    top = await comment(client, bob, post, "first")
    await comment(client, carol, post, "@dave look", reply_to=top["id"])
    other = await comment(client, carol, post, "second")
    assert len(await items(client, alice)) == 3  # bob's, carol's reply, carol's comment
    assert await summaries(client, bob) == ["carol replied to your comment"]
    assert await summaries(client, dave) == ["carol mentioned you in a comment"]

    response = await client.delete(f"/api/v1/comments/{top['id']}", headers=bob.headers)
    assert response.status_code == 204, response.text
    body = await listing(client, alice)
    assert [i["comment_id"] for i in body["items"]] == [other["id"]] and body["unread"] == 1
    assert await items(client, bob) == [] and await items(client, dave) == []
