"""The media module: uploads, worker processes that re-encode them, and /media/{key}."""

from __future__ import annotations

from litestar.config.app import AppConfig

from ..module import Module
from .migrations import MIGRATIONS


class MediaModule(Module):
    name = "media"
    migrations = MIGRATIONS

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        return app_config
