"""Training on a schedule, and keeping the model across restarts.

The idea: online updates (impressions.py) follow tastes as they change, but one
example at a time, in arrival order, drifts. So every `[ranker] retrain_minutes`
the trainer refits the model from scratch (from the PRIOR weights) on the logged
examples, oldest first, for a few passes with a shrinking step, and swaps it in;
online learning carries on from there. The current weights are written to
`ranker_weights` on shard 0 after every step, so a restart resumes where it was.

In a cluster (docs/cluster.md) each instance learns from the people it owns: their
impressions are logged and labelled there (signals.py), it trains on the examples of
its own shards, and it keeps its weights on the first of them. So each instance's
model fits the people it ranks for, and no instance writes another's shard.

`run_once()` is one step: label what expired, flush examples, retrain if due,
save the weights. The background loop calls it every STEP_SECONDS; tests call it.

Cost: a retrain reads up to max_examples rows from all shards and makes EPOCHS
passes of a 7-weight update over them, in a worker thread: about a second per
100 k examples on this machine (CPU, so it competes with requests for the GIL).
"""

from __future__ import annotations

import logging
import random

import anyio
import msgspec

from ..background import every
from ..cluster.forward import local_shards
from ..config import RankerConfig
from ..stores.meta import ShardedMeta
from .features import decode_features
from .impressions import ImpressionLog
from .learned import LearnedRanker
from .model import LogisticModel, decode_model, encode_model

log = logging.getLogger(__name__)

STEP_SECONDS = 60
EPOCHS = 3
MIN_EXAMPLES = 50  # fewer than this: keep the prior and online updates


def fit(examples: list[tuple[dict[str, float], int]], rate: float, l2: float, seed: int = 0) -> LogisticModel:
    """A fresh model fitted to (features, label) pairs: EPOCHS shuffled passes, the step
    shrinking each pass. Pure: the benchmark and the tests call it too."""
    model = LogisticModel()
    order = list(range(len(examples)))
    shuffle = random.Random(seed).shuffle
    for epoch in range(EPOCHS):
        shuffle(order)
        step = rate / (1 + epoch)
        for i in order:
            features, label = examples[i]
            model.learn(features, label, step, l2)
    return model


class Trainer:
    def __init__(self, meta: ShardedMeta, learner: LearnedRanker, impressions: ImpressionLog, config: RankerConfig) -> None:
        self.meta, self.learner, self.impressions, self.config = meta, learner, impressions, config
        self.last_retrain_ms = 0
        self.retrains = 0
        self.saved_examples = -1
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)

    def weights_shard(self) -> int:
        return local_shards(self)[0]  # shard 0 on a single instance

    async def load(self) -> None:
        """Resume from the saved weights, if any; the first retrain is due retrain_minutes after start."""
        row = await self.meta.read_one(self.weights_shard(), "SELECT model, updated_ms FROM ranker_weights WHERE id = 1")
        if row is not None:
            try:
                self.learner.model = decode_model(row["model"])
            except msgspec.DecodeError:
                log.warning("saved ranker weights are unreadable; starting from the prior")
        self.last_retrain_ms = self.impressions.clock_ms()
        self.saved_examples = self.learner.model.examples

    async def examples(self) -> list[tuple[int, dict[str, float], int]]:
        """The newest logged examples from this instance's shards, oldest first: (shown ms, features, label)."""
        shards = local_shards(self)
        per_shard = self.config.max_examples // len(shards) + 1
        rows = []
        for shard in shards:
            rows += await self.meta.read(
                shard, "SELECT shown_ms, features, label FROM ranker_examples ORDER BY id DESC LIMIT ?", (per_shard,)
            )
        rows.sort(key=lambda row: row[0])
        return [(row[0], decode_features(row[1]), row[2]) for row in rows[-self.config.max_examples :]]

    async def retrain(self) -> bool:
        found = await self.examples()
        self.last_retrain_ms = self.impressions.clock_ms()
        if len(found) < MIN_EXAMPLES:
            return False
        pairs = [(features, label) for _, features, label in found]
        model = await anyio.to_thread.run_sync(fit, pairs, self.config.learning_rate, self.config.l2)
        self.learner.model = model
        self.retrains += 1
        return True

    async def save(self) -> None:
        model = self.learner.model
        if model.examples == self.saved_examples:
            return
        blob, stamp = encode_model(model), self.impressions.clock_ms()
        await self.meta.write(
            self.weights_shard(),
            lambda conn: conn.execute("INSERT OR REPLACE INTO ranker_weights (id, model, updated_ms) VALUES (1, ?, ?)", (blob, stamp)),
        )
        self.saved_examples = model.examples

    async def run_once(self, *, force_retrain: bool = False) -> dict[str, int | bool]:
        expired = self.impressions.expire()
        flushed = await self.impressions.flush()
        due = self.impressions.clock_ms() - self.last_retrain_ms >= self.config.retrain_minutes * 60_000
        retrained = await self.retrain() if (due or force_retrain) else False
        await self.save()
        return {"expired": expired, "flushed": flushed, "retrained": retrained}

    async def run_forever(self) -> None:
        await every(STEP_SECONDS, self.run_once, "ranker training step")
