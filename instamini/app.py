"""Builds the application: the list of modules, and nothing else.

`create_app(config)` composes the stores, the enabled modules and the
contributors' plugins into one Litestar app. Each module is a Litestar plugin
that brings its own routes, dependencies and lifespan; see module.py.
"""

from __future__ import annotations

import gc
import os

import msgspec
from litestar import Litestar
from litestar.datastructures import State
from litestar.exceptions import ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import SwaggerRenderPlugin

from .accounts.plugin import AccountsModule
from .client_address import trusted_proxies_middleware
from .cluster.plugin import ClusterModule
from .config import Config
from .cluster.errors import RpcUnavailable
from .errors import InstaminiError, error_response, too_deep_response, unavailable_response, validation_response
from .explore.plugin import ExploreModule
from .feed.plugin import FeedModule
from .graph.plugin import GraphModule
from .media.plugin import MediaModule
from .messages.plugin import MessagesModule
from .moderation.plugin import ModerationModule
from .module import Module
from .notifications.plugin import NotificationsModule
from .plugin_host import PluginHost
from .plugins import load_plugins
from .posts.plugin import PostsModule
from .ranker.plugin import RankerModule
from .realtime.plugin import RealtimeModule
from .search.plugin import SearchModule
from .stores.plugin import StoresPlugin
from .stories.plugin import StoriesModule
from .system.plugin import SystemModule
from .web.plugin import WebModule

# In dependency order: a module may use the services of those before it.
MODULES: list[type[Module]] = [
    SystemModule,
    ClusterModule,
    AccountsModule,
    GraphModule,
    MediaModule,
    PostsModule,
    RankerModule,
    FeedModule,
    RealtimeModule,
    MessagesModule,
    NotificationsModule,
    StoriesModule,
    SearchModule,
    ExploreModule,
    ModerationModule,
    WebModule,
]


def create_app(config: Config | None = None) -> Litestar:
    config = config or Config()
    modules = [module(config) for module in MODULES if getattr(config.modules, module.name)]
    return Litestar(
        plugins=[StoresPlugin(config, modules), *modules, PluginHost(load_plugins(config), config)],
        state=State({"config": config}),
        exception_handlers={
            InstaminiError: error_response,
            ValidationException: validation_response,
            RecursionError: too_deep_response,
            RpcUnavailable: unavailable_response,  # an instance of the cluster is down
        },
        openapi_config=OpenAPIConfig(
            title="instamini", version="1", path="/schema", render_plugins=[SwaggerRenderPlugin()]
        ),
        debug=config.server.debug,
        # Behind nginx or an edge, the person's address, not the proxy's (for the rate limits).
        middleware=[trusted_proxies_middleware(config.server.trusted_proxies)] if config.server.trusted_proxies else [],
    )


def app_from_environment() -> Litestar:
    """Granian's factory: the CLI validated the config and passed it in INSTAMINI_CONFIG_JSON."""
    app = create_app(msgspec.json.decode(os.environ["INSTAMINI_CONFIG_JSON"], type=Config))
    app.on_startup.append(tune_garbage_collector)
    return app


def tune_garbage_collector() -> None:
    """Fewer full collections in the server process.

    With thousands of sockets the heap holds hundreds of thousands of objects, and each
    full collection stopped the loop for about 200 ms (measured by the realtime
    benchmark: message p99 363 ms, 93 ms after this). Everything alive after start-up is
    moved out of the collector's sight (`gc.freeze`), and the oldest generation is
    collected 100 times less often; reference counting still frees almost everything.
    """
    gc.freeze()
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, 1000)
