"""The explore module: `state.explore` (ExploreService), its route, and an index on likes.

It needs the feed module (for its cursor form) and, through it, posts and graph.
Cost at start: the index migration; nothing in the background.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..cluster.forward import join_cluster
from ..module import Module
from .migrations import MIGRATIONS
from .routes import ROUTES
from .service import CACHE_TABLES, ExploreService


class ExploreModule(Module):
    name = "explore"
    migrations = MIGRATIONS
    cache_tables = CACHE_TABLES
    routes = ROUTES

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        explore = state.explore = ExploreService(
            state.meta, state.posts, state.cache, state.get("ranker"), state.get("impressions")
        )
        # Pages on the viewer's owner, each shard read by its own (docs/cluster.md).
        join_cluster(state, explore)
        join_cluster(state, explore.reads)
        yield
