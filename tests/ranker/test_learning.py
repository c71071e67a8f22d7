"""The learned ranker in the app: impressions labelled by what people do, online
learning, the ranked feed following it, explain, persistence and retraining."""

from __future__ import annotations

from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.ids import shard_of
from instamini.ranker.features import encode_features
from tests.accounts.helpers import in_app, state_of
from tests.conftest import register
from tests.feed.helpers import fan_out, follow
from tests.posts.helpers import POSTS, make_post

HOUR_MS = 3_600_000


def settle(client) -> None:
    in_app(client, state_of(client).ranker_settle)


def step(client, **options) -> dict:
    return in_app(client, lambda: state_of(client).ranker_trainer.run_once(**options))


def later(client, ms: int) -> None:
    """Move the impression log's clock on (labels are due by the clock)."""
    impressions = state_of(client).impressions
    start = impressions.clock_ms()
    impressions.clock_ms = lambda: start + ms


async def feed(client, user, order: str = "ranked") -> list[str]:
    response = await client.get("/api/v1/feed", params={"order": order}, headers=user.headers)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()["items"]]


async def world(client):
    """alice follows bob and carol; bob posted first, carol after."""
    alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
    await follow(client, alice, bob)
    await follow(client, alice, carol)
    bobs = [await make_post(client, bob) for _ in range(3)]
    carols = [await make_post(client, carol) for _ in range(3)]
    fan_out(client)
    return alice, bob, carol, bobs, carols


async def examples_on(client, shard: int) -> list[tuple]:
    rows = await state_of(client).meta.read(shard, "SELECT item_id, label, surface FROM ranker_examples ORDER BY id")
    return [tuple(row) for row in rows]


async def test_likes_label_impressions_and_the_feed_learns(client):
    alice, bob, carol, bobs, carols = await world(client)
    newest_first = [p["id"] for p in reversed(bobs + carols)]
    assert await feed(client, alice) == newest_first  # nothing learned yet: recency decides
    impressions = state_of(client).impressions
    assert len(impressions.pending) == 6
    for post in bobs:
        assert (await client.post(f"{POSTS}/{post['id']}/like", headers=alice.headers)).status_code == 200
    settle(client)
    assert impressions.positives == 3 and len(impressions.pending) == 3
    later(client, 31 * 60_000)  # past the 30-minute label window
    assert step(client) == {"expired": 3, "flushed": 6, "retrained": False}
    rows = in_app(client, examples_on, client, shard_of(int(alice.id)))
    assert sorted(rows) == sorted([(int(p["id"]), 1, "feed") for p in bobs] + [(int(p["id"]), 0, "feed") for p in carols])
    ranked = await feed(client, alice)
    assert set(ranked[:3]) == {p["id"] for p in bobs}, "bob, whom alice likes, now comes first"
    assert await feed(client, alice, "chronological") == newest_first

    why = (await client.get(f"/api/v1/feed/explain/{bobs[-1]['id']}", headers=alice.headers)).json()
    other = (await client.get(f"/api/v1/feed/explain/{carols[-1]['id']}", headers=alice.headers)).json()
    assert why["ranker"] == "learned" and why["features"]["affinity"] > 0 and why["contributions"]["affinity"] > 0
    assert other["features"]["affinity"] == 0 and why["score"] > other["score"] and why["position"] < other["position"]


async def test_comments_saves_and_own_posts(client):
    alice, bob, carol, bobs, carols = await world(client)
    await feed(client, alice)
    await client.post(f"{POSTS}/{carols[0]['id']}/comments", headers=alice.headers, json={"text": "nice"})
    await client.post(f"{POSTS}/{bobs[0]['id']}/save", headers=alice.headers)
    mine = await make_post(client, alice)
    await client.post(f"{POSTS}/{mine['id']}/like", headers=alice.headers)
    settle(client)
    impressions = state_of(client).impressions
    assert impressions.positives == 2
    assert all(key[2] != int(mine["id"]) for key in impressions.pending), "one's own posts are not impressions"
    features = state_of(client).ranker_features
    history = features.affinity.get((int(alice.id), int(carol.id)))
    assert history.score == 2.0 and abs(history.shown - 1) < 1e-6  # a comment weighs 2; carol was shown once (decaying)
    assert features.affinity.get((int(alice.id), int(alice.id))) is None


async def test_weights_survive_a_restart(config):
    async with AsyncTestClient(create_app(config)) as client:
        alice, bob, carol, bobs, carols = await world(client)
        await feed(client, alice)
        for post in bobs:
            await client.post(f"{POSTS}/{post['id']}/like", headers=alice.headers)
        settle(client)
        learned = state_of(client).learned_ranker.model.copy()
        assert learned.examples == 3
    async with AsyncTestClient(create_app(config)) as client:
        assert state_of(client).learned_ranker.model == learned


async def test_retraining_fits_the_logged_examples(client):
    alice = await register(client, "alice")
    state = state_of(client)
    # 400 logged examples where only affinity predicts the label.
    rows = [
        (int(alice.id), "feed", i, int(i % 4 == 0), encode_features({"affinity": 2.0 if i % 4 == 0 else 0.1, "age_log_hours": 1.0}), i)
        for i in range(400)
    ]

    def insert(conn) -> None:
        conn.executemany(
            "INSERT INTO ranker_examples (viewer_id, surface, item_id, label, features, shown_ms) VALUES (?, ?, ?, ?, ?, ?)", rows
        )

    in_app(client, state.meta.write, shard_of(int(alice.id)), insert)
    prior = state.learned_ranker.model.weights["affinity"]
    assert step(client)["retrained"] is False  # not due yet
    assert step(client, force_retrain=True)["retrained"] is True
    model = state.learned_ranker.model
    assert model.weights["affinity"] > prior + 0.5
    assert model.logit({"affinity": 2.0, "age_log_hours": 1.0}) > model.logit({"affinity": 0.1, "age_log_hours": 1.0}) + 2


async def test_explore_logs_its_impressions(client):
    alice, bob, carol = [await register(client, name) for name in ("alice", "bob", "carol")]
    post = await make_post(client, bob)
    await client.post(f"{POSTS}/{post['id']}/like", headers=carol.headers)
    response = await client.get("/api/v1/explore", headers=alice.headers)
    assert [item["id"] for item in response.json()["items"]] == [post["id"]]
    await client.post(f"{POSTS}/{post['id']}/like", headers=alice.headers)
    settle(client)
    later(client, 31 * 60_000)
    step(client)
    assert in_app(client, examples_on, client, shard_of(int(alice.id))) == [(int(post["id"]), 1, "explore")]


async def test_metrics_show_impressions_labels_and_weights(client):
    alice, bob, carol, bobs, carols = await world(client)
    await feed(client, alice)
    await client.post(f"{POSTS}/{bobs[0]['id']}/like", headers=alice.headers)
    settle(client)
    text = (await client.get("/metrics")).text
    assert "instamini_ranker_impressions_total 6.0" in text
    assert 'instamini_ranker_labelled_total{label="interacted"} 1.0' in text
    assert "instamini_ranker_pending 5.0" in text
    assert 'instamini_ranker_weight{feature="affinity"}' in text and 'instamini_ranker_weight{feature="bias"}' in text
