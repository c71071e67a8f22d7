"""The realtime module: the `/ws` gateway and the hub other modules publish through.

It puts `state.hub` in place before the modules that push (messages, notifications)
start, and closes a session's sockets as soon as that session logs out.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..module import Module
from .connection import LOGGED_OUT
from .gateway import gateway
from .hub import Hub


class RealtimeModule(Module):
    name = "realtime"
    routes = [gateway]

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        hub = app.state.hub = Hub()
        app.state.accounts.on_logout.append(lambda user_id, digest: hub.close_session(digest, LOGGED_OUT, "logged out"))
        yield
