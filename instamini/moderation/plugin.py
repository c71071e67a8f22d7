"""The moderation module: reports, admins and suspensions.

At start it loads the suspended users into memory and registers its hooks with
the accounts service (`refuse_login`) and the graph service (`hidden_users`),
loads the spam model (spam.py) and adds its check to comments and messages (`spam_checks`),
and loads the media blocklist, a content check of the media service.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..module import Module
from .blocklist import Blocklist
from .blocklist_routes import BLOCKLIST_ROUTES
from .migrations import MIGRATIONS
from .routes import ROUTES
from .service import ModerationService
from .spam import SpamService


class ModerationModule(Module):
    name = "moderation"
    migrations = MIGRATIONS
    routes = [*ROUTES, *BLOCKLIST_ROUTES]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        service = state.moderation = ModerationService(state)
        await service.load()
        state.accounts.refuse_login.append(service.refusal)
        state.graph.hidden_users.append(service.is_suspended)
        spam = state.spam = SpamService(state.meta, self.config.moderation)
        await spam.load()
        state.comments.spam_checks.append(spam.check)
        if state.get("messages") is not None:  # comments and messages share one model and rate window
            state.messages.spam_checks.append(spam.check)
        blocklist = state.blocklist = Blocklist(state.meta, state.ids, self.config.moderation.blocklist_distance)
        await blocklist.load()
        if state.get("media") is not None:  # the media blocklist checks every processed upload
            state.media.content_checks.append(blocklist.check)
        yield
