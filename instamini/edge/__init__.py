"""The edge cache (the CDN): copies of content-addressed media kept close to who reads them.

In a process of its own (`python -m instamini edge`, app.py) or inside an instance
that serves a blob another instance holds:

    cache = EdgeCache(Path("data/edge-cache"), max_bytes=1 << 30)
    await cache.open()
    origins = Origins(["http://10.0.0.2:8000"])
    blob = await cache.get_or_fetch("<sha256>.webp", origins.media)   # then blob.body or blob.chunks(...)

cache.py is the bounded LRU with single flight and the sha256 check; origin.py fetches
with failover; proxy.py passes other requests on; metrics.py reports to Prometheus;
cli.py is the command.

What they raise:

    EdgeError                    the cache could not keep a fetch
    ├── ContentMismatch          the bytes' sha256 is not their name: refused, not cached
    └── TooLargeToCache          the file is larger than the whole cache
    InstaminiError               (instamini.errors) carries the HTTP status
    ├── NotFound            404  not a `<sha256>.<webp|jpg|mp4>` name, or no origin has it
    └── OriginError         502  no origin answered usefully: down, refused, broke off
        └── OriginTimeout   504  an origin took longer than `origin_timeout_seconds`
"""

from .cache import CachedBlob, ContentMismatch, EdgeCache, EdgeError, Fetch, TooLargeToCache
from .origin import OriginError, Origins, OriginTimeout

__all__ = [
    "CachedBlob",
    "ContentMismatch",
    "EdgeCache",
    "EdgeError",
    "Fetch",
    "OriginError",
    "OriginTimeout",
    "Origins",
    "TooLargeToCache",
]
