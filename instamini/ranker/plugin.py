"""The ranker module: a learned, explainable ranker for feeds, reels, stories and Explore.

At start it loads the saved model, offers the ranker as `state.ranker` (or the one
a plugin returns from the `instamini_ranker` hook, or the fixed recency formula
when `[ranker] model = "recency"`), and offers `state.impressions`, where ranked
surfaces log what they show. It listens to likes, comments, saves, watched
stories and messages: each one teaches the viewer's tastes (features.py) and
labels a waiting impression (impressions.py). Unless `[ranker] background_jobs`
is false, the trainer (training.py) labels, saves and retrains on a schedule;
`state.ranker_trainer.run_once()` steps it.

Modules that start later (feed, stories, explore) look the ranker up on `state`;
with this module off they use the recency formula and log nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.events import listener

from ..feed.ranker import RecencyRanker
from ..cluster.forward import join_cluster
from ..module import Module
from .features import CACHE_TABLES, FeatureExtractor
from .impressions import ImpressionLog
from .learned import LearnedRanker
from .migrations import MIGRATIONS
from .signals import RankerSignals
from .training import Trainer


SETTLE = "ranker.settle"  # an internal event: see settle()


class RankerModule(Module):
    name = "ranker"
    migrations = MIGRATIONS
    cache_tables = CACHE_TABLES

    state = None
    in_flight = 0  # listeners that have awaited and not yet finished

    async def settle(self) -> None:
        """Wait until the listeners of every event emitted so far have finished (tests).

        Litestar's emitter starts listeners as tasks in the order of their events, so
        once SETTLE is heard, every earlier listener has started; then wait for those
        still at an await (only acted_on_post awaits) to finish."""
        heard = asyncio.get_running_loop().create_future()
        self.emit(SETTLE, heard=heard)
        await heard
        while self.in_flight:
            await asyncio.sleep(0)

    def listeners(self) -> list:
        async def post_kind(post_id: int) -> str | None:
            card = (await self.state.posts.load_cards([post_id])).get(post_id)
            return card.kind if card else None

        async def acted_on_post(viewer_id: int, post_id: int, author_id: int, action: str) -> None:
            if self.state is None:
                return
            self.in_flight += 1
            try:
                kind = await post_kind(post_id)
                if self.state is not None:
                    await self.state.ranker_signals.acted_on_post(viewer_id, post_id, author_id, kind, action)
            finally:
                self.in_flight -= 1

        @listener(SETTLE)
        async def settled(heard: asyncio.Future) -> None:
            heard.set_result(None)

        @listener("post.liked")
        async def liked(post_id: int, author_id: int, user_id: int) -> None:
            await acted_on_post(user_id, post_id, author_id, "like")

        @listener("post.saved")
        async def saved(post_id: int, author_id: int, user_id: int) -> None:
            await acted_on_post(user_id, post_id, author_id, "save")

        @listener("comment.created")
        async def commented(post_id: int, post_author_id: int, author_id: int, **_) -> None:
            await acted_on_post(author_id, post_id, post_author_id, "comment")

        @listener("story.seen")
        async def story_seen(author_id: int, viewer_id: int, **_) -> None:
            if self.state is not None:
                await self.state.ranker_signals.watched_story(viewer_id, author_id)

        @listener("message.sent")
        async def messaged(sender_id: int, recipient_ids: list[int], **_) -> None:
            if self.state is not None:
                await self.state.ranker_signals.messaged(sender_id, recipient_ids)

        return [liked, saved, commented, story_seen, messaged, settled]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state, settings = app.state, self.config.ranker
        extractor = state.ranker_features = FeatureExtractor(state.cache)
        learned = state.learned_ranker = LearnedRanker(extractor)
        impressions = state.impressions = ImpressionLog(state.meta, extractor, learned, settings)
        trainer = state.ranker_trainer = Trainer(state.meta, learned, impressions, settings)
        signals = state.ranker_signals = RankerSignals(extractor, impressions)
        # Signals go to the actor's owner; each instance trains on its own people (docs/cluster.md).
        join_cluster(state, signals)
        join_cluster(state, trainer)
        await trainer.load()
        default = learned if settings.model == "learned" else RecencyRanker()
        plugins = state.get("plugins")
        chosen = plugins.hook.instamini_ranker(config=self.config, default=default) if plugins is not None else None
        state.ranker = chosen or default
        state.ranker_settle = self.settle
        self.state, self.emit = state, app.emit
        async with anyio.create_task_group() as background:
            if settings.background_jobs:
                background.start_soon(trainer.run_forever)
            yield
            background.cancel_scope.cancel()
        # Keep what was labelled and learned online since the last step.
        await impressions.flush()
        await trainer.save()
        self.state = None
