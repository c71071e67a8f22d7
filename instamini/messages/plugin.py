"""The messages module: direct and group threads, photos and shared posts, read receipts.

At start it finishes the user-side index rows that a crash left in the outbox (before
the first request), makes sure sent photos are safe from the media janitor, and hooks
into posts so that a photo sent in a message cannot also be posted. It pushes through
`state.hub` (the realtime module, which starts before this one); with no hub, pushes
go nowhere and everything else works.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..module import Module
from . import attachments
from .migrations import MIGRATIONS
from .routes import ROUTES
from .reading import CACHE_TABLES
from .service import MessagesService

log = logging.getLogger(__name__)


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
        replayed = await messages.replay_outbox()
        if replayed:
            log.warning("finished %d thread index updates interrupted by the last stop", replayed)
        state.media.keep_clauses.append(attachments.UNUSED_MEDIA_FILTER)
        state.posts.in_create_transaction.append(attachments.refuse_sent_media)
        yield
