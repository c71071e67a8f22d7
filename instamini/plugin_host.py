"""Connects contributor plugins (pluggy hooks) to the Litestar app.

It mounts the routes that `instamini_routes` returns, forwards every event in
`events.EVENTS` to `instamini_event`, and calls `instamini_startup` /
`instamini_shutdown` around serving. A plugin's failing event handler is logged
and never reaches the user.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pluggy
from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.events import listener
from litestar.plugins import InitPluginProtocol

from .config import Config
from .events import EVENTS

log = logging.getLogger(__name__)


async def _await_all(results: list) -> None:
    for result in results:
        if inspect.isawaitable(result):
            await result


class PluginHost(InitPluginProtocol):
    def __init__(self, manager: pluggy.PluginManager, config: Config) -> None:
        self.manager = manager
        self.config = config
        self.app: Litestar | None = None

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        for handlers in self.manager.hook.instamini_routes(config=self.config):
            app_config.route_handlers.extend(handlers)
        app_config.listeners.extend(self._forwarder(name) for name in EVENTS)
        app_config.lifespan.append(self.lifespan)
        # Modules start before this lifespan; hooks they consult at start (the ranker) need it now.
        app_config.state["plugins"] = self.manager
        return app_config

    def _forwarder(self, name: str):
        hook = self.manager.hook.instamini_event

        async def forward(**payload) -> None:
            try:
                await _await_all(hook(name=name, payload=payload, app=self.app))
            except Exception:
                log.exception("a plugin failed while handling event %s", name)

        return listener(name)(forward)

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        self.app = app
        await _await_all(self.manager.hook.instamini_startup(app=app, config=self.config))
        try:
            yield
        finally:
            await _await_all(self.manager.hook.instamini_shutdown(app=app))
