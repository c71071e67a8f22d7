"""Posts across a real two-instance cluster (`LocalCluster`: subprocesses on loopback).

The author lives on instance b and the fan on instance a. Every change to the post
goes through a, which does not own it (the post is on its author's shard, b's), so each
crosses the internal RPC; the fan's save goes through b, which does not own the saver.
Every read is asked of both. Rows are looked for in the shard files and cache entries
in the LMDB files: each is on its one owner, and counts and flags read the same from
either instance.
"""

from __future__ import annotations

import time


from tests.cluster.harness import Person, cached, holders, name_owned_by, two_instances
from tests.media.helpers import jpeg_bytes

cluster = two_instances()
READY_WITHIN_SECONDS = 30


def ready_upload(person: Person, instance: str) -> str:
    """Upload a JPEG through `instance` and wait (bounded) for the background job to finish it."""
    client = person.on(instance)
    answer = client.post("/api/v1/media", files={"file": ("photo.jpg", jpeg_bytes())})
    assert answer.status_code == 202, answer.text
    media_id = answer.json()["id"]
    deadline = time.monotonic() + READY_WITHIN_SECONDS
    while (status := client.get(f"/api/v1/media/{media_id}").json()["status"]) not in ("ready", "failed"):
        assert time.monotonic() < deadline, f"upload {media_id} still {status}"
        time.sleep(0.05)  # a real subprocess does the work: there is no job loop to step
    assert status == "ready"
    return media_id


def seen_by(person: Person, post_id: int) -> list[tuple[int, int, bool, bool]]:
    """(likes, comments, liked, saved) of the post as each instance answers the person."""
    views = [person.on(name).get(f"/api/v1/posts/{post_id}") for name in "ab"]
    assert all(view.status_code == 200 for view in views), [view.text for view in views]
    return [(v["like_count"], v["comment_count"], v["liked"], v["saved"]) for v in (view.json() for view in views)]


def test_a_post_lives_on_its_authors_owner_and_works_from_either_instance(cluster):
    author = Person(cluster, name_owned_by("b", "author"))
    fan = Person(cluster, name_owned_by("a", "fan"))
    media_id = ready_upload(author, "b")  # uploads go to the uploader's owner

    made = author.on("a").post("/api/v1/posts", json={"media_ids": [media_id], "caption": "dawn #sunrise @" + fan.username})
    assert made.status_code == 201, made.text
    post = made.json()
    post_id = int(post["id"])
    assert post["mentions"] == [fan.username] and post["media"][0]["id"] == media_id
    assert holders(cluster, "SELECT id FROM posts", post_id) == ["b"]

    # Likes are on the post's shard, counted there; the fan's "liked" is right on both instances.
    liked = fan.on("a").post(f"/api/v1/posts/{post_id}/like")
    assert liked.json() == {"liked": True, "like_count": 1}, liked.text
    assert fan.on("a").post(f"/api/v1/posts/{post_id}/like").json()["like_count"] == 1  # idempotent
    assert holders(cluster, "SELECT post_id FROM likes", post_id) == ["b"]
    # A save is the saver's (a), whichever instance is asked.
    assert fan.on("b").post(f"/api/v1/posts/{post_id}/save").json() == {"saved": True}
    assert holders(cluster, "SELECT post_id FROM saves", post_id) == ["a"]

    comment = fan.on("a").post(f"/api/v1/posts/{post_id}/comments", json={"text": "lovely"})
    assert comment.status_code == 201, comment.text
    reply = author.on("a").post(f"/api/v1/posts/{post_id}/comments", json={"text": "thanks", "reply_to": comment.json()["id"]})
    assert reply.status_code == 201 and reply.json()["parent_id"] == comment.json()["id"], reply.text
    assert holders(cluster, "SELECT id FROM comments", int(comment.json()["id"])) == ["b"]

    assert seen_by(fan, post_id) == [(1, 2, True, True)] * 2
    assert seen_by(author, post_id) == [(1, 2, False, False)] * 2
    for name in "ab":
        thread = fan.on(name).get(f"/api/v1/posts/{post_id}/comments").json()["items"]
        assert [(c["text"], c["reply_count"], [r["text"] for r in c["replies"]]) for c in thread] == [("lovely", 1, ["thanks"])]
        grid = fan.on(name).get(f"/api/v1/users/{author.username}/posts").json()["items"]
        assert [(p["id"], p["like_count"], p["liked"], p["saved"]) for p in grid] == [(str(post_id), 1, True, True)]
        # These two are hydrated where they are asked: a's cards, counts and likes come from b.
        tagged = fan.on(name).get("/api/v1/tags/sunrise/posts").json()["items"]
        saved = fan.on(name).get("/api/v1/me/saved").json()["items"]
        for page in (tagged, saved):
            assert [(p["id"], p["like_count"], p["comment_count"], p["liked"], p["saved"]) for p in page] == [
                (str(post_id), 1, 2, True, True)
            ]

    # Each cache holds only its owner's data: the post, its counters and the fan's like on b,
    # the fan's save on a, though both instances answered about all of them.
    fan_and_post = (int(fan.id), post_id)
    for table, key, owner in (("posts", post_id, "b"), ("counters", post_id, "b"),
                              ("reactions", fan_and_post, "b"), ("saved", fan_and_post, "a")):
        assert [name for name in "ab" if cached(cluster, name, table, key)] == [owner], (table, key)

    edited = author.on("a").patch(f"/api/v1/posts/{post_id}", json={"caption": "dusk #sunset"})
    assert edited.status_code == 200 and edited.json()["hashtags"] == ["sunset"], edited.text
    assert fan.on("b").get(f"/api/v1/posts/{post_id}").json()["caption"] == "dusk #sunset"
    assert fan.on("b").get("/api/v1/tags/sunrise/posts").json()["items"] == []

    assert fan.on("a").delete(f"/api/v1/posts/{post_id}/like").json() == {"liked": False, "like_count": 0}
    assert fan.on("a").delete(f"/api/v1/comments/{comment.json()['id']}").status_code == 204  # its reply goes with it
    assert seen_by(fan, post_id) == [(0, 0, False, True)] * 2

    assert fan.on("a").delete(f"/api/v1/posts/{post_id}").status_code == 403  # only its author
    assert author.on("a").delete(f"/api/v1/posts/{post_id}").status_code == 204
    for name in "ab":
        assert fan.on(name).get(f"/api/v1/posts/{post_id}").status_code == 404
        assert fan.on(name).get("/api/v1/me/saved").json()["items"] == []
    assert holders(cluster, "SELECT id FROM posts", post_id) == []
