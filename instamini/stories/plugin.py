"""The stories module: photos and videos that expire, the tray, seen marks and viewers.

It builds `state.stories` (StoriesService), declares the tray's cache tables
(cache.py) and hooks into the graph: a changed follow drops both users' cached
followees. It looks up `state.ranker` and `state.impressions` at request time
(optional: their modules may be off). Its janitor runs in the background when
`[media] background_jobs` is true (the media janitor's switch: both let go of
media; the tests turn it off and call `state.stories.run_once()`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar

from ..cluster.forward import join_cluster
from ..module import Module
from .migrations import MIGRATIONS
from .cache import CACHE_TABLES
from .routes import ROUTES
from .service import StoriesService


class StoriesModule(Module):
    name = "stories"
    migrations = MIGRATIONS
    cache_tables = CACHE_TABLES
    routes = ROUTES

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        stories = state.stories = StoriesService(
            state.meta, state.ids, state.accounts, state.graph, state.blobs, self.config.stories, app.emit,
            state.cache, state.get,
        )
        join_cluster(state, stories)  # each story's work on its author's owner (docs/cluster.md)
        state.graph.on_change.append(stories.cached.graph_changed)
        async with anyio.create_task_group() as background:
            if self.config.media.background_jobs:
                background.start_soon(stories.run_forever)
            yield
            background.cancel_scope.cancel()
