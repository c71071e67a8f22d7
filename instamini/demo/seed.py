"""`python -m instamini demo`: seed an empty data directory with a realistic network, fast.

The idea: to show (and measure) what the design does at scale you need a big,
lived-in network, and registering 100,000 people through the API would take hours
(argon2 alone costs tens of milliseconds a hash). So the demo writes the rows the
services would have written, directly and in bulk:
1. the schema: the data directory is opened once with ShardedMeta and the
   migrations `create_app(config)` would run (layout.json, every table);
2. a lock: every shard is opened in SQLite's exclusive mode for the whole run, so a
   running server is detected and refused, and cannot start meanwhile; a directory
   that already has users is refused too (the demo seeds empty instances only);
3. pictures: a few generated images processed once by the real image pipeline;
4. people (one argon2 hash of "demo-password", shared), the follow graph (both halves
   of each edge, counters), then each shard's posts, media, likes and comments;
5. the blob references (one per variant per media row), optional sessions, and
   the LMDB cache deleted (whatever it holds predates these rows; it refills on reads).
Generation is deterministic for a `--seed` (times are relative to "now"; session
tokens are random).

A run that fails part way leaves a partial directory behind: delete it and run again.

Cost: on two cores, about 100 seconds and 1.5 GB of memory for 100,000 people with
the defaults (7.6 million follows, 15 million edge rows: SQLite inserting them is
most of it, Python drawing them the rest); about 20 KB of disk per person.
"""

from __future__ import annotations

import asyncio
import random
import shutil
import sqlite3
import statistics
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import msgspec

from ..accounts.passwords import Passwords
from ..app import MODULES
from ..config import Config
from ..stores.blobs import FileBlobStore
from ..stores.meta import ShardedMeta
from ..stores.plugin import StoresPlugin
from . import sessions
from .clock import IdMint, Timeline
from .content import ContentMaker, Totals
from .network import FollowGraph, People, make_follows, make_people
from .pictures import Picture, make_pictures
from .progress import Progress
from .writer import BulkLoad, DataDirInUse, edge_rows, follow_counter_rows, people_rows, username_rows

PASSWORD = "demo-password"
NEEDED_MODULES = ("accounts", "graph", "media", "posts")
MIN_USERS = 20
PEOPLE_PER_BATCH = 1000  # whose edges go in one executemany: a progress step of a few 100,000 rows


class DemoRefused(Exception):
    """The demo will not seed this directory; the message says why and what to do."""


class DemoOptions(msgspec.Struct, kw_only=True):
    users: int
    seed: int = 1
    posts_per_user: float = 3.0
    spare_media: int = 0  # ready, unposted images per user, for benchmarks
    tokens_out: str | None = None  # write {"username": token} here
    pictures: int = 16


@dataclass
class Summary:
    data_dir: str
    users: int
    private: int
    follows: int
    pending: int
    posts: int
    media: int
    spare_media: int
    likes: int
    comments: int
    replies: int
    median_following: int
    celebrities: dict[str, int] = field(default_factory=dict)  # name -> followers
    top_regular: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0
    tokens_out: str | None = None

    def counts(self) -> dict:
        """What a seed determines: everything but the place and the time it took."""
        fields = dict(self.__dict__)
        for varying in ("data_dir", "seconds", "tokens_out"):
            fields.pop(varying)
        return fields

    def text(self) -> str:
        celebrities = ", ".join(f"{name} {count:,}" for name, count in list(self.celebrities.items())[:10])
        top = ", ".join(f"{name} {count:,}" for name, count in self.top_regular.items())
        lines = [
            f"seeded {self.data_dir} in {self.seconds:.1f} s",
            f"  users      {self.users:,} ({self.private:,} private)",
            f"  follows    {self.follows:,} (+{self.pending:,} pending requests); median following {self.median_following}",
            f"  celebs     {len(self.celebrities)}: {celebrities}{' ...' if len(self.celebrities) > 10 else ''}",
            f"  top others {top}",
            f"  posts      {self.posts:,} with {self.media:,} media items",
            f"  likes      {self.likes:,}",
            f"  comments   {self.comments:,} ({self.replies:,} replies)",
        ]
        if self.spare_media:
            lines.append(f"  spare      {self.spare_media:,} ready, unposted images (posted within [media] unused_media_hours)")
        if self.tokens_out:
            lines.append(f"  tokens     {self.tokens_out}")
        lines.append(f'every account\'s password is "{PASSWORD}" (for example: celeb1, {next(iter(self.top_regular), "")})')
        return "\n".join(lines)


def run_demo(config: Config, options: DemoOptions) -> int:
    """The command: seed, print the summary; 1 with a message if the directory is refused."""
    try:
        summary = seed(config, options, Progress(sys.stderr))
    except DemoRefused as refusal:
        print(f"instamini demo: {refusal}", file=sys.stderr)
        return 1
    print(summary.text())
    return 0


def seed(config: Config, options: DemoOptions, progress: Progress | None = None) -> Summary:
    """Seed the configured data directory; DemoRefused if it is in use or already has users."""
    progress = progress or Progress(None)
    _check(config, options)
    started = time.perf_counter()
    shards = asyncio.run(_create_schema(config))
    try:
        with BulkLoad(config.data_path / "meta", shards) as load, _blob_store(config) as (runner, blobs):
            _refuse_if_seeded(load, config)
            people, graph, totals, tokens = _populate(config, options, load, runner, blobs, progress)
    except DataDirInUse as error:
        raise DemoRefused(str(error)) from None
    if tokens is not None:
        sessions.save(tokens, Path(options.tokens_out))
    # The cache could only be stale (it knew an empty instance); it rebuilds itself on reads.
    shutil.rmtree(config.data_path / "cache", ignore_errors=True)
    return _summary(config, options, people, graph, totals, time.perf_counter() - started)


def _populate(
    config: Config, options: DemoOptions, load: BulkLoad, runner: asyncio.Runner, blobs: FileBlobStore, progress: Progress
) -> tuple[People, FollowGraph, Totals, dict[str, str] | None]:
    """The phases, in order; everything drawn from one generator seeded with --seed."""
    rng = random.Random(options.seed)
    timeline, mint = Timeline(time.time_ns() // 1_000_000), IdMint(len(load.conns))
    progress.start("pictures", options.pictures)
    pictures = runner.run(make_pictures(rng, options.pictures, config.media, blobs))
    progress.finish()
    people = make_people(rng, options.users, len(load.conns), timeline, mint, len(pictures))
    graph = make_follows(rng, people, timeline, mint, progress)
    maker = ContentMaker(rng, people, graph, pictures, timeline, mint, config.posts, options.posts_per_user)
    _write_people_and_graph(load, people, graph, maker, runner.run(_hash_password(config)), progress)
    _write_content(load, people, maker, options.spare_media, progress)
    runner.run(_reference(blobs, pictures, maker.totals.picture_uses))
    tokens = sessions.write(load, people, config.accounts.session_days) if options.tokens_out else None
    progress.start("checkpoint", len(load.conns))
    load.finish()
    progress.finish()
    return people, graph, maker.totals, tokens


@contextmanager
def _blob_store(config: Config) -> Iterator[tuple[asyncio.Runner, FileBlobStore]]:
    """The blob store, open on an event loop of our own (its API is async)."""
    with asyncio.Runner() as runner:
        blobs = FileBlobStore(config.data_path / "blobs")
        runner.run(blobs.open())
        try:
            yield runner, blobs
        finally:
            runner.run(blobs.close())


def _check(config: Config, options: DemoOptions) -> None:
    missing = [name for name in NEEDED_MODULES if not getattr(config.modules, name)]
    if missing:
        raise DemoRefused(f"the demo needs the modules {', '.join(missing)}: enable them in [modules]")
    if options.users < MIN_USERS:
        raise DemoRefused(f"--users must be at least {MIN_USERS}")


async def _create_schema(config: Config) -> int:
    """Open the data directory as the server would (layout.json, migrations), then close it."""
    modules = [module(config) for module in MODULES if getattr(config.modules, module.name)]
    meta = ShardedMeta(
        config.data_path / "meta", shards=config.meta.shards, busy_timeout_ms=config.meta.busy_timeout_ms
    )
    try:
        await meta.open(StoresPlugin(config, modules).migrations)
        return meta.shard_count
    except sqlite3.OperationalError as error:  # another demo run holds the exclusive lock
        raise DemoRefused(f"{meta.root} is in use ({error})") from None
    finally:
        await meta.close()


def _refuse_if_seeded(load: BulkLoad, config: Config) -> None:
    users = load.count("SELECT count(*) FROM users")
    if users:
        raise DemoRefused(
            f"{config.data_path} already has {users:,} users; the demo seeds an empty instance only: "
            "choose another --data-dir, or delete this one"
        )


async def _hash_password(config: Config) -> str:
    settings = config.accounts
    passwords = Passwords(
        time_cost=settings.argon2_time_cost,
        memory_kib=settings.argon2_memory_kib,
        parallelism=settings.argon2_parallelism,
        max_concurrent=1,
    )
    return await passwords.hash(PASSWORD)  # once: every demo account shares it


def _write_people_and_graph(
    load: BulkLoad, people: People, graph: FollowGraph, maker: ContentMaker, password_hash: str, progress: Progress
) -> None:
    progress.start("graph", len(graph) * 2)
    for shard in range(len(load.conns)):
        members = people.on_shard(shard)
        avatars, avatar_ids = maker.avatar_rows(members)
        load.add(shard, "media", avatars)
        load.add(shard, "users", people_rows(people, members, password_hash, avatar_ids))
        load.add(shard, "usernames", username_rows(people, members))
        for start in range(0, len(members), PEOPLE_PER_BATCH):
            batch = members[start : start + PEOPLE_PER_BATCH]
            progress.advance(load.add(shard, "edges", edge_rows(graph, people, batch)))
        load.add(shard, "counters", follow_counter_rows(graph, people, members))
    load.commit()
    progress.finish()


def _write_content(load: BulkLoad, people: People, maker: ContentMaker, spare_media: int, progress: Progress) -> None:
    progress.start("posts", len(people))
    for shard in range(len(load.conns)):
        members = people.on_shard(shard)
        maker.shard_rows(shard, members).write(load, shard)
        load.add(shard, "media", maker.spare_rows(members, spare_media))
        progress.advance(len(members))
    load.commit()
    progress.finish()


async def _reference(blobs: FileBlobStore, pictures: list[Picture], uses: list[int]) -> None:
    """One reference per variant per media row showing the picture, as the media module holds them."""
    for picture, count in zip(pictures, uses):
        for key in picture.keys:
            if count:
                await blobs.incref(key, count)


def _summary(config: Config, options: DemoOptions, people: People, graph: FollowGraph, totals: Totals, seconds: float) -> Summary:
    n, k = len(people), people.celebrities
    pending = sum(graph.pending)
    regular = sorted(range(k, n), key=lambda person: -graph.followers[person])[:3]
    return Summary(
        data_dir=str(config.data_path),
        users=n,
        private=sum(people.private),
        follows=len(graph) - pending,
        pending=pending,
        **{name: getattr(totals, name) for name in ("posts", "media", "spare_media", "likes", "comments", "replies")},
        median_following=round(statistics.median(graph.following)),
        celebrities={people.names[c]: graph.followers[c] for c in range(k)},
        top_regular={people.names[p]: graph.followers[p] for p in regular},
        seconds=round(seconds, 1),
        tokens_out=options.tokens_out,
    )
