"""The search module: `state.search` (SearchService) and its routes.

Its tables and the triggers that keep them in step are created by its migration
(migrations.py); it needs the accounts and posts modules, which start before it.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..cluster.forward import join_cluster
from ..module import Module
from .migrations import MIGRATIONS
from .routes import ROUTES
from .service import SearchService


class SearchModule(Module):
    name = "search"
    migrations = MIGRATIONS
    routes = ROUTES

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        search = state.search = SearchService(state.meta, state.accounts, state.counters, state.posts, self.config.search)
        join_cluster(state, search)  # each shard searched by its owner (docs/cluster.md)
        if search.cluster is None:
            await search.notable.refresh()
        # In a cluster the other instances may not be up yet: the first search loads it.
        yield
        search.notable.stop()
