"""The standalone edge: a Litestar app that serves `/media` from an EdgeCache and passes the rest on.

The idea: the CDN of the design, in one small process. `GET|HEAD /media/<sha256>.<ext>`
is answered from the cache (fetched from an origin on a miss) with exactly the
origin's headers, conditional requests and ranges, because both call
`media.serve.immutable_response`. `/healthz` and `/metrics` are the edge's own;
every other path goes to an origin unchanged (proxy.py), to its sender's instance first
when `[edge] shard_owners` says which origin owns which shards (routing.py). `python -m instamini edge`
runs it on granian; tests build it with `create_edge_app(settings, transport=...)`.

The cost: a hit is a dictionary lookup, plus one thread hop to open the file unless
it is small and kept in memory; a miss is one origin fetch shared by every request
that wants the same file meanwhile. It runs as one worker: the cache's index and
bound live in that process's memory.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import msgspec
from litestar import Litestar, Request, get, route
from litestar.datastructures import State
from litestar.logging.config import LoggingConfig
from litestar.params import FromPath
from litestar.plugins.prometheus import PrometheusConfig, PrometheusController
from litestar.response.base import ASGIResponse
from litestar.response.streaming import ASGIStreamingResponse
from prometheus_client import REGISTRY

from ..config import EdgeConfig
from ..errors import InstaminiError, error_response
from ..media.serve import immutable_response, parse_name
from .cache import EdgeCache, EdgeError, TooLargeToCache
from .metrics import EdgeCollector
from .origin import OriginError, Origins
from .proxy import pass_through
from .routing import owner_table, sender_shard

SETTINGS_VARIABLE = "INSTAMINI_EDGE_JSON"  # how `python -m instamini edge` hands its settings to granian's worker
PROXIED_METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]


class Edge:
    """What the handlers share: the cache, the origins, and the counts only HTTP can see."""

    def __init__(self, cache: EdgeCache, origins: Origins, owners: dict[int, int] | None = None) -> None:
        self.cache, self.origins = cache, origins
        self.owners = owners or {}  # shard -> index of the origin that owns it (routing.py)
        self.bytes_served = self.passed_through = self.routed_to_owner = 0

    async def media(self, name: str, request: Request) -> ASGIResponse:
        key, content_type = parse_name(name)  # a hostile name is a 404 before any disk or network
        try:
            blob = await self.cache.get_or_fetch(name, self.origins.media)
        except TooLargeToCache:
            return await self.pass_through(request)  # bigger than the whole cache: relayed, not kept
        except EdgeError as error:  # wrong bytes from the origin: refused, and a retry may find better
            raise OriginError(str(error)) from None
        head_only = request.method == "HEAD"
        response = immutable_response(
            key, content_type, blob.size, request.headers, whole=blob.body, chunks=blob.chunks, head_only=head_only
        )
        if not isinstance(response, ASGIStreamingResponse):
            blob.close()  # nothing will read the open file: a 304, a 416, a HEAD, or a body sent whole
        if response.status_code in (200, 206) and not head_only:
            self.bytes_served += int(response.headers["content-length"])
        return response

    async def pass_through(self, request: Request) -> ASGIResponse:
        self.passed_through += 1
        first = None
        if self.owners:
            shard = sender_shard(request.headers.get("authorization"), request.headers.get("cookie"))
            first = self.owners.get(shard) if shard is not None else None
            self.routed_to_owner += first is not None
        return await pass_through(request, self.origins, first=first)


@route("/media/{name:str}", http_method=["GET", "HEAD"])
async def media(name: FromPath[str], request: Request, state: State) -> ASGIResponse:
    return await state.edge.media(name, request)


@get("/healthz", sync_to_thread=False)
def healthz() -> dict[str, str]:
    """Liveness of the edge itself: answers from memory, asks no origin."""
    return {"status": "ok", "role": "edge"}


# No limit on the body here: the origin applies its own to what it receives.
@route(["/", "/{path:path}"], http_method=PROXIED_METHODS, request_max_body_size=None)
async def passthrough(request: Request, state: State) -> ASGIResponse:
    return await state.edge.pass_through(request)


def create_edge_app(settings: EdgeConfig, *, transport: httpx.AsyncBaseTransport | None = None) -> Litestar:
    """The edge app; `transport` lets tests put an in-process origin behind it."""

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        cache = EdgeCache(
            Path(settings.cache_dir), settings.max_bytes,
            memory_bytes=settings.memory_mb << 20, memory_file_bytes=settings.memory_file_kb << 10,
        )
        await cache.open()
        origins = Origins(
            settings.origins, timeout=settings.origin_timeout_seconds,
            connect_timeout=settings.origin_connect_timeout_seconds, transport=transport,
        )
        app.state.edge = Edge(cache, origins, owner_table(settings.shard_owners, origins.urls))
        collector = EdgeCollector(app.state.edge)
        REGISTRY.register(collector)
        try:
            yield
        finally:
            REGISTRY.unregister(collector)
            await origins.aclose()
            await cache.close()

    # group_path: passed-through requests count under one route label, not one per URL.
    prometheus = PrometheusConfig(app_name="instamini_edge", prefix="instamini_edge", group_path=True)
    return Litestar(
        route_handlers=[media, healthz, PrometheusController, passthrough],
        lifespan=[lifespan],
        middleware=[prometheus.middleware],
        exception_handlers={InstaminiError: error_response},
        openapi_config=None,  # /schema is the origin's: passed through like any other path
        # httpx logs every request at INFO: one line per miss or passed request is noise, and CPU.
        logging_config=LoggingConfig(loggers={"httpx": {"level": "WARNING"}}),
    )


def app_from_environment() -> Litestar:
    """granian's factory: the settings `python -m instamini edge` put in the environment."""
    return create_edge_app(msgspec.json.decode(os.environ[SETTINGS_VARIABLE], type=EdgeConfig))
