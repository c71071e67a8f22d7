"""The spam filter through the API: spam is shown to its author only, reports train the model."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.moderation.spam import MODEL_SHARD
from instamini.ranker import spam_seed
from tests.accounts.helpers import in_app, state_of
from tests.conftest import User, register
from tests.messages.helpers import connect, listed, send, start, texts
from tests.moderation.test_moderation import ADMIN, REPORTS, admin_client, login
from tests.notifications.helpers import comment, settle, summaries
from tests.posts.helpers import POSTS, make_post

SPAMMY = "FREE followers!!! click http://x.example/win"


async def comment_texts(client, post: dict, viewer: User) -> list[str]:
    response = await client.get(f"{POSTS}/{post['id']}/comments", headers=viewer.headers, params={"limit": 100})
    assert response.status_code == 200, response.text
    return [item["text"] for item in response.json()["items"]]


async def comment_count(client, post: dict, viewer: User) -> int:
    response = await client.get(f"{POSTS}/{post['id']}", headers=viewer.headers)
    assert response.status_code == 200, response.text
    return response.json()["comment_count"]


async def report_and_resolve(client, root: User, reporter: User, kind: str, target_id: str, action: str) -> None:
    report = await client.post(REPORTS, json={"kind": kind, "target_id": target_id}, headers=reporter.headers)
    assert report.status_code == 201, report.text
    resolved = await client.post(f"{ADMIN}/reports/{report.json()['id']}/resolve", json={"action": action}, headers=root.headers)
    assert resolved.status_code == 200, resolved.text


async def test_a_spam_comment_is_seen_by_its_author_only(client, alice, bob, carol):
    post = await make_post(client, bob, caption="sunset")
    spam = await comment(client, alice, post, SPAMMY)  # answered as any comment: 201, same body
    assert spam["text"] == SPAMMY and set(spam) >= {"id", "author", "text"}
    assert await comment_texts(client, post, alice) == [SPAMMY]
    assert await comment_texts(client, post, bob) == []
    assert await comment_texts(client, post, carol) == []
    assert (await client.get(f"{POSTS}/{post['id']}/comments")).json()["items"] == []  # anonymous
    assert await comment_count(client, post, bob) == 0
    assert await summaries(client, bob) == []  # no notification for spam
    # Others cannot reach it by id: its replies, or a reply to it, are a missing comment's.
    assert (await client.get(f"/api/v1/comments/{spam['id']}/replies", headers=bob.headers)).status_code == 404
    reply = await client.post(f"{POSTS}/{post['id']}/comments", headers=carol.headers, json={"text": "hm", "reply_to": spam["id"]})
    assert reply.status_code == 400

    await comment(client, carol, post, "lovely photo!")
    for viewer in (alice, bob, carol):
        assert "lovely photo!" in await comment_texts(client, post, viewer)
    assert await comment_texts(client, post, bob) == ["lovely photo!"]
    assert await comment_count(client, post, bob) == 1
    assert len(await summaries(client, bob)) == 1  # the ordinary comment notifies

    # Deleting the spam does not uncount the comment that was counted.
    assert (await client.delete(f"/api/v1/comments/{spam['id']}", headers=alice.headers)).status_code == 204
    assert await comment_texts(client, post, alice) == ["lovely photo!"]
    assert await comment_count(client, post, alice) == 1


async def test_a_spam_message_reaches_its_sender_only(client, alice, bob):
    assert (await client.post("/api/v1/users/alice/follow", headers=bob.headers)).status_code == 200
    thread = await start(client, alice, bob)
    bob_socket = connect(client, bob)
    sent = await send(client, alice, thread["id"], SPAMMY)
    assert sent["text"] == SPAMMY
    assert await texts(client, alice, thread["id"]) == [SPAMMY]
    assert await texts(client, bob, thread["id"]) == []
    [bobs] = await listed(client, bob)
    assert bobs["unread_count"] == 0 and bobs["last_message"] is None
    [alices] = await listed(client, alice)
    assert alices["last_message"]["text"] == SPAMMY
    assert bob_socket.frames() == []
    assert await summaries(client, bob) == []

    await send(client, alice, thread["id"], "see you tomorrow")
    assert await texts(client, bob, thread["id"]) == ["see you tomorrow"]
    assert await texts(client, alice, thread["id"]) == ["see you tomorrow", SPAMMY]
    [bobs] = await listed(client, bob)
    assert bobs["unread_count"] == 1 and bobs["last_message"]["text"] == "see you tomorrow"
    assert [frame["type"] for frame in bob_socket.frames()] == ["message"]
    assert await summaries(client, bob) == ["alice sent you a message"]


async def test_a_flood_of_ordinary_comments_is_flagged(client, alice, bob):
    post = await make_post(client, bob)
    for _ in range(40):
        await comment(client, alice, post, "nice one")
    limit = state_of(client).config.moderation.spam_rate_per_minute
    seen_by_bob = await comment_texts(client, post, bob)
    assert limit < len(seen_by_bob) < 40  # the first ones pass, the flood past the limit does not
    assert len(await comment_texts(client, post, alice)) == 40
    assert await comment_count(client, post, bob) == len(seen_by_bob)


async def test_a_removed_comment_teaches_spam(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
        post = await make_post(client, bob)
        first = await comment(client, alice, post, "join my telegram channel for signals")
        assert await comment_texts(client, post, bob) == [first["text"]]  # not spam to the seed alone
        await report_and_resolve(client, root, bob, "comment", first["id"], "remove")
        assert await comment_texts(client, post, alice) == []  # removed

        await comment(client, carol, post, "join my telegram channel for signals today")
        assert await comment_texts(client, post, bob) == []  # learned: the similar text is spam now
        assert await comment_texts(client, post, carol) == ["join my telegram channel for signals today"]


async def test_a_dismissed_report_teaches_ordinary_text(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob = await register(client, "alice"), await register(client, "bob")
        post = await make_post(client, bob)
        text = "check out my new page"
        model = state_of(client).spam.model
        before = model.log_odds(text)
        assert before > 0  # leaning spam, though under the threshold: shown
        posted = await comment(client, alice, post, text)
        assert await comment_texts(client, post, bob) == [text]
        await report_and_resolve(client, root, bob, "comment", posted["id"], "dismiss")
        assert model.log_odds(text) < 0 < before  # now it leans ordinary
        assert await comment_texts(client, post, bob) == [text]  # dismissed: it stays


async def test_a_removed_message_is_hidden_and_teaches_spam(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob = await register(client, "alice"), await register(client, "bob")
        thread = await start(client, alice, bob)
        message = await send(client, alice, thread["id"], "join my telegram channel for signals")
        await send(client, alice, thread["id"], "see you tomorrow")
        assert await texts(client, bob, thread["id"]) == ["see you tomorrow", message["text"]]
        await report_and_resolve(client, root, bob, "message", message["id"], "remove")
        assert await texts(client, bob, thread["id"]) == ["see you tomorrow"]
        assert await texts(client, alice, thread["id"]) == ["see you tomorrow", message["text"]]  # the sender's own
        await send(client, alice, thread["id"], "join my telegram channel for signals today")
        assert await texts(client, bob, thread["id"]) == ["see you tomorrow"]


async def test_the_model_survives_a_restart(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice, bob = await register(client, "alice"), await register(client, "bob")
        post = await make_post(client, bob)
        posted = await comment(client, alice, post, "amazing airdrop tokens")
        await report_and_resolve(client, root, bob, "comment", posted["id"], "remove")
        model = state_of(client).spam.model
        counts, documents = dict(model.token_counts), list(model.documents)
        settle(client)
    assert documents == [len(spam_seed.SPAM) + 1, len(spam_seed.HAM)]
    assert counts["airdrop"] == [1, 0]
    async with AsyncTestClient(create_app(config)) as client:
        service = state_of(client).spam
        # Loaded as it was, and not seeded a second time.
        assert service.model.token_counts == counts and service.model.documents == documents
        stored = in_app(client, state_of(client).meta.read, MODEL_SHARD, "SELECT label, documents FROM spam_totals ORDER BY label")
        assert [tuple(row) for row in stored] == [("ham", len(spam_seed.HAM)), ("spam", len(spam_seed.SPAM) + 1)]
