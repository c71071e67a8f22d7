"""The author's instance SIGKILLed in the middle of a fan-out to another instance: once it
is back, every follower on the other instance has each post, once, in order.

The idea: tests/feed/test_fanout_crash.py cuts the worker at every step in one process,
and tests/reliability/test_crash_loop.py kills a lone server; this is the cluster's own
path. ann lives on a; 16 followers live on b (whose timelines are on b, which stays up
and keeps its cache) and 2 on a. Fan-out sends one follower a page (`fanout_batch = 1`),
so a post is 16 `feed.deliver` calls to b, one after another, with the progress saved
after each. Four times: ann posts, and the moment a acknowledges it, a is SIGKILLed;
the outbox row is read off a's shard files (the post's delivery was cut if it is still
there), and a is started again on the same data. Its worker resumes from the saved
progress; a page b had taken but whose progress a had not saved is delivered again, and
writes the same timeline key.

What must hold: each of b's followers has all four posts, none twice, newest first; so do
a's own (their timelines, in a's wiped cache, are rebuilt); a's outbox ends empty. At
least one of the four kills cuts a delivery short (each is 16 calls of about a millisecond
and the kill comes within a few after the acknowledgement), or the test has not tested
what it says.

Cost: about 20 s (two real instances, four restarts of one).
"""

from __future__ import annotations

import signal

from instamini.cluster.launch import LocalCluster
from tests.cluster.harness import FAST, SHARDS, Person, name_owned_by
from tests.cluster.test_cluster_feed import DELIVERED, feed_ids, follow, metric, outbox_of, owner, session_on, wait_for
from tests.media.helpers import jpeg_bytes

FOLLOWERS_ON_B, FOLLOWERS_ON_A, KILLS = 16, 2, 4


def test_killing_the_authors_instance_mid_fan_out_loses_and_repeats_nothing(tmp_path):
    extra = "[feed]\nfanout_batch = 1\n"
    with LocalCluster(tmp_path / "cluster", 2, shards=SHARDS, extra_toml=FAST + extra, edge=False) as cluster:
        ann = session_on(Person(cluster, name_owned_by("a", "ann")), "a")
        fans = [Person(cluster, name_owned_by("b", f"fan{n}x")) for n in range(FOLLOWERS_ON_B)]
        neighbours = [Person(cluster, name_owned_by("a", f"amy{n}x")) for n in range(FOLLOWERS_ON_A)]
        for person in (*fans, *neighbours):
            follow(person, ann)
            assert feed_ids(person, owner(person)) == []  # timelines built: they get deliveries
        wait_for(lambda: ann.on("a").get(f"/api/v1/users/{ann.username}").json()["counts"]["followers"]
                 == FOLLOWERS_ON_B + FOLLOWERS_ON_A, "every follower on ann's shard")

        posts, cut = [], 0
        for n in range(KILLS):
            client = ann.on("a")
            media_id = client.post("/api/v1/media", files={"file": (f"{n}.jpg", jpeg_bytes(color=(n * 60, 9, 9)))}).json()["id"]
            wait_for(lambda: client.get(f"/api/v1/media/{media_id}").json()["status"] == "ready", "the photo")
            made = client.post("/api/v1/posts", json={"caption": f"cut {n}", "media_ids": [media_id]})
            cluster.servers["a"].stop(signal.SIGKILL)  # at once: its worker is mid-way through the 16 calls
            assert made.status_code == 201, made.text
            posts.append(made.json()["id"])
            cut += any(row[0] == posts[-1] for row in outbox_of(cluster, "a"))
            cluster.servers["a"].start()

        newest_first = posts[::-1]
        for fan in fans:
            wait_for(lambda: feed_ids(fan, "b") == newest_first, f"{fan.username}'s feed, on b")
        for neighbour in neighbours:
            assert feed_ids(neighbour, "a") == newest_first
        wait_for(lambda: outbox_of(cluster, "a") == [], "a's outbox to empty")
        assert cut >= 1, "no kill cut a delivery short: the test did not test a cut"
        # b wrote each (post, follower) at least once; what is over is the pages delivered again.
        assert metric(cluster.urls, "b", DELIVERED) >= FOLLOWERS_ON_B * KILLS
