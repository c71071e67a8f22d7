"""The learned ranker's offline quality: replay logged impressions, compare with chronological order.

Two halves:
1. Logging (skipped with --data): seed a demo network in a temp dir, open the app
   in-process and simulate people reading their ranked home feed and liking what
   they see, through the real services (FeedService.page logs impressions,
   Reactions.set_like fires the events that label them and teach affinities; the
   trainer's run_once expires and writes the examples). Their behaviour follows a
   hidden truth the ranker never sees: each viewer has favourite authors (a fifth
   of whom they follow) and a taste for photos or reels; the chance of a like is
   sigmoid(-3.4 + 2.2 x favourite + 0.8 x taste - 0.35 x log(1 + age hours)
   + 0.25 x log(1 + likes)).
2. Replay: read every logged example (`ranker_examples` on every shard), order them
   by time, fit a fresh model on the first 70% (as the scheduled retrain would) and
   score the last 30% with it, with the PRIOR weights, and by recency alone
   (chronological order). Report AUC over all held-out impressions and NDCG@10 per
   page shown (a session), averaged over pages with at least one like.

    python benchmarks/ranker_quality.py [--users 3000] [--posts-per-user 15] [--viewers 400] [--sessions 6000]
    python benchmarks/ranker_quality.py --data DIR      # replay a real data directory's log

Cost: seeding (about 5 s for 3,000 people), then the sessions one after another
(a few ms each), then a fit over the examples (about a second per 100 k).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from instamini.ids import created_ms
from instamini.ranker.evaluation import auc, mean_ndcg
from instamini.ranker.features import decode_features
from instamini.ranker.model import LogisticModel, sigmoid
from instamini.ranker.training import fit

from demo_data import active_viewers, open_app, seed_demo  # benchmarks/ is the script's folder

TRAIN_SHARE = 0.7
MINUTE_MS = 60_000


class HiddenTaste:
    """What the simulated people really like (the ranker only sees their likes)."""

    def __init__(self, seed: int) -> None:
        self.seed = seed

    def _rng(self, *parts: int) -> random.Random:
        return random.Random(hash((self.seed, *parts)))

    def favourite(self, viewer: int, author: int) -> bool:
        return self._rng(viewer, author).random() < 0.2

    def likes_reels(self, viewer: int) -> bool:
        return self._rng(viewer).random() < 0.4

    def chance(self, viewer: int, author: int, kind: str, likes: int, post_id: int, now_ms: int) -> float:
        age_hours = max(0.0, (now_ms - created_ms(post_id)) / 3_600_000)
        taste = 1.0 if (kind == "reel") == self.likes_reels(viewer) else 0.0
        z = -3.4 + 2.2 * self.favourite(viewer, author) + 0.8 * taste - 0.35 * math.log1p(age_hours) + 0.25 * math.log1p(likes)
        return sigmoid(z)


async def spare_media(state) -> list[tuple[int, int]]:
    """(owner, media id) of the demo's ready, unposted images (`demo --spare-media`)."""
    found = []
    for shard in range(state.meta.shard_count):
        rows = await state.meta.read(
            shard, "SELECT owner_id, id FROM media WHERE status = 'ready' AND post_id IS NULL AND kind = 'image'"
        )
        found += [tuple(row) for row in rows]
    return found


async def simulate(state, viewers: list[int], sessions: int, seed: int, posts_per_session: int) -> dict:
    """People read their feeds and like what they like, while others keep posting (so that
    feeds move on, as they do: a feed that never changes would be read to exhaustion)."""
    rng, truth = random.Random(seed), HiddenTaste(seed)
    impressions, clock = state.impressions, [time.time_ns() // 1_000_000]
    impressions.clock_ms = lambda: clock[0]
    uploads = await spare_media(state)
    rng.shuffle(uploads)
    avatars = {user.avatar_media_id for user in (await state.accounts.get_users([o for o, _ in uploads])).values()}
    uploads = [(owner, media) for owner, media in uploads if media not in avatars]
    likes = pages = posted = 0
    started = time.perf_counter()
    for n in range(sessions):
        for _ in range(posts_per_session):
            if uploads:
                owner, media = uploads.pop()
                await state.posts.create(owner, "", [media])
                posted += 1
        await state.feed.fanout.run_until_idle()
        viewer = rng.choice(viewers)
        page = await state.feed.page(viewer, reels=False, order="ranked", cursor=None, limit=20)
        pages += 1
        now = time.time_ns() // 1_000_000
        for view in page.posts:
            card = view.record
            if card.author_id != viewer and not view.liked and rng.random() < truth.chance(
                viewer, card.author_id, card.kind, view.like_count, card.id, now
            ):
                await state.reactions.set_like(viewer, card.id, True)
                likes += 1
        clock[0] += MINUTE_MS  # a minute of simulated time per page read
        if n % 50 == 49:
            await state.ranker_settle()
            await state.ranker_trainer.run_once()
    await state.ranker_settle()
    clock[0] += 60 * MINUTE_MS  # let every pending impression expire into a negative
    await state.ranker_trainer.run_once()
    return {"pages": pages, "likes": likes, "new_posts": posted, "seconds": round(time.perf_counter() - started, 1)}


async def logged_examples(state) -> list[tuple[int, int, dict[str, float], int]]:
    """(shown ms, viewer, features, label) of every logged example, oldest first."""
    rows = []
    for shard in range(state.meta.shard_count):
        rows += await state.meta.read(shard, "SELECT shown_ms, viewer_id, features, label FROM ranker_examples")
    rows.sort(key=lambda row: (row[0], row[1]))
    return [(row[0], row[1], decode_features(row[2]), row[3]) for row in rows]


def evaluate(examples: list[tuple[int, int, dict[str, float], int]]) -> dict:
    split = int(len(examples) * TRAIN_SHARE)
    train, test = examples[:split], examples[split:]
    fitted = fit([(features, label) for _, _, features, label in train], rate=0.05, l2=0.0001)
    scorers = {
        "chronological": lambda f: -f["age_log_hours"],
        "prior_weights": LogisticModel().logit,
        "learned": fitted.logit,
    }
    labels = [label for *_, label in test]
    sessions: dict[tuple[int, int], list[tuple[dict, int]]] = defaultdict(list)
    for shown_ms, viewer, features, label in test:
        sessions[(viewer, shown_ms)].append((features, label))
    report = {
        "examples": len(examples), "train": len(train), "test": len(test),
        "test_positive_share": round(sum(labels) / max(1, len(labels)), 4),
        "pages_in_test": len(sessions),
    }
    for name, score in scorers.items():
        scores = [score(features) for _, _, features, _ in test]
        per_session = [([score(f) for f, _ in rows], [label for _, label in rows]) for rows in sessions.values()]
        report[name] = {"auc": round(auc(scores, labels), 4), "ndcg_at_10": round(mean_ndcg(per_session), 4)}
    # Each feature alone, as a ranking (AUC below 0.5: the feature works the other way round).
    report["feature_auc"] = {
        name: round(auc([features.get(name, 0.0) for _, _, features, _ in test], labels), 3) for name in fitted.weights
    }
    report["train_auc"] = round(auc([fitted.logit(f) for _, _, f, _ in train], [label for *_, label in train]), 4)
    report["learned_weights"] = {name: round(w, 3) for name, w in fitted.weights.items()} | {"bias": round(fitted.bias, 3)}
    return report


async def run(data: Path, simulate_options: dict | None) -> dict:
    app = open_app(data)
    report: dict = {}
    async with app.lifespan():
        state = app.state
        if simulate_options is not None:
            viewers = await active_viewers(state, simulate_options["viewers"], simulate_options["seed"])
            report["simulation"] = await simulate(
                state, viewers, simulate_options["sessions"], simulate_options["seed"], simulate_options["posts_per_session"]
            )
            report["simulation"]["viewers"] = len(viewers)
        report |= evaluate(await logged_examples(state))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=3000)
    parser.add_argument("--posts-per-user", type=int, default=15, help="so that a liked author has more posts to show")
    parser.add_argument("--viewers", type=int, default=400, help="simulated readers (each reads many pages)")
    parser.add_argument("--sessions", type=int, default=6000, help="feed pages read in all")
    parser.add_argument("--posts-per-session", type=int, default=2, help="new posts by random people per page read")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--data", type=Path, help="replay this data directory's logged examples instead of simulating")
    options = parser.parse_args()
    if options.data:
        print(json.dumps(asyncio.run(run(options.data, None)), indent=2))
        return
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        spare = math.ceil(options.sessions * options.posts_per_session / options.users) + 1
        seed_demo(data, options.users, "--posts-per-user", str(options.posts_per_user), "--spare-media", str(spare))
        simulation = {
            "viewers": options.viewers, "sessions": options.sessions, "seed": options.seed,
            "posts_per_session": options.posts_per_session,
        }
        print(json.dumps(asyncio.run(run(data, simulation)), indent=2))


if __name__ == "__main__":
    main()
