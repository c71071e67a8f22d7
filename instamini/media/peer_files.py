"""Media files another instance holds: fetched once, then served from an in-process edge cache.

The idea ("a blob lives on the instance that received it; the others serve it through
the in-process edge cache"): a processed file enters the blob store of the instance
that ran its job, the uploader's owner. Asked for a file it does not hold, an instance
fetches it from the other instances in turn (edge/origin.py: a 404 moves on to the
next), keeps it in a bounded EdgeCache, and serves it exactly as the blob store would,
ETag and Range included (both answer with media/serve.py's `immutable_response`). The
cache keeps only bytes whose sha256 is their name, so no instance can hand out wrong
ones, and a name that is not `<sha256>.<ext>` is a 404 before any disk or network.
An instance asks its peers with an `X-Instamini-Peer` header, which is answered from
the blob store alone: two instances that both lack a file never ask each other in
circles.

The cache has its own directory (`data/media-edge`) and its own bound (`[edge]
in_process_max_size`, least recently used evicted first): the blob store's gc and the
media janitor see only the store's files and counts, so they never delete a cached
copy, and the cache never counts as holding a blob.

Cost: a file held here costs what it always did. One held elsewhere costs a local
look (one thread hop) before the cache; a hit is then the edge's (a dict lookup, the
bytes from memory or one open), a miss one fetch per instance asked until one has
it, shared by every request that wants the same file meanwhile.
"""

from __future__ import annotations

from pathlib import Path

from litestar import Request
from litestar.response.base import ASGIResponse

from ..config import EdgeConfig
from ..edge.app import Edge
from ..edge.cache import EdgeCache
from ..edge.origin import Origins

PEER = "x-instamini-peer"  # set by an instance asking another for a file: "only if you hold it"
DIRECTORY = "media-edge"  # under the data directory; never inside the blob store's


class PeerFiles:
    """`app.state.peer_files` in a cluster (None on a single instance)."""

    def __init__(self, node, data_path: Path, settings: EdgeConfig) -> None:
        others = [instance.url for instance in node.topology.instances if instance.name != node.topology.local]
        cache = EdgeCache(
            data_path / DIRECTORY, settings.in_process_max_bytes,
            memory_bytes=settings.memory_mb << 20, memory_file_bytes=settings.memory_file_kb << 10,
        )
        origins = Origins(
            others, timeout=settings.origin_timeout_seconds, connect_timeout=settings.origin_connect_timeout_seconds,
            headers={PEER: node.name}, trust_env=False,
        )
        self.edge = Edge(cache, origins)

    async def open(self) -> None:
        await self.edge.cache.open()

    async def close(self) -> None:
        await self.edge.origins.aclose()
        await self.edge.cache.close()

    @staticmethod
    def asked_by_peer(request: Request) -> bool:
        return PEER in request.headers

    async def serve(self, name: str, request: Request) -> ASGIResponse:
        """`/media/<name>` from the cache, fetched from the other instances on a miss."""
        return await self.edge.media(name, request)
