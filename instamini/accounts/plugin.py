"""The accounts module: registration, sessions, the caller's own profile.

It provides the `viewer` / `maybe_viewer` dependencies that every other module's
handlers use, and `app.state.accounts`, the service the graph module builds on.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig

from ..cluster.forward import join_cluster
from ..module import Module
from .auth import authentication_middleware
from .migrations import MIGRATIONS
from .routes import build_handlers
from .service import AccountsService


class AccountsModule(Module):
    name = "accounts"
    migrations = MIGRATIONS
    cache_tables = ("users", "usernames", "sessions")

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        limits = self.config.accounts
        app_config.route_handlers.extend(
            build_handlers(limits.registrations_per_address_per_minute, limits.logins_per_address_per_minute)
        )
        app_config.middleware.append(authentication_middleware())
        app_config.lifespan.append(self.lifespan)
        return app_config

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        state.accounts = AccountsService(state.meta, state.cache, state.ids, self.config.accounts, app.emit)
        join_cluster(state, state.accounts)
        yield
