"""Search over every shard: people by name, hashtags by their words, a tag's top posts.

The idea: each shard indexes what lives on it (see migrations.py), so a search
scatters one FTS5 query per shard (asyncio.gather of meta.read) and gathers:

- people: each shard returns its best matches (strict tier, then loose, by bm25 with
  the username weighted above the display name, among its first BM25_POOL matches),
  joined by the most-followed people whose names match (notable.py) and the exact
  username if someone has it; the merged list is ranked by exact
  username first, then strict before loose, then a username that starts with the
  first word before a display-name-only match, then followers (cached counters), then
  shorter usernames. bm25 is not compared across shards: its statistics are a
  shard's own. Users blocked either way are left out for a logged-in caller, and
  users hidden from everyone (`graph.is_hidden`: suspended) for every caller.
- hashtags: each shard returns its matching tags with the most posts there; a second
  round asks every shard for the exact counts of those candidates, summed. The exact
  tag comes first, then by total posts.
- a tag's top posts: the newest TOP_WINDOW posts with the tag, ordered by likes plus
  comments (counters), paged by offset ("r<offset>", as the feed's ranked cursor).
  Both tag orders hydrate through PostsService, which drops the posts of authors
  blocked either way or hidden from everyone (suspended); tests/search/test_suspended.py.

In a cluster (docs/cluster.md) each shard is read by its owner: the per-shard reads are
methods marked `@owned_shards`, called once per instance with its shards (`scatter`),
so a search costs one call per instance for people, one for tags and one for totals.

Cost: per search two reads per shard (people, tags) plus one for hashtag totals and
one on the caller's shard for blocks; a top page one read per shard plus cached counters.
"""

from __future__ import annotations

import asyncio
import heapq
import re

from ..accounts.service import AccountsService, UserRecord
from ..cluster.forward import owned_shards, scatter_lists
from ..config import SearchConfig
from ..errors import InvalidInput, NotFound
from ..posts import text
from ..posts.service import PostPage, PostsService
from ..stores.counters import Counters
from ..stores.meta import ShardedMeta
from . import query
from .notable import NotablePeople
from .query import Match

TOP_WINDOW = 200  # the top of a tag is taken among its newest posts
NEWEST = 2**63 - 1  # an id above every post's: `tagged_ids` before it gives the newest
PER_SHARD_FACTOR = 3  # candidates per shard, per result wanted: room for blocked and ties
# bm25 is computed for at most this many matches per shard: a one-letter prefix matches
# thousands, and scoring them all costs tens of ms; the well-known among them come from
# NotablePeople instead, and an exact username from the username index.
BM25_POOL = 200
_PEOPLE = (
    "SELECT * FROM (SELECT id, {tier} AS tier FROM (SELECT rowid AS id, bm25(people_index, 4.0, 1.0) AS score "
    f"FROM people_index WHERE people_index MATCH ? LIMIT {BM25_POOL}) ORDER BY score LIMIT ?)"
)
_TAGS = (
    "SELECT * FROM (SELECT c.tag AS tag, {tier} AS tier FROM tag_index JOIN tag_counts AS c ON c.rowid = tag_index.rowid "
    "WHERE tag_index MATCH ? AND c.posts > 0 ORDER BY c.posts DESC LIMIT ?)"
)
_TAG_SHAPE = re.compile(r"^\w+$")


def tiered_sql(template: str, match: Match, n: int) -> tuple[str, list]:
    """One statement: the strict matches (tier 0), then the loose ones (tier 1) if any."""
    parts, params = [template.format(tier=0)], [match.strict, n]
    if match.loose is not None:
        parts.append(template.format(tier=1))
        params += [match.loose, n]
    return " UNION ALL ".join(parts), params


def best_tiers(found: list[tuple]) -> dict:
    """key -> its best (lowest) tier over every (key, tier) found."""
    tiers: dict = {}
    for key, tier in found:
        tiers[key] = min(tier, tiers.get(key, 9))
    return tiers


def check_tag(tag: str) -> str:
    """The tag as indexed, or NotFound if no post could carry it."""
    tag = text.normal_tag(tag)
    if not _TAG_SHAPE.match(tag) or tag.isdigit() or len(tag) > text.MAX_TAG_CHARS:
        raise NotFound(f"'{tag}' is not a hashtag")
    return tag


def top_offset(cursor: str | None) -> int:
    if not cursor:
        return 0
    if not re.fullmatch(r"r\d{1,6}", cursor):
        raise InvalidInput("cursor is not one this server gave out")
    return int(cursor[1:])


class SearchService:
    def __init__(
        self, meta: ShardedMeta, accounts: AccountsService, counters: Counters, posts: PostsService, config: SearchConfig
    ) -> None:
        self.meta, self.accounts, self.counters, self.posts, self.config = meta, accounts, counters, posts, config
        self.notable = NotablePeople(self._most_followed, accounts)
        self.cluster = None  # a cluster node when this is one of several instances (join_cluster)

    # -- the reads of every shard, each run by the shard's owner (one call per instance) --

    async def _each_shard(self, shards: list[int], sql: str, params: list) -> list:
        per_shard = await asyncio.gather(*(self.meta.read(shard, sql, params) for shard in shards))
        return [row for rows in per_shard for row in rows]

    @owned_shards
    async def people_on(self, shards: list[int], match: Match, n: int) -> list[tuple[int, int]]:
        """(user id, tier) of each shard's best n people for the match."""
        rows = await self._each_shard(shards, *tiered_sql(_PEOPLE, match, n))
        return [(row["id"], row["tier"]) for row in rows]

    @owned_shards
    async def tags_on(self, shards: list[int], match: Match, n: int) -> list[tuple[str, int]]:
        """(tag, tier) of each shard's n matching tags with the most posts there."""
        rows = await self._each_shard(shards, *tiered_sql(_TAGS, match, n))
        return [(row["tag"], row["tier"]) for row in rows]

    @owned_shards
    async def tag_counts_on(self, shards: list[int], tags: list[str]) -> list[tuple[str, int]]:
        marks = ",".join("?" * len(tags))
        rows = await self._each_shard(shards, f"SELECT tag, posts FROM tag_counts WHERE tag IN ({marks})", tags)
        return [(row["tag"], row["posts"]) for row in rows]

    @owned_shards
    async def most_followed_on(self, shards: list[int], n: int) -> list[tuple[int, int]]:
        """(user id, followers) of each shard's n most-followed people."""
        sql = "SELECT object_id, value FROM counters WHERE name = 'followers' AND value > 0 ORDER BY value DESC LIMIT ?"
        rows = await self._each_shard(shards, sql, [n])
        return [(row[0], row[1]) for row in rows]

    async def _most_followed(self, n: int) -> list[tuple[int, int]]:
        return await scatter_lists(self, self.most_followed_on, n)

    # -- search ----------------------------------------------------------------------

    async def search(self, viewer_id: int | None, typed: str) -> tuple[list[UserRecord], list[tuple[str, int]]]:
        if len(typed) > self.config.max_query_chars:
            raise InvalidInput(f"q: at most {self.config.max_query_chars} characters (got {len(typed)})")
        match = query.parse(typed)
        if match is None:
            return [], []
        exact = typed.strip().lower()
        return await asyncio.gather(
            self.people(viewer_id, match, exact.removeprefix("@")), self.hashtags(match, text.normal_tag(exact))
        )

    async def people(self, viewer_id: int | None, match: Match, exact: str) -> list[UserRecord]:
        n = self.config.results_per_kind
        tiers = best_tiers(await scatter_lists(self, self.people_on, match, n * PER_SHARD_FACTOR))
        for user_id in self.notable.matching(match.tokens)[: n * PER_SHARD_FACTOR]:
            tiers[user_id] = 0
        exact_id = await self.accounts.id_for_username(exact) if exact else None
        if exact_id is not None:
            tiers[exact_id] = 0
        graph = self.posts.graph
        hidden = await graph.hidden_from(viewer_id, list(tiers))
        users = await self.accounts.get_users([i for i in tiers if i not in hidden and not graph.is_hidden(i)])
        counts = await self.counters.get_many(list(users))
        first = match.tokens[0]

        def rank(user: UserRecord) -> tuple:
            followers = counts.get(user.id, {}).get("followers", 0)
            name = user.username
            return (name != exact, tiers[user.id], not name.startswith(first), -followers, len(name), name)

        return sorted(users.values(), key=rank)[:n]

    async def hashtags(self, match: Match, exact: str) -> list[tuple[str, int]]:
        n = self.config.results_per_kind
        tiers = best_tiers(await scatter_lists(self, self.tags_on, match, n * PER_SHARD_FACTOR))
        totals = await self.tag_totals(list(tiers))
        ranked = sorted(tiers, key=lambda tag: (tag != exact, tiers[tag], -totals.get(tag, 0), tag))
        return [(tag, totals[tag]) for tag in ranked if totals.get(tag, 0) > 0][:n]

    async def tag_totals(self, tags: list[str]) -> dict[str, int]:
        """Each tag's post count summed over every shard."""
        if not tags:
            return {}
        totals: dict[str, int] = {}
        for tag, posts in await scatter_lists(self, self.tag_counts_on, tags):
            totals[tag] = totals.get(tag, 0) + posts
        return totals

    # -- a tag's posts ---------------------------------------------------------------

    async def tag_posts(self, viewer_id: int | None, tag: str, order: str, cursor: str | None, limit: int) -> PostPage:
        tag = check_tag(tag)
        if order == "recent":
            return await self.posts.posts_with_tag(tag, viewer_id, cursor, limit)
        offset = top_offset(cursor)
        ranked = await self.top_ids(tag)
        views = await self.posts.hydrate(viewer_id, ranked[offset : offset + limit])
        more = offset + limit < len(ranked)
        return PostPage(views, f"r{offset + limit}" if more else None)

    async def top_ids(self, tag: str) -> list[int]:
        """The newest TOP_WINDOW posts with the tag, most likes plus comments first (newer on ties)."""
        newest = heapq.nlargest(TOP_WINDOW, await scatter_lists(self, self.posts.tagged_ids, tag, NEWEST, TOP_WINDOW))
        counts = await self.counters.get_many(newest)

        def score(post_id: int) -> int:
            return counts.get(post_id, {}).get("likes", 0) + counts.get(post_id, {}).get("comments", 0)

        return sorted(newest, key=lambda post_id: (-score(post_id), -post_id))
