"""The feed across instances: fan-out to followers whose timelines are on another owner.

First in-process, as instance "a" with a stand-in for "b" that can be switched off:
each owner's saved fan-out progress is its own, so an owner that is down waits
without holding the others up, and nobody is delivered to twice; a new celebrity's
posts are still pushed until every instance pulls them; a delivery that lands during
a timeline's rebuild survives it. Then two real
instances (`LocalCluster`, background jobs on, so fan-out runs by itself): a follower
on b reads an author on a through either instance, and posts made while b is stopped
all reach b's follower once it is back, none missing, none twice.

The follow edge is made through both instances (see `follow`), which works whether or
not the graph module forwards its second half yet.
"""

from __future__ import annotations

import sqlite3
import time

import httpx
import msgspec
import pytest

from instamini.cluster import RpcUnavailable
from instamini.cluster.launch import LocalCluster
from instamini.feed.celebrities import EXCHANGE
from instamini.feed.fanout import DELIVER, Delivery
from instamini.feed.timelines import Entry, ListState, now_ms
from instamini.ids import shard_of
from tests.accounts.helpers import in_app, state_of, sync_in_app
from tests.cluster.harness import FAST, OWNERS, Person, SHARDS, name_owned_by, session_owner, two_instances
from tests.media.helpers import jpeg_bytes

cluster = two_instances()
PASSWORD = "long enough pw"  # Person's

# -- the worker alone: instance "a" of two, and a stand-in for "b" ------------------------


class StandInB:
    """Replaces the RPC client's fan_out: records what was sent to "b", or fails as if b were down."""

    def __init__(self, celebrities: list[int] = ()) -> None:
        self.up, self.received, self.attempts, self.celebrities = True, [], 0, list(celebrities)

    async def fan_out(self, calls, *, idempotent=False, timeout=None, return_errors=False):
        results = []
        for instance, call in calls:
            assert instance == "b" and call.procedure in (DELIVER, EXCHANGE) and idempotent and return_errors
            self.attempts += 1
            if not self.up:
                results.append(RpcUnavailable("b", "cannot connect"))
            elif call.procedure == EXCHANGE:
                results.append(self.celebrities)
            else:
                delivery = msgspec.msgpack.decode(msgspec.msgpack.encode(call.args), type=Delivery)
                self.received += delivery.follower_ids
                results.append(len(delivery.follower_ids))
        return results


def seed(client, followers_per_shard: int) -> tuple[int, int, list[int], list[int]]:
    """An author on shard 0 (a's) with followers on shard 1 (a's) and 2-3 (b's), edges interleaved,
    every local timeline built; and a post of theirs in the outbox. (author, post, here, there)."""
    state = state_of(client)
    author = state.ids.next_id(0)
    here = [state.ids.next_id(1) for _ in range(followers_per_shard)]
    there = [state.ids.next_id(shard) for shard in (2, 3) for _ in range(followers_per_shard)]
    post = state.ids.next_id(0)

    def write(conn: sqlite3.Connection) -> None:
        for follower in [f for pair in zip(here, there[::2], there[1::2]) for f in pair]:
            conn.execute("INSERT INTO edges (src, kind, dst, id) VALUES (?, 'follower', ?, ?)",
                         (author, follower, state.ids.next_id(0)))
        conn.execute("INSERT INTO feed_outbox (post_id, author_id, kind, created_ms) VALUES (?, ?, 'post', ?)",
                     (post, author, now_ms()))

    in_app(client, state.meta.write, 0, write)
    for follower in here:
        sync_in_app(client, state.feed.home.states.put, follower, ListState(now_ms(), now_ms(), 0))
    return author, post, here, there


def outbox(client) -> list[tuple]:
    return [tuple(row) for row in in_app(client, state_of(client).meta.read, 0, "SELECT progress, lagging FROM feed_outbox")]


async def test_an_owner_that_is_down_waits_on_its_own_progress_and_the_rest_carry_on(instance_a):
    feed = state_of(instance_a).feed
    b = StandInB()
    state_of(instance_a).cluster.client.fan_out = b.fan_out
    feed.fanout.batch = 4  # pages of 4 followers: about one of a's to two of b's
    author, post, here, there = seed(instance_a, 5)

    b.up = False
    assert in_app(instance_a, feed.fanout.run_once) == 1  # page 1: a's followers delivered, b's missed
    progress, lagging = outbox(instance_a)[0]
    assert progress > 0 and msgspec.json.decode(lagging) == {"b": 0}
    assert in_app(instance_a, feed.fanout.run_until_idle) >= 2  # a's pass runs to the end meanwhile
    assert outbox(instance_a) == [(-1, '{"b":0}')] and feed.fanout.unreachable == {"b"}
    for follower in here:
        assert [e.post_id for e in sync_in_app(instance_a, feed.home.page, follower, 1 << 62, 5)] == [post]
    assert feed.fanout.delivered == len(here) and b.received == []
    attempts = b.attempts
    assert in_app(instance_a, feed.fanout.run_once) == 0  # only b waits: nothing moves, one attempt
    assert b.attempts == attempts + 1

    b.up = True
    in_app(instance_a, feed.fanout.run_until_idle)
    assert outbox(instance_a) == [] and feed.fanout.unreachable == set()
    assert sorted(b.received) == sorted(there)  # every one of b's followers, once
    assert feed.fanout.delivered == len(here)  # a's were not delivered to again
    assert feed.fanout.lag.observations == 1  # the lag ends when the last owner has the post


async def test_writers_skip_a_new_celebrity_only_once_every_instance_pulls_them(instance_a):
    feed, state = state_of(instance_a).feed, state_of(instance_a)
    b = StandInB(celebrities=[state.ids.next_id(2)])  # b's own celebrity, on its shard
    state.cluster.client.fan_out = b.fan_out
    star = state.ids.next_id(0)
    threshold = state.config.feed.celebrity_threshold
    in_app(instance_a, state.meta.write, 0, lambda conn: conn.execute(
        "INSERT INTO counters (object_id, name, value) VALUES (?, 'followers', ?)", (star, threshold + 1)))

    b.up = False
    in_app(instance_a, feed.celebrities.recheck, star)
    assert star in feed.celebrities.ids  # a's readers pull the star at once
    assert star not in feed.celebrities.agreed  # but b's might not: a's writer still pushes their posts
    b.up = True
    assert in_app(instance_a, feed.celebrities.share)  # the retry
    assert feed.celebrities.agreed == {star} and feed.celebrities.ids == {star, *b.celebrities}


async def test_a_delivery_that_lands_during_a_rebuild_is_kept(instance_a):
    """A rebuild reads the authors' lists (over the network, in a cluster) before it replaces
    the timeline: a post delivered in between must survive the replace."""
    feed, ids = state_of(instance_a).feed, state_of(instance_a).ids
    viewer, author = ids.next_id(1), ids.next_id(0)
    read_before, delivered_meanwhile = Entry(ids.next_id(0), author, "post"), Entry(ids.next_id(0), author, "post")

    def rebuild() -> list[int]:
        with feed.home.rebuilding(viewer):
            assert feed.fanout.receive(delivered_meanwhile, [viewer]) == 1  # no timeline yet: taken anyway
            feed.home.replace(viewer, [read_before])
        return [entry.post_id for entry in feed.home.page(viewer, 1 << 62, 10)]

    assert sync_in_app(instance_a, rebuild) == [delivered_meanwhile.post_id, read_before.post_id]


# -- two real instances --------------------------------------------------------------------


def follow(follower: Person, author: Person) -> None:
    """Follow through the follower's owner, then the author's: with the graph forwarding its
    second half the second answers 409 (already done); without, it writes the author's half."""
    for instance in (owner(follower), owner(author)):
        answer = follower.on(instance).post(f"/api/v1/users/{author.username}/follow")
        assert answer.status_code in (200, 409), answer.text


def owner(person: Person) -> str:
    return OWNERS[shard_of(int(person.id))]


def session_on(person: Person, instance: str) -> Person:
    """The person, whose session `instance` checks on its own (a session lives on its user's
    shard), so that they stay logged in while the other instance is down."""
    assert session_owner(person.token) == instance == owner(person)
    return person


def post(author: Person, caption: str) -> str:
    """A photo post by the author, through their owner; returns its id once acknowledged."""
    client = author.on(owner(author))
    upload = client.post("/api/v1/media", files={"file": ("p.jpg", jpeg_bytes(color=(len(caption) * 20 % 255, 9, 9)))})
    assert upload.status_code == 202, upload.text
    media_id = upload.json()["id"]
    wait_for(lambda: client.get(f"/api/v1/media/{media_id}").json()["status"] == "ready", f"media {media_id} ready")
    made = client.post("/api/v1/posts", json={"caption": caption, "media_ids": [media_id]})
    assert made.status_code == 201, made.text
    return made.json()["id"]


def feed_ids(person: Person, instance: str) -> list[str]:
    answer = person.on(instance).get("/api/v1/feed", params={"order": "chronological", "limit": 50})
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def wait_for(condition, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"still waiting for {what} after {timeout} s"
        time.sleep(0.1)  # polling other processes' background work


def outbox_of(cluster: LocalCluster, instance: str) -> list[tuple[str, int, str]]:
    """(post id, progress, lagging) of every outbox row in the instance's shard files."""
    rows = []
    for path in sorted((cluster.servers[instance].data_dir / "meta").glob("shard-*.sqlite")):
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        try:
            rows += [(str(i), p, lag) for i, p, lag in conn.execute("SELECT post_id, progress, lagging FROM feed_outbox")]
        finally:
            conn.close()
    return sorted(rows)


DELIVERED = "instamini_feed_deliveries_total"  # timeline entries written by fan-out on that instance


def metric(cluster_urls: dict[str, str], instance: str, name: str) -> float:
    text = httpx.get(cluster_urls[instance] + "/metrics", timeout=10).text
    return float(next(line.split()[-1] for line in text.splitlines() if line.startswith(name + " ")))


def test_a_follower_on_b_reads_an_author_on_a_through_either_instance(cluster):
    author = Person(cluster, name_owned_by("a", "ann"))
    fan = Person(cluster, name_owned_by("b", "ben"))
    follow(fan, author)
    older = post(author, "before the first read")
    assert feed_ids(fan, "b") == [older]  # the first read builds the timeline, from a's list of ann's posts
    newer = [post(author, f"pushed {n}") for n in range(2)]
    wait_for(lambda: feed_ids(fan, "b") == [*reversed(newer), older], "the fan-out to b")
    assert feed_ids(fan, "a") == [*reversed(newer), older]  # a forwards the read to b, the timeline's owner
    assert metric(cluster.urls, "b", DELIVERED) >= 2  # written into b's timeline by a's worker

    assert author.on("a").delete(f"/api/v1/posts/{newer[0]}").status_code == 204
    assert feed_ids(fan, "b") == [newer[1], older] == feed_ids(fan, "a")


@pytest.fixture
def fresh_cluster(tmp_path):
    with LocalCluster(tmp_path / "cluster", 2, shards=SHARDS, extra_toml=FAST, edge=False) as running:
        yield running


def test_posts_made_while_b_is_down_reach_its_follower_when_it_is_back(fresh_cluster):
    author = session_on(Person(fresh_cluster, name_owned_by("a", "ann")), "a")  # posts on while b is down
    fan, neighbour = Person(fresh_cluster, name_owned_by("b", "ben")), Person(fresh_cluster, name_owned_by("a", "amy"))
    for person in (fan, neighbour):
        follow(person, author)
        assert feed_ids(person, owner(person)) == []  # timelines built: they get deliveries
    first = post(author, "everyone up")
    wait_for(lambda: feed_ids(fan, "b") == [first], "the first post on b")

    fresh_cluster.servers["b"].stop()
    while_down = [post(author, f"b is down {n}") for n in range(3)]  # acknowledged by a all the same
    # a's own follower gets them meanwhile; each row then waits for b only, with the page b missed.
    wait_for(lambda: metric(fresh_cluster.urls, "a", DELIVERED) == 4, "the deliveries to amy, on a")
    waiting = sorted((post_id, -1, '{"b":0}') for post_id in while_down)
    wait_for(lambda: outbox_of(fresh_cluster, "a") == waiting, "the rows left for b")
    fresh_cluster.servers["b"].start()

    expected = [*reversed(while_down), first]
    wait_for(lambda: feed_ids(fan, "b") == expected, "the posts b missed")
    assert feed_ids(fan, "a") == expected == feed_ids(neighbour, "a")  # none missing, none twice, in order
    assert metric(fresh_cluster.urls, "b", DELIVERED) == 3  # redelivered into the timeline b kept over its restart
    assert metric(fresh_cluster.urls, "a", DELIVERED) == 4  # amy's were not delivered again
    wait_for(lambda: outbox_of(fresh_cluster, "a") == [], "the outbox to empty")
