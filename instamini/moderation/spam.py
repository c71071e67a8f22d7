"""The spam model at work: loaded from shard 0, consulted before a comment or message is
stored, trained by the reports admins resolve.

The idea: the model (ranker/spam.py) lives in memory and its counts live in two tables on
shard 0 (`spam_tokens`, `spam_totals`); training changes both, the table by increments in
one transaction, so a restart loads exactly what was learned. A fresh install learns the
seed corpus first. The rate signal is each author's texts in the last minute, kept in
memory in a sliding window (a deque of times per author): losing it in a restart only
forgets a minute.

Cost: a check is a few dictionary lookups and a deque append (no I/O); training is one
small transaction on shard 0. In a cluster, training runs on shard 0's owner (`@owned`)
and every instance keeps a copy of the model, reloaded when told of a change (sync.py)
and every sync.REFRESH_SECONDS. A check runs where the text is stored (the post's owner,
or the thread's), but an author's rate window is kept on the author's owner
(`count_text`), so that comments on posts all over the cluster add up in one window: a
round trip when the author is elsewhere. If their owner does not answer, the text is
counted where it is checked, rather than the comment refused.
"""

from __future__ import annotations

import sqlite3
import time
from collections import Counter, deque
from collections.abc import Callable

from ..cluster import RpcError
from ..cluster.forward import owned
from ..config import ModerationConfig
from ..ranker import spam_seed
from ..ranker.spam import NaiveBayes, SpamScore, spam_score
from ..ids import shard_of
from ..stores.meta import ShardedMeta

MODEL_SHARD = 0
WINDOW_SECONDS = 60.0
SPAM_LABEL, HAM_LABEL = "spam", "ham"
# Authors with no text in the last window are forgotten once this many are tracked.
SWEEP_AT = 10_000


class SpamService:
    def __init__(self, meta: ShardedMeta, config: ModerationConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.meta, self.config, self.clock = meta, config, clock
        self.model = NaiveBayes()
        self.recent: dict[int, deque[float]] = {}  # author -> times of their texts in the window
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)
        self.announce = None  # sync.py's: tell the other instances what changed (a cluster only)

    async def load(self) -> None:
        """The model as stored on shard 0 (seeded there first if it is a fresh install)."""
        tokens, documents = await self.stored_counts()
        model = NaiveBayes()
        for token, spam, ham in tokens:
            model.add_counts(token, spam, ham)
        model.documents = list(documents)
        self.model = model

    def learn_seed_in_memory(self) -> None:
        """The seed corpus only: what an instance checks with until shard 0's owner answers."""
        for text in spam_seed.SPAM:
            self.model.learn(text, True)
        for text in spam_seed.HAM:
            self.model.learn(text, False)

    @owned(lambda self: MODEL_SHARD)
    async def stored_counts(self) -> tuple[list[tuple[str, int, int]], tuple[int, int]]:
        """(token, spam, ham) rows and the (spam, ham) document totals; the seed corpus is
        learned and stored first when there are none."""
        rows = await self.meta.read(MODEL_SHARD, "SELECT label, documents FROM spam_totals")
        totals = {row["label"]: row["documents"] for row in rows}
        if not totals:
            seed = NaiveBayes()
            learned = [(seed.learn(text, True), True) for text in spam_seed.SPAM]
            learned += [(seed.learn(text, False), False) for text in spam_seed.HAM]
            await self.meta.write(MODEL_SHARD, lambda conn: _store(conn, learned))
            return await self.stored_counts()
        rows = await self.meta.read(MODEL_SHARD, "SELECT token, spam, ham FROM spam_tokens")
        return [(row[0], row[1], row[2]) for row in rows], (totals.get(SPAM_LABEL, 0), totals.get(HAM_LABEL, 0))

    def _rate(self, author_id: int) -> int:
        """Count one more text of the author now; how many they wrote in the last window."""
        now = self.clock()
        if len(self.recent) >= SWEEP_AT:
            self.recent = {author: times for author, times in self.recent.items() if times[-1] > now - WINDOW_SECONDS}
        times = self.recent.setdefault(author_id, deque())
        times.append(now)
        while times[0] <= now - WINDOW_SECONDS:
            times.popleft()
        return len(times)

    @owned(lambda self, author_id: shard_of(author_id))
    async def count_text(self, author_id: int) -> int:
        """One more text by the author, in their window on their owner; the texts in it."""
        return self._rate(author_id)

    def score(self, text: str, rate: int) -> SpamScore:
        """Score a text whose author wrote `rate` texts in the last window, this one included."""
        return spam_score(self.model, text, rate, self.config.spam_rate_per_minute)

    async def check(self, author_id: int, text: str) -> bool:
        """The seam's signature (comments and messages call it before storing): is it spam?"""
        try:
            rate = await self.count_text(author_id)
        except RpcError:  # their owner does not answer: counted here, not refused
            rate = self._rate(author_id)
        return self.score(text, rate).probability >= self.config.spam_threshold

    @owned(lambda self, *_: MODEL_SHARD)
    async def train(self, text: str, spam: bool) -> None:
        """Learn a labelled text, in memory and on shard 0 (one transaction)."""
        counted = self.model.learn(text, spam)
        await self.meta.write(MODEL_SHARD, lambda conn: _store(conn, [(counted, spam)]))
        if self.announce is not None:
            await self.announce("spam")


def _store(conn: sqlite3.Connection, learned: list[tuple[Counter[str], bool]]) -> None:
    """Add what was learned to the stored counts (increments: the rows stay exact whatever
    else was written meanwhile)."""
    for counted, spam in learned:
        column = "spam" if spam else "ham"
        conn.executemany(
            f"INSERT INTO spam_tokens (token, {column}) VALUES (?, ?) "
            f"ON CONFLICT (token) DO UPDATE SET {column} = {column} + excluded.{column}",
            list(counted.items()),
        )
        conn.execute(
            "INSERT INTO spam_totals (label, documents) VALUES (?, 1) "
            "ON CONFLICT (label) DO UPDATE SET documents = documents + 1",
            (SPAM_LABEL if spam else HAM_LABEL,),
        )
