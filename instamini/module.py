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

from collections.abc import Sequence
from typing import ClassVar

from litestar.plugins import InitPluginProtocol

from .config import Config


class Module(InitPluginProtocol):
    """Base of the built-in modules. Subclasses set the class variables and `on_app_init`."""

    name: ClassVar[str]
    migrations: ClassVar[Sequence[str]] = ()
    cache_tables: ClassVar[Sequence[str]] = ()

    def __init__(self, config: Config) -> None:
        self.config = config
