"""Each kind of notification reaches the right person with the right sentence."""

from __future__ import annotations

from tests.accounts.helpers import state_of
from tests.conftest import register
from tests.notifications.helpers import (
    NOTIFICATIONS,
    act_on,
    actor_names,
    comment,
    emit,
    items,
    like,
    listing,
    make_private,
    ok,
    summaries,
)
from tests.posts.helpers import POSTS, make_post


async def test_a_like_tells_the_author_and_nobody_else(client, alice, bob):
    post = await make_post(client, alice, "sunset")
    await like(client, bob, post)

    body = await listing(client, alice)
    [item] = body["items"]
    assert item["kind"] == "like" and item["summary"] == "bob liked your post"
    assert actor_names(item) == ["bob"] and item["actor_count"] == 1 and item["count"] == 1
    assert item["post_id"] == post["id"] and item["comment_id"] is None and item["read"] is False
    assert item["actors"][0]["id"] == bob.id
    assert body["unread"] == 1 and body["next_cursor"] is None
    assert await items(client, bob) == []


async def test_comments_replies_and_mentions_each_reach_their_person_once(client, alice, bob, carol, dave):
    post = await make_post(client, alice, "my cat")
    top = await comment(client, bob, post, "lovely cat @carol")
    assert await summaries(client, alice) == ["bob commented: lovely cat @carol"]
    assert await summaries(client, carol) == ["bob mentioned you in a comment"]
    [mention] = await items(client, carol)
    assert mention["kind"] == "mention" and mention["comment_id"] == top["id"] and mention["post_id"] == post["id"]
    assert mention["text_preview"] == "lovely cat @carol"

    # A reply tells the author of the comment answered; mentioning the post's author in
    # it tells her once, as a mention, not also as a comment on her post.
    await comment(client, dave, post, "agreed @alice", reply_to=top["id"])
    assert await summaries(client, bob) == ["dave replied to your comment"]
    assert await summaries(client, alice) == ["dave mentioned you in a comment", "bob commented: lovely cat @carol"]
    # Her own reply tells bob, and not herself.
    await comment(client, alice, post, "thanks!", reply_to=top["id"])
    assert await summaries(client, bob) == ["alice replied to your comment", "dave replied to your comment"]
    assert len(await items(client, alice)) == 2


async def test_a_mention_in_a_post_and_in_its_edited_caption(client, alice, bob, carol):
    post = await make_post(client, alice, "beach day with @bob")
    [item] = await items(client, bob)
    assert item["summary"] == "alice mentioned you in a post" and item["text_preview"] == "beach day with @bob"
    # An edit that adds carol tells carol; bob, still mentioned, is not told twice.
    await ok(await client.patch(f"{POSTS}/{post['id']}", headers=alice.headers, json={"caption": "@bob and @carol"}))
    assert await summaries(client, carol) == ["alice mentioned you in a post"]
    assert len(await items(client, bob)) == 1


async def test_a_long_caption_is_previewed_on_one_line(client, alice, bob):
    await make_post(client, alice, "@bob " + "word\n" * 60)
    [item] = await items(client, bob)
    assert len(item["text_preview"]) == 100 and item["text_preview"].endswith("…") and "\n" not in item["text_preview"]


async def test_follows_are_grouped_and_requests_answered(client, alice, bob, carol, dave):
    await act_on(client, bob, alice, "follow")
    await act_on(client, carol, alice, "follow")
    [item] = await items(client, alice)
    assert item["kind"] == "follow" and item["summary"] == "carol and bob started following you"
    assert actor_names(item) == ["carol", "bob"]

    await make_private(client, dave)
    await act_on(client, alice, dave, "follow")
    assert await summaries(client, dave) == ["alice asked to follow you"]
    await ok(await client.post("/api/v1/follow-requests/alice/approve", headers=dave.headers))
    # The request is answered: it leaves dave's list; alice hears of it.
    assert await items(client, dave) == []
    assert (await summaries(client, alice))[0] == "dave accepted your follow request"
    assert (await listing(client, dave))["unread"] == 0


async def test_a_withdrawn_or_rejected_request_disappears(client, alice, bob):
    await make_private(client, alice)
    await act_on(client, bob, alice, "follow")
    assert await summaries(client, alice) == ["bob asked to follow you"]
    await act_on(client, bob, alice, "follow", on=False)  # withdrawn
    assert await items(client, alice) == [] and (await listing(client, alice))["unread"] == 0
    await act_on(client, bob, alice, "follow")
    assert await summaries(client, alice) == ["bob asked to follow you"]
    await ok(await client.post("/api/v1/follow-requests/bob/reject", headers=alice.headers))
    assert await items(client, alice) == []


async def test_messages_are_grouped_per_thread_while_unread(client, alice, bob, carol):
    a, b, c = int(alice.id), int(bob.id), int(carol.id)
    ids = state_of(client).ids
    thread, other = ids.next_id(0), ids.next_id(0)
    first, second, third = (ids.next_id(0) for _ in range(3))
    for message_id in (first, second):
        emit(client, "message.sent", message_id=message_id, thread_id=thread, sender_id=a, recipient_ids=[b, c])
    emit(client, "message.sent", message_id=second, thread_id=thread, sender_id=a, recipient_ids=[b, c])  # again
    [item] = await items(client, bob)
    assert item["kind"] == "message" and item["summary"] == "alice sent you 2 messages"
    assert item["thread_id"] == str(thread) and item["count"] == 2 and item["actor_count"] == 1
    emit(client, "message.sent", message_id=third, thread_id=thread, sender_id=c, recipient_ids=[a, b])
    assert await summaries(client, bob) == ["carol and alice sent you 3 messages"]
    assert await summaries(client, carol) == ["alice sent you 2 messages"]

    # Reading the thread reads its notification; the next message starts a new one.
    emit(client, "message.read", thread_id=thread, user_id=b, message_id=third)
    assert (await listing(client, bob))["unread"] == 0
    emit(client, "message.sent", message_id=ids.next_id(0), thread_id=thread, sender_id=a, recipient_ids=[b])
    emit(client, "message.sent", message_id=ids.next_id(0), thread_id=other, sender_id=a, recipient_ids=[b])
    body = await listing(client, bob)
    assert [i["summary"] for i in body["items"]] == [
        "alice sent you a message",
        "alice sent you a message",
        "carol and alice sent you 3 messages",
    ]
    assert [i["thread_id"] for i in body["items"]] == [str(other), str(thread), str(thread)] and body["unread"] == 2


async def test_a_message_sent_through_the_api_notifies_the_recipient(client, alice, bob):
    thread = await ok(await client.post("/api/v1/threads", headers=alice.headers, json={"usernames": ["bob"]}))
    for text in ("hi", "there"):
        await ok(await client.post(f"/api/v1/threads/{thread['id']}/messages", headers=alice.headers, json={"text": text}))
    assert await summaries(client, bob) == ["alice sent you 2 messages"]
    assert await items(client, alice) == []


async def test_a_failing_event_does_not_stop_the_others(client, alice, bob):
    post = await make_post(client, alice)
    emit(client, "message.sent", message_id=1, thread_id=2)  # missing keys: its handler raises
    await like(client, bob, post)
    assert await summaries(client, alice) == ["bob liked your post"]
    assert state_of(client).notifications.failed == 1


async def test_someone_new_sees_an_empty_list(client):
    eve = await register(client, "eve")
    response = await client.get(NOTIFICATIONS, headers=eve.headers)
    assert response.json() == {"items": [], "next_cursor": None, "unread": 0}
