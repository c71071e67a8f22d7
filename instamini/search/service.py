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

Cost: per search two reads per shard (people, tags) plus one for hashtag totals and
one on the caller's shard for blocks; a top page one read per shard plus cached counters.
"""

from __future__ import annotations

import asyncio
import heapq
import re

from ..accounts.service import AccountsService, UserRecord
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


def best_tiers(rows: list, key: str) -> dict:
    """key -> its best (lowest) tier over all rows."""
    tiers: dict = {}
    for row in rows:
        tiers[row[key]] = min(row["tier"], tiers.get(row[key], 9))
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
        self.notable = NotablePeople(meta, accounts)

    async def _scatter(self, sql: str, params: list) -> list:
        per_shard = await asyncio.gather(*(self.meta.read(s, sql, params) for s in range(self.meta.shard_count)))
        return [row for rows in per_shard for row in rows]

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
        tiers = best_tiers(await self._scatter(*tiered_sql(_PEOPLE, match, n * PER_SHARD_FACTOR)), "id")
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
        tiers = best_tiers(await self._scatter(*tiered_sql(_TAGS, match, n * PER_SHARD_FACTOR)), "tag")
        totals = await self.tag_totals(list(tiers))
        ranked = sorted(tiers, key=lambda tag: (tag != exact, tiers[tag], -totals.get(tag, 0), tag))
        return [(tag, totals[tag]) for tag in ranked if totals.get(tag, 0) > 0][:n]

    async def tag_totals(self, tags: list[str]) -> dict[str, int]:
        """Each tag's post count summed over every shard."""
        if not tags:
            return {}
        marks = ",".join("?" * len(tags))
        totals: dict[str, int] = {}
        for row in await self._scatter(f"SELECT tag, posts FROM tag_counts WHERE tag IN ({marks})", tags):
            totals[row["tag"]] = totals.get(row["tag"], 0) + row["posts"]
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
        rows = await self._scatter(
            "SELECT post_id FROM post_tags WHERE tag = ? ORDER BY post_id DESC LIMIT ?", [tag, TOP_WINDOW]
        )
        newest = heapq.nlargest(TOP_WINDOW, (row["post_id"] for row in rows))
        counts = await self.counters.get_many(newest)

        def score(post_id: int) -> int:
            return counts.get(post_id, {}).get("likes", 0) + counts.get(post_id, {}).get("comments", 0)

        return sorted(newest, key=lambda post_id: (-score(post_id), -post_id))
