"""The media module: uploads, worker processes that re-encode them, and /media/{key}.

At start it requeues jobs a stop interrupted; while running, `[media] workers`
loops take jobs as uploads arrive (switched off with `background_jobs = false`,
then `state.media.run_once()` steps them), and a janitor deletes uploads never
posted and blobs nothing refers to. Worker processes start with the first job.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
from litestar import Litestar

from ..module import Module
from . import records
from .migrations import MIGRATIONS
from .pool import WorkerPool
from .routes import build_handlers
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
        state.media.plugins = state.get("plugins")  # for instamini_media_check; absent in some tests
        await state.media.open()
        state.accounts.avatar_check = records.check_avatar
        try:
            async with anyio.create_task_group() as background:
                if settings.background_jobs:
                    for _ in range(settings.workers):
                        background.start_soon(state.media.run_forever)
                    background.start_soon(state.media.janitor, self.config.blobs.gc_grace_seconds)
                yield
                background.cancel_scope.cancel()
        finally:
            with anyio.CancelScope(shield=True):
                await pool.close()
