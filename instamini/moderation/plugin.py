"""The moderation module: reports, admins and suspensions.

At start it loads the suspended users into memory and registers its hooks with
the accounts service (`refuse_login`) and the graph service (`hidden_users`),
loads the spam model (spam.py) and adds its check to comments and messages (`spam_checks`),
and loads the media blocklist, a content check of the media service. In a cluster
each instance keeps a copy of all three, kept in step by sync.py.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar

from ..cluster.forward import join_cluster
from ..module import Module
from .blocklist import Blocklist
from .blocklist_routes import BLOCKLIST_ROUTES
from .migrations import MIGRATIONS
from .routes import ROUTES
from .service import ModerationService
from .spam import SpamService
from .sync import ModerationSync


class ModerationModule(Module):
    name = "moderation"
    migrations = MIGRATIONS
    routes = [*ROUTES, *BLOCKLIST_ROUTES]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        service = state.moderation = ModerationService(state)
        spam = state.spam = SpamService(state.meta, self.config.moderation)
        blocklist = state.blocklist = Blocklist(state.meta, state.ids, self.config.moderation.blocklist_distance)
        for each in (service, spam, blocklist):  # changes on their shards' owners (docs/cluster.md)
            join_cluster(state, each)
        state.accounts.refuse_login.append(service.refusal)
        state.graph.hidden_users.append(service.is_suspended)
        state.comments.spam_checks.append(spam.check)
        if state.get("messages") is not None:  # comments and messages share one model and rate window
            state.messages.spam_checks.append(spam.check)
        if state.get("media") is not None:  # the media blocklist checks every processed upload
            state.media.content_checks.append(blocklist.check)
        if service.cluster is None:
            await service.load()
            await spam.load()
            await blocklist.load()
            yield
            return
        # In a cluster other instances may still be starting: load what answers now, the
        # rest at the next refresh; until shard 0's owner answers, check with the seed corpus.
        sync = state.moderation_sync = ModerationSync(state.cluster, service, blocklist, spam)
        spam.learn_seed_in_memory()
        await sync.run_once()
        async with anyio.create_task_group() as background:
            background.start_soon(sync.run_forever)
            yield
            background.cancel_scope.cancel()
