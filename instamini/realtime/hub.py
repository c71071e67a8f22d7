"""The hub: which sockets each user has open, and pushing frames to them.

The idea: a message or a notification is for a *user*, who may have several devices
connected; the hub maps user ids to their open sockets and puts the frame (already
encoded, once) on each socket's queue. A queue is bounded: a client that does not read
(a phone in a tunnel, a hostile script) has its socket closed when its queue is full,
so memory never grows with a slow reader, and everyone else is unaffected. Publishing
never waits.

This is the in-process backend. Its interface is `publish(user_ids, frame)`, so the
scale-out issue can put a cross-instance backend behind the same call (the Litestar
channels plugin with a Redis or Postgres backend, or our own RPC) without changing the
modules that publish.

Cost: a dict lookup per user and a `put_nowait` per socket per frame.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Protocol


class Socket(Protocol):
    """What the hub needs of a connection (the gateway's Connection)."""

    user_id: int
    token_digest: bytes
    queue: asyncio.Queue

    def overflow(self) -> None: ...

    def close_soon(self, code: int, reason: str) -> None: ...


class Hub:
    def __init__(self) -> None:
        self._sockets: dict[int, set[Socket]] = {}
        self.published = self.delivered = self.dropped_slow = 0

    # -- connections -------------------------------------------------------------------

    def add(self, socket: Socket) -> None:
        self._sockets.setdefault(socket.user_id, set()).add(socket)

    def remove(self, socket: Socket) -> None:
        sockets = self._sockets.get(socket.user_id)
        if sockets is not None:
            sockets.discard(socket)
            if not sockets:
                del self._sockets[socket.user_id]

    def connections(self, user_id: int | None = None) -> int:
        if user_id is not None:
            return len(self._sockets.get(user_id, ()))
        return sum(len(sockets) for sockets in self._sockets.values())

    def users_online(self) -> int:
        return len(self._sockets)

    # -- pushing -----------------------------------------------------------------------

    def publish(self, user_ids: Iterable[int], frame: bytes, *, skip: Socket | None = None) -> int:
        """Queue `frame` on every socket of these users (but `skip`); returns how many."""
        self.published += 1
        queued = 0
        for user_id in user_ids:
            for socket in list(self._sockets.get(user_id, ())):
                if socket is skip:
                    continue
                try:
                    socket.queue.put_nowait(frame)
                    queued += 1
                except asyncio.QueueFull:
                    self.dropped_slow += 1
                    socket.overflow()
        self.delivered += queued
        return queued

    # -- closing -----------------------------------------------------------------------

    def close_session(self, token_digest: bytes, code: int, reason: str) -> int:
        """Close the sockets opened with this session token (logging out)."""
        closed = 0
        for sockets in list(self._sockets.values()):
            for socket in list(sockets):
                if socket.token_digest == token_digest:
                    socket.close_soon(code, reason)
                    closed += 1
        return closed

    def close_user(self, user_id: int, code: int, reason: str) -> int:
        sockets = list(self._sockets.get(user_id, ()))
        for socket in sockets:
            socket.close_soon(code, reason)
        return len(sockets)
