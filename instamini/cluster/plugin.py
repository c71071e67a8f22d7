"""The cluster module: this instance's place in the cluster map, and the internal RPC.

The idea (scale out by running more instances of the same program): the fixed logical
shards are spread over instances, each owning some, and the instances call each other
through an authenticated RPC. This module puts `app.state.cluster` (a ClusterNode: the
map, the RPC client, the registry of procedures) in place before the feature modules
start, so that they can register the procedures they serve in their own lifespans,
and serves `POST /internal/rpc`.

A single instance is the default: a one-entry map that owns every shard, no secret,
and then the route refuses every call. It costs nothing on the hot paths: one route
that nobody calls, a few objects, and no HTTP client until a first remote call.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.plugins import ReceiveRoutePlugin
from litestar.routes import BaseRoute, HTTPRoute
from prometheus_client import REGISTRY

from ..config import ConfigError
from ..errors import Unavailable, document_errors
from ..module import Module
from . import map_file
from .auth import Verifier
from .errors import TopologyError
from .forward import join_cluster
from .metrics import RpcCollector
from .node import ClusterNode
from .procedures import register_builtins
from .registry import RpcRegistry
from .rpc_client import RpcClient
from .rpc_server import RpcServer, rpc_route
from .shard_move import ShardMover
from .topology import Topology


class ClusterModule(Module, ReceiveRoutePlugin):
    name = "cluster"
    routes = [rpc_route]

    def receive_route(self, route: BaseRoute) -> None:
        """With peers, any route of the API or of /media may need one that does not answer
        (or a shard that is moving): document the 503 on each. A single instance has none."""
        if len(self.config.cluster.instances) == 1 or not isinstance(route, HTTPRoute):
            return
        if route.path.startswith(("/api/", "/media/")):
            for handler in route.route_handlers:
                document_errors(handler, Unavailable)

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings, meta = self.config.cluster, app.state.meta
        map_directory = self.config.data_path / "cluster"
        try:
            # The data directory's shard count, which wins over [meta] shards once it exists.
            configured = Topology.from_config(settings, meta.shard_count)
        except TopologyError as error:
            raise ConfigError(
                f"{error}: the data directory {meta.root} has {meta.shard_count} logical shards, fixed at its creation"
            ) from None
        try:
            topology = map_file.load(map_directory, configured)
        except TopologyError as error:
            raise ConfigError(str(error)) from None
        httpx_log = logging.getLogger("httpx")
        if httpx_log.level == logging.NOTSET:  # it logs every request at INFO: a line per internal call
            httpx_log.setLevel(logging.WARNING)
        secret = settings.secret.encode() or None
        procedures = RpcRegistry()
        verifier = Verifier(secret, settings.max_clock_skew_seconds) if secret else None
        client = RpcClient(
            topology, secret, timeout=settings.rpc_timeout_seconds, retries=settings.rpc_retries,
            backoff=settings.rpc_backoff_ms / 1000, local=procedures,
        )
        node = app.state.cluster = ClusterNode(
            topology, client, procedures, RpcServer(topology, procedures, verifier), map_directory
        )
        register_builtins(procedures, node, meta)
        if not topology.single:  # a single instance has nowhere to move a shard to
            ShardMover(node, meta, app.state.get("cache"), app.state.get("blobs")).register(procedures)
        join_cluster(app.state, app.state.counters)  # the stores' own service, built before this module
        collector = RpcCollector(node)
        REGISTRY.register(collector)
        try:
            yield
        finally:
            REGISTRY.unregister(collector)
            await client.aclose()
