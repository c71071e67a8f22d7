"""Posts: photos, carousels and reels; create, read, edit, delete, and pages of them.

The idea: a post lives on its author's shard beside the media it shows, so making
one is ONE transaction that writes the post, claims the uploads, indexes its
hashtags and mentions, bumps the author's post count and runs the
`in_create_transaction` callables other modules hand in (the feed's fan-out
outbox row goes there: it exists if and only if the post does). A bad media id
rolls all of it back. Deleting is one transaction too; the blobs the media held
are let go after it commits.

Reading is cache-aside: a post with its media is one LMDB entry (table "posts"),
and a page of posts is hydrated in batches whatever its length: posts and media
(one query per shard, for cache misses only), authors and counters (their
caches), the viewer's likes and saves (cached yes/no answers; see ViewerFlags).

Visibility: a post is shown to whoever may see its author's content (public
account, or an approved follower of a private one, or the author), and never
across a block in either direction. Hidden and missing posts get the same 404.

In a cluster (docs/cluster.md) everything about a post is its author's owner's: a
create, an edit or a delete runs there, in the same one transaction, and a profile
grid runs there. Hydration runs on the viewer's owner (their relationships and saves
are there) and asks each other instance that holds some of the page's posts ONE
question, `load_owned`: cards, authors, counters, the viewer's likes and the
mentioned names, all that owner holds. A tag page scatters one call per instance.

Cost: creating is one transaction plus a name lookup per @mention; a hot read of
a post, or of a page of them, is LMDB lookups only. In a cluster, a page (or one
post) costs one round trip (about 1 ms) to each other instance that holds some of
its posts, all at once, plus one to the viewer's owner when the request is
elsewhere; mentioned names are kept by id for good (they never change), so they
cost no trip of their own.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import sqlite3
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence

import msgspec

from ..accounts.service import AccountsService, UserRecord
from ..cluster.forward import owned, owned_batch, owned_shards, scatter
from ..config import PostsConfig
from ..errors import Forbidden, InvalidInput, NotFound
from ..graph.service import GraphService
from ..ids import IdGenerator, shard_of
from ..media import records as media_records
from ..stores.blobs import BlobStore
from ..stores.cache_base import CacheBackend, CacheTable
from ..stores.counters import Counters, bump
from ..stores.meta import ShardedMeta
from . import records, text
from .records import PostCard, PostRecord, as_card
from .pages import OwnedPost, PostPage, PostView, decode_cursor  # noqa: F401 (imported from here by other modules)
from .reactions import ViewerFlags

KINDS = ("post", "reel")
NEWEST = (1 << 63) - 1  # a cursor before every id
# A page skips posts hidden from the viewer; it asks for more rows at most this many
# times, then returns what it has with a cursor, so one request's work stays bounded.
MAX_PAGE_ROUNDS = 5


# (before, n) -> up to n (position, post_id) pairs, newest first, positions < before.
FetchNewest = Callable[[int, int], Awaitable[list[tuple[int, int]]]]
# Runs inside the create transaction, on the author's shard; raising rolls the post back.
CreateHook = Callable[[sqlite3.Connection, PostRecord], None]

def _newest(lists: Iterable[list[int]], n: int) -> list[int]:
    """The n largest ids of lists that are each newest first (so each list's n newest hold
    all it adds to the first n overall)."""
    return list(itertools.islice(heapq.merge(*lists, reverse=True), n))


def check_length(field: str, value: str, limit: int) -> None:
    if len(value) > limit:
        raise InvalidInput(f"{field}: at most {limit} characters (got {len(value)})")


class PostsService:
    def __init__(
        self,
        meta: ShardedMeta,
        cache: CacheBackend,
        ids: IdGenerator,
        accounts: AccountsService,
        graph: GraphService,
        counters: Counters,
        blobs: BlobStore,
        config: PostsConfig,
        emit: Callable[..., None],
        in_create_transaction: Sequence[CreateHook] = (),
    ) -> None:
        self.meta, self.ids, self.accounts, self.graph = meta, ids, accounts, graph
        self.counters, self.blobs, self.config, self.emit = counters, blobs, config, emit
        self.post_cache: CacheTable[PostRecord] = CacheTable(cache, "posts", PostRecord)
        self.card_cache: CacheTable[PostCard] = CacheTable(cache, "posts", PostCard)  # the same entries, media left encoded
        self.flags = ViewerFlags(meta, cache)
        # Later modules append here at their start (the feed: its fan-out outbox row).
        self.in_create_transaction: list[CreateHook] = list(in_create_transaction)
        # Called right after the commit, before the response, so caches follow at once.
        self.after_create: list[Callable[[PostRecord], None]] = []
        self.after_delete: list[Callable[[int, int], None]] = []  # (author_id, post_id)
        # Where the profile grid reads from: SQLite, unless a module offers a cached list.
        self.grid_source: Callable[[int], Awaitable[FetchNewest]] | None = None
        # The cluster node when this instance is one of several (cluster/forward.py): the
        # methods marked @owned / @owned_batch run on the instance that owns the post's shard.
        self.cluster = None

    # -- reading ---------------------------------------------------------------------

    @owned_batch
    async def load_records(self, post_ids: Iterable[int]) -> dict[int, PostRecord]:
        """Posts with their media by id, cached; missing ones are left out. In a cluster each
        owner loads (and caches) its own share, one call per instance."""
        # An id from a URL may name a shard that this data directory does not have.
        known = [post_id for post_id in post_ids if shard_of(post_id) < self.meta.shard_count]
        return await self.post_cache.get_or_load(known, lambda missing: records.load_posts(self.meta, missing))

    @owned_batch
    async def load_cards(self, post_ids: Iterable[int]) -> dict[int, PostCard]:
        """Posts for showing (media still encoded), cached; missing ones are left out."""
        known = [post_id for post_id in post_ids if shard_of(post_id) < self.meta.shard_count]

        async def load(missing: list[int]) -> dict[int, PostCard]:
            loaded = await records.load_posts(self.meta, missing)
            return {post_id: as_card(record) for post_id, record in loaded.items()}

        return await self.card_cache.get_or_load(known, load)

    async def _visible_authors(self, viewer_id: int | None, authors: Iterable[UserRecord]) -> set[int]:
        """The ids of those whose content the viewer may see: not blocked either way, and
        public, or followed by the viewer, or the viewer themself."""

        async def visible(author: UserRecord) -> bool:
            if viewer_id is not None and viewer_id != author.id:
                if (await self.graph.relationship(viewer_id, author.id)).hidden:
                    return False
            return await self.graph.can_see_content(viewer_id, author)

        # One after another, not gathered: each is an LMDB hit almost always, and a task
        # per author would cost more than the lookup.
        return {author.id for author in authors if await visible(author)}

    @owned(lambda self, viewer_id, post_id: shard_of(post_id))
    async def visible_post(self, viewer_id: int | None, post_id: int) -> PostRecord:
        """The post, or NotFound if it is missing or hidden from the viewer (the same answer)."""
        record = (await self.load_records([post_id])).get(post_id)
        author = await self.accounts.get_user(record.author_id) if record is not None else None
        if author is None or not await self._visible_authors(viewer_id, [author]):
            raise NotFound(f"no post {post_id}")
        return record

    async def sees(self, viewer_id: int | None, post_id: int) -> bool:
        """Whether the viewer may see the post (visible_post without the exception)."""
        try:
            await self.visible_post(viewer_id, post_id)
        except NotFound:
            return False
        return True

    # Hydration runs where the viewer lives, where their relationships and saves are, and asks
    # each other owner of the page's posts once for everything it holds of them (load_owned).
    # An anonymous viewer has nothing anywhere: it runs where it is called (-1: no shard's).
    @owned(lambda self, viewer_id, *_, **__: shard_of(viewer_id) if viewer_id is not None else -1)
    async def hydrate(
        self, viewer_id: int | None, post_ids: list[int], known_visible: set[int] | None = None
    ) -> list[PostView]:
        """The posts as the viewer sees them, in the given order, without missing or hidden ones.

        `known_visible`: authors the caller knows the viewer may see (the feed: whom they
        follow, which excludes blocks); their relationship is not looked up again.
        """
        # In a cluster, the posts of an instance that does not answer are left out of the page
        # (`partial`), not the whole page refused: the rest of the network is still there.
        found = await self.load_owned(post_ids, viewer_id, partial=True)
        authors = {post.author.id: post.author for post in found.values()}
        # A known author may still be hidden from everyone since (suspended): a set lookup.
        known = {i for i in known_visible or () if not self.graph.is_hidden(i)}
        unknown = [author for author_id, author in authors.items() if author_id not in known]
        visible = (authors.keys() & known) | await self._visible_authors(viewer_id, unknown)
        shown = [found[i] for i in dict.fromkeys(post_ids) if i in found and found[i].author.id in visible]
        saved = set(await self.flags.saved(viewer_id, [post.card.id for post in shown])) if viewer_id is not None and shown else set()
        return [
            PostView(
                record=post.card,
                author=post.author,
                mentions=post.mentions,
                like_count=post.like_count,
                comment_count=post.comment_count,
                liked=post.liked,
                saved=post.card.id in saved,
            )
            for post in shown
        ]

    @owned_batch
    async def load_owned(self, post_ids: Iterable[int], viewer_id: int | None) -> dict[int, OwnedPost]:
        """What the owner of the posts holds of them for one viewer, gathered in one place:
        card and author (a post lives on its author's shard), counters, the viewer's like,
        and the names it mentions. Missing posts are left out."""
        cards = await self.load_cards(post_ids)
        if not cards:
            return {}
        authors = await self.accounts.get_users({card.author_id for card in cards.values()})
        names = await self.accounts.usernames_of(user_id for card in cards.values() for user_id in card.mention_ids)
        ids = list(cards)
        counts = await self.counters.get_many(ids)
        liked = await self.flags.liked(ids, viewer_id) if viewer_id is not None else {}
        return {
            post_id: OwnedPost(
                card=card,
                author=authors[card.author_id],
                mentions=[names[user_id] for user_id in card.mention_ids if user_id in names],
                like_count=counts.get(post_id, {}).get("likes", 0),
                comment_count=counts.get(post_id, {}).get("comments", 0),
                liked=post_id in liked,
            )
            for post_id, card in cards.items()
            if card.author_id in authors
        }

    async def get(self, viewer_id: int | None, post_id: int) -> PostView:
        views = await self.hydrate(viewer_id, [post_id])
        if not views:
            raise NotFound(f"no post {post_id}")
        return views[0]

    async def visible_page(
        self, viewer_id: int | None, fetch: FetchNewest, cursor: str | None, limit: int, known_visible: set[int] | None = None
    ) -> PostPage:
        """A page of posts newest first from `fetch`, skipping those the viewer may not see
        (deleted since, or hidden): it asks `fetch` again to fill the page, a few times."""
        before = decode_cursor(cursor, NEWEST)
        shown: list[PostView] = []
        for _ in range(MAX_PAGE_ROUNDS):
            wanted = limit - len(shown)
            rows = await fetch(before, wanted + 1)  # one more than wanted: is there a next page?
            more = len(rows) > wanted
            rows = rows[:wanted]
            shown += await self.hydrate(viewer_id, [post_id for _, post_id in rows], known_visible)
            if not more:
                return PostPage(shown, None)
            before = rows[-1][0]
            if len(shown) == limit:
                break
        return PostPage(shown, str(before))

    # Run where the user lives (their username's shard): every post of the grid is there.
    @owned(lambda self, viewer_id, username, *_: self.meta.shard_for_text(username.lower()))
    async def profile_grid(self, viewer_id: int | None, username: str, cursor: str | None, limit: int) -> PostPage:
        """Someone's posts, newest first, if the viewer may see them."""
        owner = await self.graph.visible_user(viewer_id, username)
        if not await self.graph.can_see_content(viewer_id, owner):
            raise Forbidden(f"'{owner.username}' is private: follow them to see their posts")

        async def newest(before: int, n: int) -> list[tuple[int, int]]:
            return await self.author_post_ids(owner.id, before, n)

        return await self.visible_page(viewer_id, newest, cursor, limit)

    @owned(lambda self, author_id, *_: shard_of(author_id))
    async def author_post_ids(self, author_id: int, before: int, n: int) -> list[tuple[int, int]]:
        """(position, post id) of the author's n newest posts before `before`: from the cached
        list a module offers (`grid_source`, the feed's), else from SQLite. On the author's
        owner, whose shard and cache hold them."""
        if self.grid_source is not None:
            return await (await self.grid_source(author_id))(before, n)
        rows = await self.meta.read(
            shard_of(author_id),
            "SELECT id FROM posts WHERE author_id = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (author_id, before, n),
        )
        return [(row["id"], row["id"]) for row in rows]

    async def posts_with_tag(self, tag: str, viewer_id: int | None, cursor: str | None, limit: int) -> PostPage:
        """Posts with a hashtag, newest first: scatter to every shard (one call per instance),
        gather, merge by id."""
        tag = text.normal_tag(tag)

        async def newest(before: int, n: int) -> list[tuple[int, int]]:
            per_owner = await scatter(self, self.tagged_ids, tag, before, n)
            return [(post_id, post_id) for post_id in _newest(per_owner, n)]

        return await self.visible_page(viewer_id, newest, cursor, limit)

    @owned_shards
    async def tagged_ids(self, shards: list[int], tag: str, before: int, n: int) -> list[int]:
        """The n newest ids before `before` of posts with the tag on `shards` (all one owner's)."""
        per_shard = await asyncio.gather(
            *(
                self.meta.read(
                    shard,
                    "SELECT post_id FROM post_tags WHERE tag = ? AND post_id < ? ORDER BY post_id DESC LIMIT ?",
                    (tag, before, n),
                )
                for shard in shards
            )
        )
        return _newest([[row["post_id"] for row in rows] for rows in per_shard], n)

    # -- changing (each on the owner of the post's shard, its author's) --------------

    def _check_caption(self, caption: str) -> None:
        check_length("caption", caption, self.config.max_caption_chars)

    def _check_alt_texts(self, alt_texts: dict[int, str]) -> None:
        for alt_text in alt_texts.values():
            check_length("alt_texts", alt_text, self.config.max_alt_text_chars)

    async def resolve_mentions(self, content: str, limit: int) -> list[int]:
        """Ids of the existing users that a text @mentions; unknown names are just text."""
        names = text.mentioned_names(content, limit)
        found = await asyncio.gather(*(self.accounts.id_for_username(name) for name in names))
        for name, user_id in zip(names, found):
            if user_id is not None:  # so that showing the post needs no lookup of the name
                self.accounts.remember_username(user_id, name.lower())
        return list(dict.fromkeys(user_id for user_id in found if user_id is not None))

    async def _terms(self, caption: str) -> tuple[list[str], list[int]]:
        tags = text.hashtags(caption, self.config.max_hashtags)
        return tags, await self.resolve_mentions(caption, self.config.max_mentions)

    @owned(lambda self, author_id, *_, **__: shard_of(author_id))
    async def create(
        self,
        author_id: int,
        caption: str,
        media_ids: Sequence[int],
        kind: str = "post",
        alt_texts: dict[int, str] | None = None,
        idempotency_key: str | None = None,
    ) -> PostView:
        """A new post of the author's ready, unused uploads. With an idempotency key, a
        retry of a create that already happened returns that post instead of a second one."""
        alt_texts = alt_texts or {}
        if kind not in KINDS:
            raise InvalidInput(f"kind: one of {', '.join(KINDS)}")
        if not 1 <= len(media_ids) <= self.config.max_items:
            raise InvalidInput(f"media_ids: 1 to {self.config.max_items} items")
        if kind == "reel" and len(media_ids) != 1:
            raise InvalidInput("media_ids: a reel is exactly one video")
        self._check_caption(caption)
        self._check_alt_texts(alt_texts)
        tags, mention_ids = await self._terms(caption)
        post_id = self.ids.next_id(shard_of(author_id))

        def insert(conn: sqlite3.Connection) -> tuple[PostRecord | None, int]:
            if idempotency_key is not None:
                earlier_id = records.earlier_post(conn, author_id, idempotency_key)
                if earlier_id is not None:
                    return None, earlier_id
            media = media_records.claim_for_post(conn, author_id, media_ids, post_id)
            if kind == "reel" and media[0].kind != "video":
                raise InvalidInput(f"media_ids: a reel is a video, and {media[0].id} is not one")
            if alt_texts:
                media_records.set_alt_texts(conn, post_id, alt_texts)
                media = [msgspec.structs.replace(m, alt_text=alt_texts.get(m.id, m.alt_text)) for m in media]
            record = PostRecord(post_id, author_id, kind, caption, tags, mention_ids, None, media)
            records.insert_post(conn, record, idempotency_key)
            bump(conn, author_id, "posts", 1)
            for hook in self.in_create_transaction:
                hook(conn, record)
            return record, post_id

        record, made_id = await self.meta.write(shard_of(author_id), insert)
        if record is not None:
            self.post_cache.put(made_id, record)
            self.counters.invalidate(author_id)
            for callback in self.after_create:
                callback(record)
            self.emit("post.created", post_id=made_id, author_id=author_id, kind=kind, hashtags=tags, mentioned_ids=mention_ids)
        return await self.get(author_id, made_id)

    async def _own_post(self, viewer_id: int, post_id: int) -> PostRecord:
        record = await self.visible_post(viewer_id, post_id)
        if record.author_id != viewer_id:
            raise Forbidden("only its author may change or delete a post")
        return record

    @owned(lambda self, viewer_id, post_id, *_, **__: shard_of(post_id))
    async def edit(
        self, viewer_id: int, post_id: int, caption: str | None = None, alt_texts: dict[int, str] | None = None
    ) -> PostView:
        """Change the caption (hashtags and mentions are indexed again) and/or alt texts."""
        await self._own_post(viewer_id, post_id)
        if caption is None and not alt_texts:
            return await self.get(viewer_id, post_id)
        if caption is not None:
            self._check_caption(caption)
            tags, mention_ids = await self._terms(caption)
        self._check_alt_texts(alt_texts or {})

        def update(conn: sqlite3.Connection) -> tuple[list[str], list[int]]:
            terms = records.current_terms(conn, post_id)  # and NotFound if deleted meanwhile
            if caption is not None:
                records.set_caption(conn, post_id, caption, tags, mention_ids)
                terms = tags, mention_ids
            if alt_texts:
                media_records.set_alt_texts(conn, post_id, alt_texts)
            records.mark_edited(conn, post_id, time.time_ns() // 1_000_000)
            return terms

        now_tags, now_mentions = await self.meta.write(shard_of(post_id), update)
        self.post_cache.delete(post_id)
        fields = ["caption"] * (caption is not None) + ["alt_texts"] * bool(alt_texts)
        self.emit(
            "post.updated", post_id=post_id, author_id=viewer_id, fields=fields, hashtags=now_tags, mentioned_ids=now_mentions
        )
        return await self.get(viewer_id, post_id)

    @owned(lambda self, viewer_id, post_id: shard_of(post_id))
    async def delete(self, viewer_id: int, post_id: int) -> None:
        """Delete one of the viewer's posts with its media, likes, comments and index rows."""
        await self._own_post(viewer_id, post_id)
        await self._remove(viewer_id, post_id)

    @owned(lambda self, post_id: shard_of(post_id))
    async def remove(self, post_id: int) -> None:
        """Delete any post, whoever wrote it (moderation): the same as its author's delete."""
        record = (await self.load_records([post_id])).get(post_id)
        if record is None:
            raise NotFound(f"no post {post_id}")
        await self._remove(record.author_id, post_id)

    async def _remove(self, author_id: int, post_id: int) -> None:
        def remove(conn: sqlite3.Connection) -> list[str]:
            records.delete_post(conn, post_id)
            bump(conn, author_id, "posts", -1)
            return media_records.release_post(conn, post_id)

        blob_keys = await self.meta.write(shard_of(post_id), remove)
        self.post_cache.delete(post_id)
        self.counters.invalidate(author_id, post_id)
        for callback in self.after_delete:
            callback(author_id, post_id)
        # The media held one reference per variant; they go only now that the delete is
        # durable. A crash before the loop ends leaks those blobs (referenced by nothing,
        # never collected): the safe direction, as the other order could leave a live
        # post pointing at deleted bytes.
        for key in blob_keys:
            await self.blobs.decref(key)
        self.emit("post.deleted", post_id=post_id, author_id=author_id)
