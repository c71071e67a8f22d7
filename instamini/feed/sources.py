"""Where feed entries come from when they are not pushed: followees and their recent posts.

The idea: pull and rebuild need two things, whom the viewer follows and what each of
them posted lately. Both are read from SQLite once and kept in LMDB:
- `followees`: whom the viewer follows. Marked stale when the viewer's follows
  change (and reloaded after a few minutes anyway); a reload hands back the old
  list so the feed can apply the difference.
- `author_posts` / `author_reels`: each author's newest posts (see timelines.py), filled
  for many authors at once with one window query per shard (ROW_NUMBER() OVER the
  author's posts, newest first) and then kept up to date as posts come and go.

In a cluster each is read and cached only on its owner: the followees on the
viewer's (a feed page runs there), an author's lists on the author's (other
instances ask through `FeedService.author_pages`).

Cost: on a cold cache, one query for the followees and one per shard for the
authors' posts; warm, a few LMDB reads.
"""

from __future__ import annotations

import msgspec

from ..ids import group_by_shard, shard_of
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.meta import ShardedMeta
from .timelines import Entry, ListState, PostLists, now_ms

# Followee lists are reloaded this often at most, whatever happens.
FOLLOWEES_TTL_MS = 5 * 60 * 1000


class Followees(msgspec.Struct, array_like=True):
    loaded_ms: int
    ids: list[int]


class Sources:
    def __init__(self, meta: ShardedMeta, cache: CacheBackend, author_posts: PostLists, author_reels: PostLists) -> None:
        self.meta = meta
        self.author_posts, self.author_reels = author_posts, author_reels
        self.followee_cache: CacheTable[Followees] = CacheTable(cache, "followees", Followees)
        # Posts made while an author's lists are being loaded: the query may have missed them.
        self._arrived_while_loading: dict[int, list[Entry]] = {}

    # -- whom the viewer follows ----------------------------------------------------------

    async def followees(self, viewer_id: int) -> tuple[Followees, Followees | None]:
        """The viewer's followees, and the list they replace if it was just reloaded (so
        the caller can apply the difference: backfill new authors, drop old ones)."""
        cached = self.followee_cache.get(viewer_id)
        if cached is not None and now_ms() - cached.loaded_ms < FOLLOWEES_TTL_MS:
            return cached, None
        generation = self.followee_cache.generation()
        rows = await self.meta.read(
            shard_of(viewer_id), "SELECT dst FROM edges WHERE src = ? AND kind = 'following'", (viewer_id,)
        )
        followees = Followees(now_ms(), [row["dst"] for row in rows])
        self.followee_cache.fill(viewer_id, followees, generation)
        return followees, cached

    def mark_stale(self, user_id: int) -> bool:
        """The user's follows changed: reload at the next read, keeping the old list to
        compare with. False if nothing was cached (then there is nothing to compare)."""
        cached = self.followee_cache.get(user_id)
        if cached is None:
            return False
        cached.loaded_ms = 0
        self.followee_cache.put(user_id, cached)
        return True

    # -- what authors posted ----------------------------------------------------------------

    def lists_for(self, reels: bool) -> PostLists:
        return self.author_reels if reels else self.author_posts

    async def ensure_authors(self, author_ids: list[int]) -> None:
        """Make sure each author's recent-posts lists are in the cache (both kinds at once)."""
        states = self.author_posts.states_of(author_ids)
        missing = [author for author, state in zip(author_ids, states) if state is None]
        if not missing:
            return
        bound = self.author_posts.bound
        for author in missing:
            self._arrived_while_loading.setdefault(author, [])
        rows = await self.meta.read_by_shard(
            "SELECT id, author_id, kind FROM (SELECT id, author_id, kind, "
            "ROW_NUMBER() OVER (PARTITION BY author_id ORDER BY id DESC) AS n FROM posts "
            f"WHERE author_id IN ({{ids}})) WHERE n <= {bound:d}",
            group_by_shard(missing),
        )
        found: dict[int, list[Entry]] = {author: [] for author in missing}
        for row in rows:
            found[row["author_id"]].append(Entry(row["id"], row["author_id"], row["kind"]))
        for author, entries in found.items():
            entries = sorted(set(entries + self._arrived_while_loading.pop(author, [])), reverse=True)
            self.author_reels.replace(author, [e for e in entries if e.kind == "reel"])
            self.author_posts.replace(author, entries)

    def record_post(self, entry: Entry) -> None:
        """A new post: on its author's lists, if those are cached (else they load later)."""
        if entry.author_id in self._arrived_while_loading:
            self._arrived_while_loading[entry.author_id].append(entry)
        for lists in (self.author_posts, self.author_reels) if entry.kind == "reel" else (self.author_posts,):
            state = lists.state(entry.author_id)
            if state is not None:
                lists.add(entry.author_id, [entry], state)

    def drop_post(self, author_id: int, post_id: int) -> None:
        self.author_posts.remove(author_id, post_id)
        self.author_reels.remove(author_id, post_id)


def is_active(state: ListState | None, inactive_ms: int, stamp: int) -> bool:
    """A timeline worth pushing to: built, and read within the inactivity window."""
    return state is not None and stamp - state.seen_ms < inactive_ms
