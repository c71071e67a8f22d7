"""The messages module: direct and group threads, photos and shared posts, read receipts.

At start it finishes the user-side index rows that a crash left in the outbox (before
the first request), makes sure sent photos are safe from the media janitor, and hooks
into posts so that a photo sent in a message cannot also be posted. It pushes through
`state.hub` (the realtime module, which starts before this one); with no hub, pushes
go nowhere and everything else works.

In a cluster the service and its index forward to the owners of the shards they touch
(service.py, index.py), and a task retries every RETRY_SECONDS the index rows that an
owner did not take (it was down), from this instance's own shards. Cost: one read of
the outbox per local shard per round, which is empty when every owner answered.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar

from ..background import SWEEP_SECONDS, every, sweep_expired
from ..cluster.forward import join_cluster
from ..module import Module
from . import attachments
from .migrations import MIGRATIONS
from .routes import ROUTES, SEND_RATE_LIMIT_STORE
from .reading import CACHE_TABLES
from .service import MessagesService

log = logging.getLogger(__name__)
RETRY_SECONDS = 5  # in a cluster: how often the outbox is tried again for owners that were down


class MessagesModule(Module):
    name = "messages"
    migrations = MIGRATIONS
    cache_tables = CACHE_TABLES
    routes = ROUTES

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        messages = state.messages = MessagesService(
            state.meta,
            state.cache,
            state.ids,
            state.accounts,
            state.graph,
            state.posts,
            self.config.messages,
            app.emit,
            state.get("hub"),
        )
        join_cluster(state, messages)
        join_cluster(state, messages.index)
        replayed = await messages.replay_outbox()
        if replayed:
            log.warning("finished %d thread index updates interrupted by the last stop", replayed)
        state.media.keep_clauses.append(attachments.UNUSED_MEDIA_FILTER)
        state.posts.in_create_transaction.append(attachments.refuse_sent_media)
        async with anyio.create_task_group() as background:
            sweep = lambda: sweep_expired(app, [SEND_RATE_LIMIT_STORE])  # noqa: E731
            background.start_soon(every, SWEEP_SECONDS, sweep, "sweeping the message limits")
            if messages.cluster is not None:  # outbox rows for other owners, retried until they answer
                background.start_soon(retry_forever, messages)
            yield
            background.cancel_scope.cancel()


async def retry_forever(messages: MessagesService) -> None:
    """Deliver, every RETRY_SECONDS, what the outbox of this instance's shards still holds."""
    while True:
        await anyio.sleep(RETRY_SECONDS)
        try:
            if delivered := await messages.replay_outbox():
                log.info("delivered %d thread index updates that had waited for their owner", delivered)
        except Exception:  # a local store failing: the next round tries again
            log.exception("thread index outbox: retry failed")
