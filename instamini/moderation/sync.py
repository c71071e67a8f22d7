"""Keeping every instance's copy of moderation's lists in step (a cluster only).

The idea: the suspended set, the media blocklist and the spam model are consulted on
every request, upload or comment, so every instance keeps them in memory; each is
stored on its owners' shards (suspensions on each user's, the other two on shard 0's).
After a change, the instance that made it tells every other one what changed
("suspensions", "blocklist", "spam"), and each reloads that piece from its owners
before it answers; so once an admin's request is answered, every instance that
answered applies the change (a suspended user's token stops working everywhere).
An instance that was down or did not answer catches up at its next refresh:
`run_once()` reloads all three, every REFRESH_SECONDS in the background.

Cost: per change one small RPC to each other instance, each of which then reloads one
piece (one call per instance for the suspensions, one to shard 0's owner otherwise).
Per refresh, the same for all three pieces.
"""

from __future__ import annotations

import logging

from ..background import every
from ..cluster.errors import RpcError
from ..errors import InstaminiError

log = logging.getLogger(__name__)

CHANGED = "moderation.changed"
REFRESH_SECONDS = 30
PIECES = ("suspensions", "blocklist", "spam")


class ModerationSync:
    def __init__(self, node, moderation, blocklist, spam) -> None:
        self.node = node
        self.loaders = {"suspensions": moderation.load, "blocklist": blocklist.load, "spam": spam.load}
        for service in (moderation, blocklist, spam):
            service.announce = self.announce
        self.told = self.refreshed = 0

        async def changed(what: str) -> None:
            """Another instance changed `what`: reload it before answering."""
            self.told += 1
            await self.loaders[what]()

        node.procedures.register(CHANGED, changed)

    async def announce(self, what: str) -> None:
        """Tell every other instance; one that does not answer catches up at its refresh."""
        from ..cluster.rpc_client import RpcCall

        topology = self.node.topology
        others = [name for name in topology.names if name != topology.local]
        results = await self.node.client.fan_out(
            [(name, RpcCall(CHANGED, what, None)) for name in others], idempotent=True, return_errors=True
        )
        for name, result in zip(others, results):
            if isinstance(result, Exception):
                log.warning("instance %s was not told that %s changed: %s", name, what, result)

    async def run_once(self) -> int:
        """Reload every piece from its owners; returns how many were reloaded."""
        reloaded = 0
        for what in PIECES:
            try:
                await self.loaders[what]()
                reloaded += 1
            except (RpcError, InstaminiError) as error:  # an owner is down: keep the old copy
                log.warning("could not reload %s: %s", what, error)
        self.refreshed += 1
        return reloaded

    async def run_forever(self) -> None:
        await every(REFRESH_SECONDS, self.run_once, "moderation refresh")
