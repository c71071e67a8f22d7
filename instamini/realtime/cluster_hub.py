"""The hub's cross-instance backend: a frame for someone connected to another instance goes there.

The idea: in a cluster a person's phone may hold its socket on one instance and their
laptop on another, and the message for them may be sent through a third. Each instance
keeps only its own sockets (the Hub it extends); `publish` delivers to them and forwards
the same encoded frame to every other instance, which delivers it to ITS sockets and
never forwards again (so a frame cannot loop). Closing a session's or a user's sockets
(logging out, a suspension) is forwarded the same way.

Forwarding never makes the publisher wait: each other instance has its own sender task
and a bounded queue. What queues up while a request is in flight goes in the next one,
so a busy instance sends a batch per round trip, not a request per frame; an instance
that is down holds up only its own queue, whose oldest frames are dropped (and counted)
when it is full. That is enough for frames, which are live signals only: a message or a
notification is stored before it is pushed, and a client that reconnects reads them.

Cost: on a single instance nothing (the plain Hub is used). With N instances, one
signed RPC request per other instance per round trip, carrying every frame since the
last; no presence directory (a frame goes to every instance, which is fine for the
handful of instances this program runs as).
"""

from __future__ import annotations

import asyncio
import collections
import logging
from collections.abc import Iterable

import msgspec

from ..cluster import RpcError
from .hub import Hub, Socket

log = logging.getLogger(__name__)
PROCEDURE = "realtime.deliver"


class Publish(msgspec.Struct, tag="publish", array_like=True):
    user_ids: list[int]
    frame: bytes


class CloseSession(msgspec.Struct, tag="close_session", array_like=True):
    token_digest: bytes
    code: int
    reason: str


class CloseUser(msgspec.Struct, tag="close_user", array_like=True):
    user_id: int
    code: int
    reason: str


Forwarded = Publish | CloseSession | CloseUser


class ClusterHub(Hub):
    """A Hub whose publishes and closes also reach the sockets held by the other instances."""

    def __init__(self, node, *, max_queued: int = 10_000, max_batch: int = 500, background: bool = True) -> None:
        super().__init__()
        self.node = node  # the ClusterNode: its map names the other instances, its client reaches them
        self.max_queued, self.max_batch = max_queued, max_batch
        self.background = background  # False in tests, which step the senders with run_once()
        self._queues: dict[str, collections.deque[Forwarded]] = {}
        self._wakeups: dict[str, asyncio.Event] = {}
        self._senders: list[asyncio.Task] = []
        self.forwarded = self.forward_failed = self.dropped_queue_full = self.received = 0

    # -- the procedure the other instances call --------------------------------------

    def register(self) -> None:
        async def deliver(items: list[Forwarded]) -> int:
            """Deliver what another instance forwarded, to this instance's sockets only."""
            self.received += len(items)
            delivered = 0
            for item in items:
                if isinstance(item, Publish):
                    delivered += Hub.publish(self, item.user_ids, item.frame)
                elif isinstance(item, CloseSession):
                    delivered += Hub.close_session(self, item.token_digest, item.code, item.reason)
                else:
                    delivered += Hub.close_user(self, item.user_id, item.code, item.reason)
            return delivered

        self.node.procedures.register(PROCEDURE, deliver)

    # -- the same calls as the Hub's, forwarded too -----------------------------------

    def publish(self, user_ids: Iterable[int], frame: bytes, *, skip: Socket | None = None) -> int:
        user_ids = list(user_ids)
        queued = super().publish(user_ids, frame, skip=skip)
        self._forward(Publish(user_ids, frame))
        return queued

    def close_session(self, token_digest: bytes, code: int, reason: str) -> int:
        closed = super().close_session(token_digest, code, reason)
        self._forward(CloseSession(token_digest, code, reason))
        return closed

    def close_user(self, user_id: int, code: int, reason: str) -> int:
        closed = super().close_user(user_id, code, reason)
        self._forward(CloseUser(user_id, code, reason))
        return closed

    # -- forwarding ---------------------------------------------------------------------

    def _others(self) -> list[str]:
        topology = self.node.topology
        return [name for name in topology.names if name != topology.local]

    def _forward(self, item: Forwarded) -> None:
        for name in self._others():
            queue = self._queues.setdefault(name, collections.deque())
            if len(queue) >= self.max_queued:  # that instance is down or slow: keep the newest
                queue.popleft()
                self.dropped_queue_full += 1
            queue.append(item)
            if not self.background:
                continue
            if name not in self._wakeups:
                self._start_sender(name)
            self._wakeups[name].set()

    def _start_sender(self, name: str) -> None:
        self._wakeups[name] = asyncio.Event()
        self._senders.append(asyncio.get_running_loop().create_task(self._send_forever(name), name=f"hub-to-{name}"))

    async def _send_forever(self, name: str) -> None:
        while True:
            await self._wakeups[name].wait()
            self._wakeups[name].clear()
            while await self.run_once(name):
                pass

    async def run_once(self, name: str) -> int:
        """Send one batch of what waits for instance `name`; returns how many items it held."""
        queue = self._queues.get(name)
        if not queue:
            return 0
        batch = [queue.popleft() for _ in range(min(len(queue), self.max_batch))]
        try:
            # Not idempotent (a frame shown twice is a glitch), so a timeout is not retried;
            # a connection that never opened is, by the client, since nothing was sent.
            await self.node.client.call(name, PROCEDURE, batch, result_type=int)
            self.forwarded += len(batch)
        except RpcError as error:
            self.forward_failed += len(batch)
            log.warning("live frames for instance %s dropped (%d): %s", name, len(batch), error)
        return len(batch)

    async def close(self) -> None:
        for task in self._senders:
            task.cancel()
        await asyncio.gather(*self._senders, return_exceptions=True)
        self._senders.clear()
