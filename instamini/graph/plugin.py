"""The graph module: who follows whom, private accounts' requests, blocks.

At start it replays the graph outbox, so a change interrupted between two shards
by a crash is completed before the first request is served. In a cluster it then
retries, every OUTBOX_RETRY_SECONDS, the halves waiting for another instance that
did not answer (`GraphService.run_once`, which tests call themselves): one query
per owned shard a round when nothing waits.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar

from ..background import every
from ..cluster.forward import join_cluster
from ..module import Module
from .migrations import MIGRATIONS
from .routes import FollowRequestsController, PeopleController
from .service import GraphService

log = logging.getLogger(__name__)
OUTBOX_RETRY_SECONDS = 2.0  # how long a follow's other half may wait once its owner is back


class GraphModule(Module):
    name = "graph"
    migrations = MIGRATIONS
    cache_tables = ("relationships",)
    routes = [PeopleController, FollowRequestsController]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        graph = state.graph = GraphService(state.meta, state.cache, state.ids, state.accounts, state.counters, app.emit)
        join_cluster(state, graph)
        # Only the halves this instance applies itself: the other instances may not be up yet.
        replayed = await graph.replay_outbox()
        if replayed:
            log.warning("finished %d graph changes interrupted by the last stop", replayed)
        async with anyio.create_task_group() as background:
            if graph.cluster is not None:
                background.start_soon(every, OUTBOX_RETRY_SECONDS, graph.run_once, "graph outbox round")
            yield
            background.cancel_scope.cancel()
