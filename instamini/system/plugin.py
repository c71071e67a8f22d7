"""Operations endpoints: `/healthz` (touches no store), `/metrics` (Prometheus) and
`/api/v1/system/stats` (the numbers of the `/system` page, see stats.py).

Litestar's Prometheus middleware counts requests and their durations per route;
a collector added here reports the stores' own numbers (commits, cache hits) at
scrape time, so nothing is counted twice on the hot path. The stats route reads the
same live objects as JSON, plus one request counter (an integer add per request).

In development mode (`[server] debug = true`) `POST /api/v1/system/feed-strategy`
switches the feed strategy of the running server, so that a class can watch the
outbox and the fan-out lag change; otherwise that route answers 404.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from typing import Literal

import anyio
import msgspec
from litestar import Litestar, Request, get, post
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.datastructures import State
from litestar.params import JSONBody
from litestar.response import Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY

from ..accounts.auth import logged_in
from ..errors import NotFound
from ..module import Module
from .metrics import StoresCollector
from .looplag import LoopLagMonitor
from .stats import RequestCounter, SystemStats


@get("/healthz", sync_to_thread=False, opt={"exclude_from_auth": True}, tags=["operations"])
def healthz() -> dict[str, str]:
    """Liveness: answers from memory without touching any store."""
    return {"status": "ok"}


@get("/api/v1/system/stats", opt={"exclude_from_auth": True}, tags=["operations"],
     summary="Live figures of the architecture, for the /system page (no user data)")
async def system_stats(state: State) -> dict:
    return await state.system_stats.snapshot()


class StrategyIn(msgspec.Struct, forbid_unknown_fields=True):
    strategy: Literal["push", "pull", "hybrid"]


@post("/api/v1/system/feed-strategy", tags=["operations"], guards=[logged_in], status_code=200, raises=[NotFound],
      summary="Development mode only: switch the live feed strategy (404 otherwise)")
async def switch_feed_strategy(data: JSONBody[StrategyIn], request: Request, state: State) -> dict:
    feed = state.get("feed")
    if not state.config.server.debug or feed is None:
        raise NotFound("not found: the feed strategy can be switched only in development mode ([server] debug = true)")
    previous = feed.strategy
    feed.strategy = data.strategy
    # Timelines built under the previous strategy miss what this one pushes: they are dropped
    # and rebuilt on their next read.
    feed.check_strategy()
    return {"strategy": feed.strategy, "previous": previous}


class MetricsController(PrometheusController):
    """Litestar's Prometheus endpoint, documented as what it answers: the text format, not JSON."""

    @get(media_type=CONTENT_TYPE_LATEST, tags=["operations"], summary="Prometheus metrics, in their text format")
    async def get(self) -> Response:
        return await PrometheusController.get.fn(self)


class SystemModule(Module):
    name = "system"

    def __init__(self, config) -> None:
        super().__init__(config)
        self.counter = RequestCounter()

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # HTTP only: on a websocket the middleware wraps every frame sent, for a figure
        # (one long "request") that says nothing; sockets are counted by the hub instead.
        prometheus = PrometheusConfig(app_name="instamini", prefix="instamini", group_path=True, scopes={ScopeType.HTTP})
        app_config.middleware.append(self.counter.middleware)
        app_config.middleware.append(prometheus.middleware)
        app_config.route_handlers.extend([healthz, MetricsController, system_stats, switch_feed_strategy])
        app_config.lifespan.append(self.lifespan)
        return app_config

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        modules = [name for name, on in msgspec.structs.asdict(self.config.modules).items() if on]
        app.state.system_stats = SystemStats(app.state, modules, self.config.server.debug, self.counter)
        collector = StoresCollector(app.state)
        REGISTRY.register(collector)
        # Always on, tests too: a measurement, not work (one wake-up per interval).
        app.state.loop_lag = loop_lag = LoopLagMonitor()
        REGISTRY.register(loop_lag)
        try:
            async with anyio.create_task_group() as background:
                background.start_soon(loop_lag.run)
                yield
                background.cancel_scope.cancel()
        finally:
            REGISTRY.unregister(loop_lag)
            REGISTRY.unregister(collector)
