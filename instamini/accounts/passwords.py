"""Password hashing with argon2id, off the event loop, with a cap on concurrency.

The idea: a password hash must be slow and memory-hungry so that a stolen
database cannot be brute-forced cheaply. OWASP's minimum for argon2id is 19 MiB of
memory, 2 passes, 1 lane; that costs tens of milliseconds of CPU per hash, so
hashing runs in a worker thread (argon2 releases the GIL) and at most
`max_concurrent` hashes run at once: a flood of logins queues up instead of
stalling every other request or exhausting memory. The queue is bounded too: work
goes through `admission()`, which refuses at once (Overloaded, a 503 with
Retry-After) when `max_waiting` hashes already wait, so that a flood from many
addresses answers quickly instead of piling up seconds of hashing that its
callers have long stopped waiting for.

Cost: `memory_kib` KiB and one core for a few tens of milliseconds per hash.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import anyio
import anyio.to_thread
from argon2 import PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

from ..errors import Overloaded


class Passwords:
    def __init__(
        self, *, time_cost: int, memory_kib: int, parallelism: int, max_concurrent: int, max_waiting: int = 32,
    ) -> None:
        self._hasher = PasswordHasher(
            time_cost=time_cost, memory_cost=memory_kib, parallelism=parallelism, type=Type.ID
        )
        self._limiter = anyio.CapacityLimiter(max_concurrent)
        self._dummy_hash: str | None = None
        self.max_admitted = max_concurrent + max_waiting
        self.admitted = 0  # callers inside admission(): hashing or waiting for a turn
        self.refused = 0

    @contextmanager
    def admission(self) -> Iterator[None]:
        """A place in the hashing queue for the block's work, or Overloaded at once if it is full.
        Synchronous on purpose: the count is taken before the first await, so callers arriving
        together cannot all slip in."""
        if self.admitted >= self.max_admitted:
            self.refused += 1
            raise Overloaded("too many password checks at once: try again in a second", 1)
        self.admitted += 1
        try:
            yield
        finally:
            self.admitted -= 1

    async def hash(self, password: str) -> str:
        return await anyio.to_thread.run_sync(self._hasher.hash, password, limiter=self._limiter)

    async def verify(self, password_hash: str | None, password: str) -> bool:
        """True if the password matches; with no hash (unknown user) it still spends the time."""
        if password_hash is None:
            # Same work as a real check, so response time does not tell which usernames exist.
            if self._dummy_hash is None:
                self._dummy_hash = await self.hash("not-a-real-password")
            password_hash = self._dummy_hash
            password = password + "\0"
        try:
            return await anyio.to_thread.run_sync(self._hasher.verify, password_hash, password, limiter=self._limiter)
        except (VerifyMismatchError, VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, password_hash: str) -> bool:
        return self._hasher.check_needs_rehash(password_hash)
