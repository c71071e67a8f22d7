"""The notifications module: listeners that queue events, the worker, the routes.

Each event that rules.py handles gets a listener that only queues it on the
service (so one failing or slow notification can never hurt another listener, or
the request that caused it); the worker runs beside the app and, at shutdown,
finishes what is queued while the stores are still open. The live push goes
through `state.hub` (the realtime module's), looked up at each push: without it,
notifications are stored and listed, just not pushed. In a cluster the service
forwards each recipient's writes and reads to their owner (service.py).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.events import listener

from ..cluster.forward import join_cluster
from ..module import Module
from .migrations import MIGRATIONS
from .routes import NotificationsController
from .rules import HANDLERS
from .service import FLUSH, NotificationsService

DRAIN_SECONDS = 5  # at shutdown, how long the queued events may take


class NotificationsModule(Module):
    name = "notifications"
    migrations = MIGRATIONS
    routes = [NotificationsController]

    service: NotificationsService | None = None

    def listeners(self) -> list:
        # Events carry no app: a listener reaches the service through this module.
        def queue(event: str):
            async def heard(**payload) -> None:
                if self.service is not None:
                    self.service.submit(event, payload)

            return listener(event)(heard)

        @listener(FLUSH)
        async def flushed(heard: asyncio.Future) -> None:
            if not heard.done():
                heard.set_result(None)

        return [queue(event) for event in HANDLERS] + [flushed]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        service = self.service = state.notifications = NotificationsService(
            state.meta,
            state.ids,
            state.accounts,
            state.graph,
            state.posts,
            state.counters,
            self.config.notifications,
            app.emit,
            find_hub=lambda: state.get("hub"),
        )
        join_cluster(state, service)
        async with anyio.create_task_group() as background:
            background.start_soon(service.run_forever)
            yield
            with anyio.move_on_after(DRAIN_SECONDS):
                await service.drain()
            background.cancel_scope.cancel()
        self.service = None
