"""The most-followed people, kept in memory so that a short prefix finds them first.

The problem: one typed letter matches thousands of people per shard, and ranking
all of them by bm25 costs tens of milliseconds per shard, so the full-text query
ranks only its first BM25_POOL matches (service.py) — and those are arbitrary for a
short prefix. What a person typing "a" hopes to see is the well-known accounts
starting with "a". So this list holds the NOTABLE_SIZE most-followed people of the
whole network with the words of their names; a search checks it in Python beside
the full-text query, and its matches join the candidates (ranked, as all of them
are, by exactness, then followers).

It is refreshed every REFRESH_SECONDS in the background when a search finds it old
(one scan of the counters of every shard, off the request path), so a newly popular
person joins it within minutes; renames show at the next refresh too.

Cost: the refresh reads every shard's follower counters (a few ms per 10,000
people); a search compares the query's words with NOTABLE_SIZE names (about 100 us).
"""

from __future__ import annotations

import asyncio
import logging
import time

from collections.abc import Awaitable, Callable

from ..accounts.service import AccountsService
from . import query

log = logging.getLogger(__name__)

NOTABLE_SIZE = 1000
REFRESH_SECONDS = 600.0


class NotablePeople:
    def __init__(
        self,
        most_followed: Callable[[int], Awaitable[list[tuple[int, int]]]],
        accounts: AccountsService,
        size: int = NOTABLE_SIZE,
    ) -> None:
        # most_followed(n): (user id, followers) of each shard's n most-followed (SearchService's scatter)
        self.most_followed, self.accounts, self.size = most_followed, accounts, size
        self.people: list[tuple[int, tuple[str, ...]]] = []  # (user id, words of username and display name)
        self.loaded_at = float("-inf")
        self._refreshing: asyncio.Task | None = None

    async def refresh(self) -> None:
        rows = await self.most_followed(self.size)
        top = [user_id for user_id, _ in sorted(rows, key=lambda row: -row[1])[: self.size]]
        users = await self.accounts.get_users(top)
        self.people = [
            (user_id, tuple(query.tokens(f"{users[user_id].username} {users[user_id].display_name}")))
            for user_id in top
            if user_id in users
        ]
        self.loaded_at = time.monotonic()

    def stop(self) -> None:
        """Cancel a refresh under way (at shutdown, before the stores close)."""
        if self._refreshing is not None:
            self._refreshing.cancel()

    def matching(self, words: list[str]) -> list[int]:
        """Ids of notable people with a word starting with each of `words` (most followed first)."""
        self._refresh_if_old()
        return [
            user_id for user_id, names in self.people if all(any(name.startswith(w) for name in names) for w in words)
        ]

    def _refresh_if_old(self) -> None:
        if time.monotonic() - self.loaded_at < REFRESH_SECONDS or self._refreshing is not None:
            return

        async def run() -> None:
            try:
                await self.refresh()
            except Exception:  # a failed refresh keeps the old list; the next search retries
                log.exception("refreshing notable people failed")
            finally:
                self._refreshing = None

        self._refreshing = asyncio.get_running_loop().create_task(run())
