"""The media module: uploads, worker processes that re-encode them, and /media/{key}.

At start it requeues jobs a stop interrupted; while running, `[media] workers`
loops take jobs as uploads arrive (switched off with `background_jobs = false`,
then `state.media.run_once()` steps them), and a janitor deletes uploads never
posted and blobs nothing refers to. Worker processes start with the first job.
In a cluster it also relays uploads to their owner (forwarding.py) and serves the
files other instances hold through an in-process edge cache (peer_files.py).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar
from prometheus_client import REGISTRY
from prometheus_client.core import CounterMetricFamily

from ..background import SWEEP_SECONDS, every, sweep_expired
from ..cluster.forward import join_cluster
from ..edge.metrics import EdgeCollector
from ..module import Module
from . import records
from .forwarding import UploadForwarder
from .migrations import MIGRATIONS
from .peer_files import PeerFiles
from .pool import WorkerPool
from .routes import UPLOAD_RATE_LIMIT_STORE, build_handlers
from .service import MediaService


class MediaModule(Module):
    name = "media"
    migrations = MIGRATIONS

    def handlers(self) -> list:
        return build_handlers(self.config)

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        settings, state = self.config.media, app.state
        pool = WorkerPool(
            size=settings.workers,
            memory_mb=settings.worker_memory_mb,
            cpu_seconds=settings.job_cpu_seconds,
            wall_seconds=settings.job_wall_seconds,
        )
        state.media = MediaService(self.config, state.meta, state.blobs, state.ids, pool, app.emit)
        join_cluster(state, state.media)  # before open(): it looks at this instance's shards only
        state.media.plugins = state.get("plugins")  # for instamini_media_check; absent in some tests
        await state.media.open()
        state.accounts.avatar_check = records.check_avatar
        try:
            async with self._across_instances(state), anyio.create_task_group() as background:
                sweep = lambda: sweep_expired(app, [UPLOAD_RATE_LIMIT_STORE])  # noqa: E731
                background.start_soon(every, SWEEP_SECONDS, sweep, "sweeping the upload limits")
                if settings.background_jobs:
                    for _ in range(settings.workers):
                        background.start_soon(state.media.run_forever)
                    background.start_soon(state.media.janitor, self.config.blobs.gc_grace_seconds)
                yield
                background.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await pool.close()

    @asynccontextmanager
    async def _across_instances(self, state) -> AsyncIterator[None]:
        """The upload relay and the cache of other instances' files, when this is one of several."""
        node = state.media.cluster
        state.media_forwarder = state.peer_files = None
        if node is None:
            yield
            return
        edge = self.config.edge
        forwarder = UploadForwarder(
            node, self.config.cluster.secret.encode(),
            timeout=edge.origin_timeout_seconds, connect_timeout=edge.origin_connect_timeout_seconds,
        )
        peers = PeerFiles(node, self.config.data_path, edge)
        await peers.open()
        collector = ClusterMediaCollector(peers, forwarder)
        REGISTRY.register(collector)
        state.media_forwarder, state.peer_files = forwarder, peers
        try:
            yield
        finally:
            state.media_forwarder = state.peer_files = None
            REGISTRY.unregister(collector)
            with anyio.CancelScope(shield=True):
                await peers.close()
                await forwarder.aclose()


class ClusterMediaCollector:
    """/metrics of the in-process edge cache (instamini_media_edge_*) and of relayed uploads.

    Registered by the lifespan of a cluster instance only, and unregistered as it ends:
    the names differ from the standalone edge's, so both may share a process."""

    def __init__(self, peers: PeerFiles, forwarder: UploadForwarder) -> None:
        self.edge = EdgeCollector(peers.edge, prefix="instamini_media_edge")
        self.forwarder = forwarder

    def collect(self):
        yield from self.edge.collect()
        yield CounterMetricFamily(
            "instamini_media_uploads_relayed", "Uploads relayed to the instance that owns the uploader",
            self.forwarder.relayed,
        )
