"""Comments: one level of replies, who may delete, exact counts, pages."""

from __future__ import annotations

from tests.accounts.helpers import assert_error, concurrently
from tests.conftest import register
from tests.posts.helpers import POSTS, EventLog, get_post, make_post, stored


async def comment(client, user, post_id: str, text: str, reply_to: str | None = None) -> dict:
    body = {"text": text} if reply_to is None else {"text": text, "reply_to": reply_to}
    response = await client.post(f"{POSTS}/{post_id}/comments", headers=user.headers, json=body)
    assert response.status_code == 201, response.text
    return response.json()


async def comment_count(client, post_id: str) -> int:
    return (await get_post(client, post_id))["comment_count"]


async def test_replies_are_one_level_deep(client, alice, bob, carol):
    events = EventLog(client)
    post = await make_post(client, alice)
    pid = post["id"]
    top = await comment(client, bob, pid, "first! @carol")
    assert (top["post_id"], top["parent_id"], top["reply_to"], top["text"]) == (pid, None, None, "first! @carol")
    assert top["author"]["username"] == "bob" and top["reply_count"] == 0 and top["replies"] == []
    reply = await comment(client, carol, pid, "thanks", reply_to=top["id"])
    assert (reply["parent_id"], reply["reply_to"]) == (top["id"], top["id"])
    # Replying to a reply joins the top-level comment's thread, remembering what it answered.
    deeper = await comment(client, alice, pid, "@carol welcome", reply_to=reply["id"])
    assert (deeper["parent_id"], deeper["reply_to"]) == (top["id"], reply["id"])
    assert await comment_count(client, pid) == 3

    listed = (await client.get(f"{POSTS}/{pid}/comments")).json()
    assert listed["next_cursor"] is None
    [thread] = listed["items"]
    assert thread["id"] == top["id"] and thread["reply_count"] == 2
    assert [r["id"] for r in thread["replies"]] == [reply["id"], deeper["id"]]
    assert thread["replies"][1]["reply_to"] == reply["id"]

    created = events.named("comment.created")
    assert created[0] == {
        "comment_id": int(top["id"]), "post_id": int(pid), "post_author_id": int(alice.id),
        "author_id": int(bob.id), "reply_to": None, "mentioned_ids": [int(carol.id)],
    }
    assert (created[2]["reply_to"], created[2]["author_id"]) == (int(reply["id"]), int(alice.id))


async def test_bad_comments_are_refused_and_write_nothing(client, alice, bob):
    post = await make_post(client, alice)
    other = await make_post(client, alice)
    theirs = await comment(client, bob, other["id"], "on the other post")
    before = await stored(client)
    url = f"{POSTS}/{post['id']}/comments"
    for body, fragments in [
        ({"text": ""}, ["text", "length >= 1"]),
        ({"text": "   "}, ["text", "cannot be empty"]),
        ({"text": "t" * 2201}, ["text", "length <= 2200"]),
        ({"text": "hi", "reply_to": theirs["id"]}, ["reply_to", theirs["id"], "not a comment on this post"]),
        ({"text": "hi", "reply_to": "77"}, ["reply_to", "not a comment on this post"]),
        ({"text": "hi", "reply_to": "x"}, ["reply_to", "matching regex"]),
        ({"text": "hi", "reply_to": 5}, ["reply_to", "expected `str | null`"]),
        ({"text": 5}, ["text", "expected `str`"]),
        ({"words": "hi"}, ["unknown field", "words"]),
    ]:
        assert_error(await client.post(url, headers=bob.headers, json=body), 400, *fragments)
    assert_error(await client.post(url, json={"text": "anon"}), 401, "log in")
    assert_error(await client.post(f"{POSTS}/5/comments", headers=bob.headers, json={"text": "x"}), 404, "no post")
    assert await stored(client) == before


async def test_who_may_delete_and_counts_stay_exact(client, alice, bob, carol):
    events = EventLog(client)
    post = await make_post(client, alice)
    pid = post["id"]
    top = await comment(client, bob, pid, "bob's")
    replies = [await comment(client, carol, pid, f"reply {i}", reply_to=top["id"]) for i in range(2)]
    lone = await comment(client, carol, pid, "carol's")
    assert await comment_count(client, pid) == 4

    # Someone else: 403 (they can see it); the commenter on a reply: fine.
    assert_error(await client.delete(f"/api/v1/comments/{top['id']}", headers=carol.headers), 403, "only its author")
    assert (await client.delete(f"/api/v1/comments/{replies[0]['id']}", headers=carol.headers)).status_code == 204
    assert await comment_count(client, pid) == 3
    # The post's author deletes a top-level comment: its thread goes with it.
    assert (await client.delete(f"/api/v1/comments/{top['id']}", headers=alice.headers)).status_code == 204
    assert await comment_count(client, pid) == 1
    assert [c["id"] for c in (await client.get(f"{POSTS}/{pid}/comments")).json()["items"]] == [lone["id"]]
    assert [row[0] for row in (await stored(client))["comments"]] == [int(lone["id"])]
    assert events.named("comment.deleted") == [
        {"comment_id": int(replies[0]["id"]), "post_id": int(pid), "post_author_id": int(alice.id), "author_id": int(carol.id), "removed": 1},
        {"comment_id": int(top["id"]), "post_id": int(pid), "post_author_id": int(alice.id), "author_id": int(bob.id), "removed": 2},
    ]
    for comment_id in (top["id"], replies[1]["id"], "123", "nope"):
        assert_error(await client.delete(f"/api/v1/comments/{comment_id}", headers=alice.headers), 404, "no comment")
    # A comment on a post hidden from you is missing, not forbidden.
    await client.post("/api/v1/users/carol/block", headers=alice.headers)
    assert_error(await client.delete(f"/api/v1/comments/{lone['id']}", headers=carol.headers), 404, "no comment")
    assert_error(await client.get(f"/api/v1/comments/{lone['id']}/replies", headers=carol.headers), 404, "no comment")
    assert_error(await client.delete(f"/api/v1/comments/{lone['id']}"), 401, "log in")


async def test_comment_pages_and_reply_threads(client, alice, bob):
    post = await make_post(client, alice)
    pid = post["id"]
    tops = [await comment(client, bob, pid, f"top {i}") for i in range(5)]
    thread = [await comment(client, alice, pid, f"reply {i}", reply_to=tops[1]["id"]) for i in range(5)]

    first = (await client.get(f"{POSTS}/{pid}/comments", params={"limit": 2})).json()
    assert [c["text"] for c in first["items"]] == ["top 0", "top 1"]  # oldest first
    assert first["items"][1]["reply_count"] == 5
    preview = first["items"][1]["replies"]
    assert [r["text"] for r in preview] == ["reply 0", "reply 1", "reply 2"]
    rest = (await client.get(f"{POSTS}/{pid}/comments", params={"limit": 10, "cursor": first["next_cursor"]})).json()
    assert [c["text"] for c in rest["items"]] == ["top 2", "top 3", "top 4"] and rest["next_cursor"] is None

    # The rest of the thread continues from the last reply shown.
    url = f"/api/v1/comments/{tops[1]['id']}/replies"
    more = (await client.get(url, params={"cursor": preview[-1]["id"], "limit": 1})).json()
    assert [r["id"] for r in more["items"]] == [thread[3]["id"]] and more["next_cursor"] == thread[3]["id"]
    whole = (await client.get(url)).json()
    assert [r["id"] for r in whole["items"]] == [r["id"] for r in thread] and whole["next_cursor"] is None
    assert_error(await client.get(f"{POSTS}/{pid}/comments", params={"cursor": "-1"}), 400, "cursor")


async def test_concurrent_comments_and_deletes_keep_the_count_exact(client, alice, bob):
    post = await make_post(client, alice)
    pid = post["id"]
    top = await comment(client, bob, pid, "thread")
    fans = [await register(client, f"fan{i}") for i in range(4)]

    def chatter(fan):
        async def run(http):
            for i in range(3):
                body = {"text": f"{fan.username} {i}", "reply_to": top["id"]} if i % 2 else {"text": f"{fan.username} {i}"}
                assert (await http.post(f"{POSTS}/{pid}/comments", headers=fan.headers, json=body)).status_code in (201, 400)
        return run

    async def delete_thread(http):
        assert (await http.delete(f"/api/v1/comments/{top['id']}", headers=alice.headers)).status_code == 204

    concurrently(client, *(chatter(fan) for fan in fans), delete_thread)
    rows = (await stored(client))["comments"]
    assert await comment_count(client, pid) == len(rows) >= 8
    assert all(row[3] is None for row in rows)  # no reply outlived its thread
