"""What every built-in module is: a Litestar plugin plus the storage it declares.

The idea (microservices, taught in one process): each feature (accounts, graph,
posts, feed, ...) is a folder with its routes, its logic and its tables, and is
composed into the app as a Litestar plugin. Switch one off in `[modules]` and it
is not built at all: no routes, no tables created, no background work. A module
declares its SQL migrations (run on every shard at start, in module order) and the
cache tables it reads, so the stores can be opened before any module starts.

Cost: nothing per request; composition happens once when the app is built.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any, ClassVar

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from .config import Config


class Module(InitPluginProtocol):
    """Base of the built-in modules.

    Subclasses set the class variables, and override `lifespan` (their services on
    `app.state`, their background work), `handlers` (routes built from the config) or
    `listeners` (events they react to) as they need; `on_app_init` registers all three.
    """

    name: ClassVar[str]
    migrations: ClassVar[Sequence[str]] = ()
    cache_tables: ClassVar[Sequence[str]] = ()
    routes: ClassVar[Sequence[Any]] = ()

    def __init__(self, config: Config) -> None:
        self.config = config

    def handlers(self) -> Sequence[Any]:
        return self.routes

    def listeners(self) -> Sequence[Any]:
        return ()

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        yield

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.route_handlers.extend(self.handlers())
        app_config.listeners.extend(self.listeners())
        app_config.lifespan.append(self.lifespan)
        return app_config
