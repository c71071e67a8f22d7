"""Operations endpoints: `/healthz` (touches no store) and `/metrics` (Prometheus).

Litestar's Prometheus middleware counts requests and their durations per route;
a collector added here reports the stores' own numbers (commits, cache hits) at
scrape time, so nothing is counted twice on the hot path.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar, get
from litestar.config.app import AppConfig
from litestar.enums import ScopeType
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from prometheus_client import REGISTRY

from ..module import Module
from .metrics import StoresCollector


@get("/healthz", sync_to_thread=False, opt={"exclude_from_auth": True}, tags=["operations"])
def healthz() -> dict[str, str]:
    """Liveness: answers from memory without touching any store."""
    return {"status": "ok"}


class SystemModule(Module):
    name = "system"

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        # HTTP only: on a websocket the middleware wraps every frame sent, for a figure
        # (one long "request") that says nothing; sockets are counted by the hub instead.
        prometheus = PrometheusConfig(app_name="instamini", prefix="instamini", group_path=True, scopes={ScopeType.HTTP})
        app_config.middleware.append(prometheus.middleware)
        app_config.route_handlers.extend([healthz, PrometheusController])
        app_config.lifespan.append(self.lifespan)
        return app_config

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        collector = StoresCollector(app.state)
        REGISTRY.register(collector)
        try:
            yield
        finally:
            REGISTRY.unregister(collector)
