"""Impressions and their labels: how the ranker learns from what people do.

The idea: every ranked surface (home feed, reels, Explore, story tray) tells this
log what it showed, with the features as they were at that moment. The item then
waits, in memory, for the viewer to act on it:
- a like, comment or save (a watched story, for the tray) within the label window
  makes it a positive example;
- no action by the end of the window makes it a negative one.
Each labelled example updates the live model at once (online learning) and is
written, in batches, to `ranker_examples` on the viewer's shard, where the trainer
(training.py) retrains from on a schedule and the offline benchmark replays it.

Pending impressions live in memory only: a restart forgets the unlabelled ones
(a few minutes' worth), which costs a little training data and nothing else.
They are bounded by MAX_PENDING; past that, the oldest are dropped unlabelled.

Cost: per page shown, the features of the page (already computed for ranking
once more) and a dict insert per item; per interaction, a dict lookup and a model
update; per run_once, one write transaction per shard with examples.
"""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from collections.abc import Sequence

import msgspec

from ..config import RankerConfig
from ..feed.ranker import Candidate
from ..ids import shard_of
from ..stores.meta import ShardedMeta
from .features import FeatureExtractor, encode_features, now_ms
from .learned import LearnedRanker

MAX_PENDING = 100_000
STORY = "stories"


class Example(msgspec.Struct, array_like=True):
    viewer_id: int
    surface: str  # "feed", "reels", "explore" or "stories"
    item_id: int  # a post id; for the story tray, the author's id
    label: int
    features: dict[str, float]
    shown_ms: int


class Pending(msgspec.Struct):
    surface: str
    features: dict[str, float]
    shown_ms: int


def item_key(viewer_id: int, surface: str, item_id: int) -> tuple[int, bool, int]:
    """Stories are labelled per author (any of their stories watched), posts per post."""
    return viewer_id, surface == STORY, item_id


class ImpressionLog:
    def __init__(self, meta: ShardedMeta, extractor: FeatureExtractor, learner: LearnedRanker, config: RankerConfig) -> None:
        self.meta, self.extractor, self.learner, self.config = meta, extractor, learner, config
        self.pending: dict[tuple[int, bool, int], Pending] = {}  # insertion order = time order
        self.labelled: list[Example] = []
        self.clock_ms = now_ms
        self.shown = self.positives = self.negatives = self.dropped = 0

    # -- what was shown, what was done ---------------------------------------------------

    def record(self, viewer_id: int, surface: str, candidates: Sequence[Candidate]) -> None:
        """The viewer was shown these (for stories: one candidate per author)."""
        if not candidates:
            return
        now = self.clock_ms()
        rows = self.extractor.features(viewer_id, candidates)
        new_authors = []
        for candidate, features in zip(candidates, rows):
            if candidate.author_id == viewer_id:
                continue  # one's own posts say nothing about taste
            item = candidate.author_id if surface == STORY else candidate.post_id
            key = item_key(viewer_id, surface, item)
            if key not in self.pending:  # shown again while waiting: the first showing counts
                self.pending[key] = Pending(surface, features, now)
                new_authors.append(candidate.author_id)
                self.shown += 1
        self.extractor.shown(viewer_id, new_authors)
        while len(self.pending) > MAX_PENDING:
            self.pending.pop(next(iter(self.pending)))
            self.dropped += 1

    def interacted(self, viewer_id: int, item_id: int, *, story: bool = False) -> bool:
        """The viewer acted on a post (or watched an author's story): a positive, if it was shown."""
        key = (viewer_id, story, item_id)
        pending = self.pending.pop(key, None)
        if pending is None:
            return False
        self._label(key, pending, 1)
        return True

    def _label(self, key: tuple[int, bool, int], pending: Pending, label: int) -> None:
        self.learner.model.learn(pending.features, label, self.config.learning_rate, self.config.l2)
        self.labelled.append(Example(key[0], pending.surface, key[2], label, pending.features, pending.shown_ms))
        if label:
            self.positives += 1
        else:
            self.negatives += 1

    # -- the scheduled step ---------------------------------------------------------------

    def expire(self) -> int:
        """Impressions older than the label window become negatives."""
        cutoff = self.clock_ms() - self.config.label_window_minutes * 60_000
        expired = 0
        while self.pending:
            key = next(iter(self.pending))
            pending = self.pending[key]
            if pending.shown_ms > cutoff:
                break  # the rest are newer
            del self.pending[key]
            self._label(key, pending, 0)
            expired += 1
        return expired

    async def flush(self) -> int:
        """Write the labelled examples to their viewers' shards, then trim each shard."""
        batch, self.labelled = self.labelled, []
        by_shard: dict[int, list[Example]] = defaultdict(list)
        for example in batch:
            by_shard[shard_of(example.viewer_id)].append(example)
        keep = max(1, self.config.max_examples // self.meta.shard_count)
        for shard, examples in by_shard.items():
            rows = [(e.viewer_id, e.surface, e.item_id, e.label, encode_features(e.features), e.shown_ms) for e in examples]

            def write(conn: sqlite3.Connection, rows=rows) -> None:
                conn.executemany(
                    "INSERT INTO ranker_examples (viewer_id, surface, item_id, label, features, shown_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?)",
                    rows,
                )
                conn.execute(
                    "DELETE FROM ranker_examples WHERE id <= (SELECT id FROM ranker_examples ORDER BY id DESC LIMIT 1 OFFSET ?)",
                    (keep,),
                )

            await self.meta.write(shard, write)
        return len(batch)
