"""The feed module: fan-out on write into LMDB timelines, with pull and hybrid beside it.

At start it hooks into posts (an outbox row in each new post's transaction; the
author's list updated after the commit) and into the graph (a changed follow marks
the cached followees stale at once; the next read applies the difference), listens
to `post.deleted` to clear a deleted post from timelines, and runs the fan-out
worker unless `[feed] background_jobs = false` (then `state.feed.fanout.run_once()`
steps it). In a cluster it serves its forwarded methods and the fan-out deliveries
to the other instances, shares its celebrity set with them before the first request,
and retries that sharing in the background for those that did not answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.events import listener

from ..cluster.forward import join_cluster
from ..module import Module
from .migrations import MIGRATIONS
from .routes import ROUTES
from .service import CACHE_TABLES, FeedService


class FeedModule(Module):
    name = "feed"
    migrations = MIGRATIONS
    cache_tables = CACHE_TABLES
    routes = ROUTES

    feed: FeedService | None = None

    def listeners(self) -> list:
        # Events carry no app: the listener reaches the service through this module.
        @listener("post.deleted")
        async def post_deleted(post_id: int, author_id: int) -> None:
            if self.feed is not None:
                await self.feed.remove_everywhere(author_id, post_id)

        return [post_deleted]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        feed = self.feed = state.feed = FeedService(
            self.config, state.meta, state.cache, state.counters, state.posts, state.graph,
            ranker=state.get("ranker"), impressions=state.get("impressions"),
        )
        join_cluster(state, feed)
        feed.join_peers()
        feed.check_strategy()
        await feed.celebrities.load()
        await feed.celebrities.share()
        state.posts.in_create_transaction.append(feed.write_outbox_row)
        state.posts.after_create.append(feed.post_created)
        state.posts.after_delete.append(feed.post_deleted)
        state.posts.grid_source = feed.grid_fetch
        state.graph.on_change.append(feed.graph_changed)
        async with anyio.create_task_group() as background:
            if self.config.feed.background_jobs:
                background.start_soon(feed.fanout.run_forever)
                if feed.cluster is not None:
                    background.start_soon(feed.celebrities.run_forever)
            yield
            background.cancel_scope.cancel()
        self.feed = None
