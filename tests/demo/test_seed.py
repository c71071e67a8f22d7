"""`python -m instamini demo`: the seeded directory is exactly what the services would have written.

One small network (300 people, 4 shards) is seeded once for the module; the app is
opened on it with the real stores, and the checks compare what the API says with
the rows, across shards.
"""

from __future__ import annotations

import json
import random
import sqlite3
import statistics
import subprocess
import sys
import time
from collections import Counter, defaultdict
from contextlib import closing
from pathlib import Path

import msgspec
import pytest
from litestar.testing import AsyncTestClient, TestClient

from instamini.app import create_app
from instamini.demo import PASSWORD, DemoOptions, DemoRefused, seed
from instamini.demo.clock import IdMint, Timeline
from instamini.demo.network import make_follows, make_people
from instamini.demo.progress import Progress
from instamini.graph.edges import COUNTED, MIRROR
from instamini.ids import created_ms, shard_of
from instamini.posts import text
from tests.conftest import FAST_TOML, REPO, make_config

USERS = 300
OPTIONS = DemoOptions(users=USERS, seed=7, spare_media=2, pictures=4)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    config = make_config(root / "data")
    tokens_file = root / "tokens.json"
    summary = seed(config, msgspec.structs.replace(OPTIONS, tokens_out=str(tokens_file)))
    return config, summary, json.loads(tokens_file.read_bytes())


@pytest.fixture
async def client(seeded):
    async with AsyncTestClient(create_app(seeded[0])) as test_client:
        yield test_client


def rows(config, sql: str, params=()) -> list[tuple]:
    """Every shard's answer to one query, each row prefixed with its shard."""
    found = []
    for path in sorted((config.data_path / "meta").glob("shard-*.sqlite")):
        shard = int(path.stem.split("-")[1])
        with closing(sqlite3.connect(path)) as conn:
            found += [(shard, *row) for row in conn.execute(sql, params)]
    return found


def user_ids(config) -> dict[str, int]:
    return {name: user_id for _, user_id, name in rows(config, "SELECT id, username FROM users")}


def counters(config) -> dict[tuple[int, str], int]:
    return {(obj, name): value for _, obj, name, value in rows(config, "SELECT object_id, name, value FROM counters")}


# -- accounts -------------------------------------------------------------------------


async def test_a_demo_account_logs_in_with_the_demo_password(client):
    response = await client.post("/api/v1/sessions", json={"username": "user000042", "password": PASSWORD})
    assert response.status_code == 201, response.text
    me = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {response.json()['token']}"})
    assert me.json()["username"] == "user000042"
    wrong = await client.post("/api/v1/sessions", json={"username": "celeb1", "password": "not-it"})
    assert wrong.status_code == 401


async def test_tokens_out_authenticate_and_spare_media_can_be_posted(client, seeded):
    config, _, tokens = seeded
    assert len(tokens) == USERS
    name = "user000099"
    headers = {"Authorization": f"Bearer {tokens[name]}"}
    me = await client.get("/api/v1/me", headers=headers)
    assert me.status_code == 200 and me.json()["username"] == name
    owner = user_ids(config)[name]
    spare = [
        str(media_id)
        for _, media_id in rows(
            config,
            "SELECT id FROM media WHERE owner_id = ? AND post_id IS NULL "
            "AND id NOT IN (SELECT avatar_media_id FROM users WHERE avatar_media_id IS NOT NULL)",
            (owner,),
        )
    ]
    assert len(spare) == OPTIONS.spare_media
    before = (await client.get(f"/api/v1/users/{name}")).json()["counts"]["posts"]
    response = await client.post("/api/v1/posts", json={"caption": "benchmarked #demo", "media_ids": spare}, headers=headers)
    assert response.status_code == 201, response.text
    assert (await client.get(f"/api/v1/users/{name}")).json()["counts"]["posts"] == before + 1


# -- the graph ------------------------------------------------------------------------


async def test_profile_counts_equal_the_rows(client, seeded):
    config = seeded[0]
    ids = user_ids(config)
    for name in ["celeb1", "celeb2", "celeb3", *sorted(ids)[3::37]]:
        user_id = ids[name]
        counts = (await client.get(f"/api/v1/users/{name}")).json()["counts"]
        followers = rows(config, "SELECT count(*) FROM edges WHERE src = ? AND kind = 'follower'", (user_id,))
        following = rows(config, "SELECT count(*) FROM edges WHERE src = ? AND kind = 'following'", (user_id,))
        posts = rows(config, "SELECT count(*) FROM posts WHERE author_id = ?", (user_id,))
        expected = {"followers": followers, "following": following, "posts": posts}
        assert counts == {key: sum(row[1] for row in found) for key, found in expected.items()}, name


def test_every_counter_equals_the_rows_it_counts(seeded):
    config = seeded[0]
    actual: Counter = Counter()
    for _, src, kind in rows(config, "SELECT src, kind FROM edges WHERE kind IN ('follower', 'following')"):
        actual[src, COUNTED[kind]] += 1
    for _, author in rows(config, "SELECT author_id FROM posts"):
        actual[author, "posts"] += 1
    for _, post_id in rows(config, "SELECT post_id FROM likes"):
        actual[post_id, "likes"] += 1
    for _, post_id in rows(config, "SELECT post_id FROM comments"):
        actual[post_id, "comments"] += 1
    assert counters(config) == dict(actual)
    assert actual and all(value > 0 for value in actual.values())


def test_every_follow_is_stored_on_both_sides_on_the_right_shards(seeded):
    config = seeded[0]
    edges = {(src, kind, dst, edge_id) for shard, src, kind, dst, edge_id in rows(config, "SELECT * FROM edges")}
    assert all(shard == shard_of(src) for shard, src, *_ in rows(config, "SELECT src FROM edges"))
    assert all((dst, MIRROR[kind], src, edge_id) in edges for src, kind, dst, edge_id in edges)
    assert all(src != dst for src, _, dst, _ in edges)
    kinds = Counter(kind for _, kind, _, _ in edges)
    assert kinds["following"] == kinds["follower"] > 20 * USERS
    assert kinds["requested"] == kinds["request_from"] > 0  # private accounts have pending requests
    private = {user_id for _, user_id in rows(config, "SELECT id FROM users WHERE private")}
    assert all(dst in private for src, kind, dst, _ in edges if kind == "requested")


def share_of_top(counts: list[int], fraction: float) -> float:
    ranked = sorted(counts, reverse=True)
    return sum(ranked[: max(1, int(len(ranked) * fraction))]) / sum(ranked)


def test_followers_are_skewed_towards_a_few_accounts(seeded):
    config, summary, _ = seeded
    followers = [count for (_, name), count in counters(config).items() if name == "followers"]
    # 300 people following 45 each is a dense graph: nobody can pass 299 followers, so the
    # skew shows less than at scale (below). With seed 7: 3.3% and 25%.
    assert share_of_top(followers, 0.01) > 0.025 and share_of_top(followers, 0.10) > 0.2
    assert max(followers) > 0.5 * USERS
    assert 20 <= summary.median_following <= 200


def test_at_scale_a_few_accounts_hold_much_of_the_graph():
    """The generator alone, on 5,000 people: with seed 1 the top 1% hold 16.5% of the
    follows and the top 10% hold 47%; the median person has 32 followers, the top 2,831."""
    rng, timeline, mint = random.Random(1), Timeline(time.time_ns() // 1_000_000), IdMint(4)
    people = make_people(rng, 5000, 4, timeline, mint, pictures=4)
    graph = make_follows(rng, people, timeline, mint, Progress(None))
    followers = list(graph.followers)
    assert share_of_top(followers, 0.01) > 0.12 and share_of_top(followers, 0.10) > 0.4
    assert max(followers) > 0.5 * len(people) > 20 * statistics.median(followers)
    assert 20 <= statistics.median(graph.following) <= 200


# -- posts ----------------------------------------------------------------------------


async def test_a_seeded_post_reads_and_its_media_serve(client, seeded):
    config = seeded[0]
    carousel = rows(
        config,
        "SELECT p.id, p.caption FROM posts p JOIN users u ON u.id = p.author_id "
        "WHERE NOT u.private AND (SELECT count(*) FROM media m WHERE m.post_id = p.id) > 1 ORDER BY p.id LIMIT 1",
    )
    _, post_id, caption = carousel[0]
    response = await client.get(f"/api/v1/posts/{post_id}")
    assert response.status_code == 200, response.text
    post = response.json()
    assert post["caption"] == caption and len(post["media"]) > 1
    in_order = rows(config, "SELECT id FROM media WHERE post_id = ? ORDER BY position", (post_id,))
    assert [item["id"] for item in post["media"]] == [str(media_id) for _, media_id in in_order]
    for item in post["media"]:
        assert item["status"] == "ready"
        for variant in item["variants"]:
            served = await client.get(variant["url"])
            assert served.status_code == 200 and served.headers["content-type"] == variant["content_type"]


def test_captions_are_indexed_as_the_posts_service_would(seeded):
    config = seeded[0]
    indexed, mentioned = defaultdict(set), defaultdict(set)
    for _, tag, post_id in rows(config, "SELECT tag, post_id FROM post_tags"):
        indexed[post_id].add(tag)
    for _, post_id, user_id in rows(config, "SELECT post_id, user_id FROM post_mentions"):
        mentioned[post_id].add(user_id)
    for _, post_id, caption, hashtags, mention_ids in rows(config, "SELECT id, caption, hashtags, mention_ids FROM posts"):
        assert indexed[post_id] == set(json.loads(hashtags)) == set(text.hashtags(caption, 30))
        assert mentioned[post_id] == set(json.loads(mention_ids))
    tags = Counter(tag for tags in indexed.values() for tag in tags)
    assert len(tags) > 10 and tags.most_common(1)[0][1] > 5 * tags.most_common()[-1][1]  # popular tags and rare ones
    assert sum(len(users) for users in mentioned.values()) > 0


def test_replies_are_one_level_deep_and_come_after_what_they_answer(seeded):
    config = seeded[0]
    found = rows(config, "SELECT id, post_id, parent_id, reply_to_id FROM comments")
    comments = {cid: (post, parent, reply_to) for _, cid, post, parent, reply_to in found}
    replies = [(cid, *c) for cid, c in comments.items() if c[1] is not None]
    assert replies
    for cid, post, parent, reply_to in replies:
        assert comments[parent][0] == post and comments[parent][1] is None  # a top-level comment of the post
        assert reply_to == parent or comments[reply_to][1] == parent  # in the same thread
        assert parent < cid and reply_to < cid


def test_only_followers_like_and_comment_private_accounts_posts(seeded):
    config = seeded[0]
    outsiders = """
        SELECT count(*) FROM {table} r JOIN posts p ON p.id = r.post_id JOIN users u ON u.id = p.author_id
        WHERE u.private AND r.{who} != p.author_id AND NOT EXISTS
            (SELECT 1 FROM edges e WHERE e.src = p.author_id AND e.kind = 'follower' AND e.dst = r.{who})
    """
    assert sum(n for _, n in rows(config, outsiders.format(table="likes", who="user_id"))) == 0
    assert sum(n for _, n in rows(config, outsiders.format(table="comments", who="author_id"))) == 0
    on_private = "SELECT count(*) FROM likes l JOIN posts p ON p.id = l.post_id JOIN users u ON u.id = p.author_id WHERE u.private"
    assert sum(n for _, n in rows(config, on_private)) > 0


def test_blob_references_equal_the_media_rows_that_use_them(seeded):
    config = seeded[0]
    used = Counter(
        key for _, key in rows(config, "SELECT v.value ->> 'key' FROM media m, json_each(m.variants) v")
    )
    with closing(sqlite3.connect(config.data_path / "blobs" / "refs.sqlite")) as conn:
        refs = dict(conn.execute("SELECT key, refs FROM blobs WHERE refs > 0"))
    assert refs == dict(used) and len(refs) == 4 * OPTIONS.pictures  # 3 WebP widths and a JPEG each


def test_ids_are_on_their_owners_shard_and_in_the_past(seeded):
    config = seeded[0]
    owned = {
        "users": "SELECT id, id FROM users",
        "posts": "SELECT id, author_id FROM posts",
        "media": "SELECT id, owner_id FROM media",
        "comments": "SELECT id, post_id FROM comments",
        "likes": "SELECT id, post_id FROM likes",
    }
    seen = []
    for table, sql in owned.items():
        for shard, object_id, owner in rows(config, sql):
            assert shard_of(object_id) == shard_of(owner) == shard, table
            seen.append(object_id)
    assert len(seen) == len(set(seen))  # unique across tables
    newest = max(created_ms(object_id) for object_id in seen)
    oldest = min(created_ms(object_id) for object_id in seen)
    now = time.time() * 1000
    assert now - 61 * 86_400_000 < oldest < newest < now


# -- determinism and refusals -----------------------------------------------------------


def test_the_same_seed_makes_the_same_network(tmp_path):
    small = DemoOptions(users=120, seed=3, pictures=2)
    first = seed(make_config(tmp_path / "a"), small)
    second = seed(make_config(tmp_path / "b"), small)
    other = seed(make_config(tmp_path / "c"), DemoOptions(users=120, seed=4, pictures=2))
    assert first.counts() == second.counts() != other.counts()
    with_spares = seed(make_config(tmp_path / "d"), msgspec.structs.replace(small, spare_media=1)).counts()
    assert with_spares.pop("spare_media") == 120
    assert with_spares == {key: value for key, value in first.counts().items() if key != "spare_media"}  # nothing else moved

    def graph(directory: str) -> set:
        config = make_config(tmp_path / directory)
        names = {user_id: name for name, user_id in user_ids(config).items()}
        return {(names[src], kind, names[dst]) for _, src, kind, dst in rows(config, "SELECT src, kind, dst FROM edges")}

    assert graph("a") == graph("b")


def test_a_seeded_directory_is_refused(seeded):
    with pytest.raises(DemoRefused, match=f"already has {USERS} users"):
        seed(seeded[0], OPTIONS)


def test_a_directory_in_use_by_a_server_is_refused(tmp_path):
    config = make_config(tmp_path / "data")
    with TestClient(create_app(config)):
        with pytest.raises(DemoRefused, match="in use"):
            seed(config, DemoOptions(users=50, pictures=1))
    assert seed(config, DemoOptions(users=50, pictures=1)).users == 50  # once it has stopped


def test_the_command_line_seeds_then_refuses_a_second_run(tmp_path):
    config_file = tmp_path / "config.toml"
    config_file.write_text(FAST_TOML.format(data_dir=tmp_path / "unused", plugins=REPO / "plugins"))
    command = [sys.executable, "-m", "instamini", "demo", "--users", "200", "--data-dir", str(tmp_path / "data")]
    command += ["--config", str(config_file)]
    first = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert first.returncode == 0, first.stderr
    assert "users      200" in first.stdout and PASSWORD in first.stdout
    assert (tmp_path / "data" / "meta" / "layout.json").exists() and not (tmp_path / "data" / "cache").exists()
    second = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=60)
    assert second.returncode == 1 and "already has 200 users" in second.stderr
