"""The realtime module: the `/ws` gateway and the hub other modules publish through.

It puts `state.hub` in place before the modules that push (messages, notifications)
start, and closes a session's sockets as soon as that session logs out. In a cluster of
several instances the hub is a ClusterHub, which forwards frames to the sockets that
the other instances hold.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..module import Module
from ..sliding_window import SlidingWindowLimiter
from .connection import LOGGED_OUT
from .gateway import gateway
from .cluster_hub import ClusterHub
from .hub import Hub


class RealtimeModule(Module):
    name = "realtime"
    routes = [gateway]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        node = getattr(app.state, "cluster", None)
        clustered = node is not None and not node.topology.single
        hub = app.state.hub = ClusterHub(node) if clustered else Hub()
        app.state.handshakes = SlidingWindowLimiter(self.config.realtime.handshakes_per_address_per_minute, 60)
        if clustered:
            hub.register()
        app.state.accounts.on_logout.append(lambda user_id, digest: hub.close_session(digest, LOGGED_OUT, "logged out"))
        try:
            yield
        finally:
            if clustered:
                await hub.close()
