"""Opens the embedded stores before any module starts and closes them last.

`app.state.meta` (SQLite shards), `app.state.cache` (LMDB), `app.state.blobs`
(content-addressed files) and `app.state.ids` (the id generator) are what the
modules' services are built from. The data directory layout:

    data/meta/layout.json, shard-0000.sqlite ...   the source of truth
    data/cache/                                    LMDB, disposable
    data/blobs/                                    media bytes and their refcounts
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.plugins import InitPluginProtocol

from ..config import Config
from ..ids import IdGenerator
from ..module import Module
from .blobs import FileBlobStore
from . import counters
from .cache import LmdbCache
from .meta import ShardedMeta


class StoresPlugin(InitPluginProtocol):
    def __init__(self, config: Config, modules: Sequence[Module]) -> None:
        self.config = config
        # The stores' own tables first: modules' migrations may rely on them.
        self.migrations = {"counters": counters.MIGRATIONS}
        self.migrations.update({module.name: module.migrations for module in modules if module.migrations})
        self.cache_tables = [counters.CACHE_TABLE, *(table for module in modules for table in module.cache_tables)]

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        app_config.lifespan.insert(0, self.lifespan)  # first in, last out
        return app_config

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        config, data = self.config, self.config.data_path
        meta = ShardedMeta(
            data / "meta",
            shards=config.meta.shards,
            group_commit=config.meta.group_commit,
            max_batch=config.meta.max_batch,
            busy_timeout_ms=config.meta.busy_timeout_ms,
        )
        cache = LmdbCache(
            data / "cache",
            self.cache_tables,
            map_size_mb=config.cache.map_size_mb,
            max_map_size_mb=config.cache.max_map_size_mb,
        )
        blobs = FileBlobStore(data / "blobs")
        await meta.open(self.migrations)
        cache.open()
        await blobs.open()
        app.state.update(
            meta=meta, cache=cache, blobs=blobs, ids=IdGenerator(), counters=counters.Counters(meta, cache)
        )
        try:
            yield
        finally:
            await blobs.close()
            cache.close()
            await meta.close()
