"""The accounts module: registration, sessions, the caller's own profile.

It provides the `viewer` / `maybe_viewer` dependencies that every other module's
handlers use, and `app.state.accounts`, the service the graph module builds on.

The per-address limits live in Litestar's in-memory stores, which drop an expired
entry only when the same address comes back: every address that ever logged in or
signed up would stay in memory. A sweep once a minute drops the expired ones.

The authentication middleware may answer on any route it covers (a bad token is a 401
even on a public route; a cookie-authenticated change without its CSRF header is a
403), so this module writes those answers into each such route's OpenAPI.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute

from ..background import SWEEP_SECONDS, every, sweep_expired
from ..cluster.forward import join_cluster
from ..errors import Forbidden, NotAuthenticated, document_errors
from ..module import Module
from .auth import UNSAFE_METHODS, authentication_middleware
from .migrations import MIGRATIONS
from .routes import RATE_LIMIT_STORES, build_handlers
from .service import AccountsService


class AccountsModule(Module, ReceiveRoutePlugin):
    name = "accounts"
    migrations = MIGRATIONS
    cache_tables = ("users", "usernames", "names_by_id", "sessions")

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        limits = self.config.accounts
        app_config.route_handlers.extend(
            build_handlers(limits.registrations_per_address_per_minute, limits.logins_per_address_per_minute)
        )
        app_config.middleware.append(authentication_middleware())
        app_config.lifespan.append(self.lifespan)
        return app_config

    def receive_route(self, route: BaseRoute) -> None:
        """Document the middleware's 401 (and the CSRF 403 of changes) on each route it covers."""
        skipped = authentication_middleware().kwargs["exclude"]
        if not isinstance(route, HTTPRoute) or any(re.match(pattern, route.path) for pattern in skipped):
            return
        for handler in route.route_handlers:
            if not handler.opt.get("exclude_from_auth"):
                changes = UNSAFE_METHODS & set(handler.http_methods)
                document_errors(handler, NotAuthenticated, *([Forbidden] if changes else []))

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        state.accounts = AccountsService(state.meta, state.cache, state.ids, self.config.accounts, app.emit)
        join_cluster(state, state.accounts)
        async with anyio.create_task_group() as background:
            background.start_soon(every, SWEEP_SECONDS, lambda: sweep_rate_limits(app), "sweeping the per-address limits")
            yield
            background.cancel_scope.cancel()


async def sweep_rate_limits(app: Litestar) -> None:
    """Forget the per-address counts whose minute is over."""
    await sweep_expired(app, RATE_LIMIT_STORES)
