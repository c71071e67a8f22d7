"""Ranked pages that hold still while you scroll.

The problem: a ranked list is recomputed on every request, and ranking inputs move
between two pages (a like, a new impression, a new post): re-ranking for page 2
would then skip some posts and repeat others. The idea: the first page stores the
whole ranked order (post ids, at most a few hundred) in the cache, per viewer and
surface; later pages (cursor "r<offset>") read that order instead of ranking again.
A new first page replaces it. If the entry is gone (the cache is disposable), the
page is ranked afresh: correct, possibly with a repeat or a gap.

Each entry is (post id, note): Explore notes the source that found the post.

Cost: one LMDB put per first page (about 10 bytes per ranked id), one get per later page.
"""

from __future__ import annotations

from ..stores.cache_base import CacheBackend, CacheTable

TABLE = "ranked_pages"


class RankedSnapshots:
    def __init__(self, cache: CacheBackend) -> None:
        self.table = CacheTable(cache, TABLE, list[tuple[int, str]])

    def save(self, viewer_id: int, surface: str, ranked: list[tuple[int, str]]) -> None:
        self.table.put((viewer_id, surface), ranked)

    def load(self, viewer_id: int, surface: str) -> list[tuple[int, str]] | None:
        return self.table.get((viewer_id, surface))
