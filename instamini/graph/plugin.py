"""The graph module: who follows whom, private accounts' requests, blocks.

At start it replays the graph outbox, so a change interrupted between two shards
by a crash is completed before the first request is served.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..module import Module
from .migrations import MIGRATIONS
from .routes import FollowRequestsController, PeopleController
from .service import GraphService

log = logging.getLogger(__name__)


class GraphModule(Module):
    name = "graph"
    migrations = MIGRATIONS
    cache_tables = ("relationships",)
    routes = [PeopleController, FollowRequestsController]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        state.graph = GraphService(state.meta, state.cache, state.ids, state.accounts, state.counters, app.emit)
        replayed = await state.graph.replay_outbox()
        if replayed:
            log.warning("finished %d graph changes interrupted by the last stop", replayed)
        yield
