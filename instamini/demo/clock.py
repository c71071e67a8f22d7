"""Made-up times for the demo's history, and ids for them that can never collide.

The idea: a seeded network must look lived in, so ids are made for chosen moments
of the last weeks (registrations 30 to 60 days ago, activity in the last 30 days)
with the bit layout of `instamini.ids`: time, shard, sequence. IdGenerator can only
make ids for "now", in order; here the times come in random order, so uniqueness is
by construction instead: the n-th id minted on a shard gets sequence `n % 1024` and,
inside the QUANTUM-millisecond bucket of its chosen time, the millisecond
`(n // 1024) % QUANTUM`. Two ids on one shard with the same time and sequence would
need numbers n that differ by a multiple of 1024 * QUANTUM (67 million), which one
shard never reaches in a run: no set of used ids is kept, whatever the volume.

Cost: a few integer operations per id; times are precise to QUANTUM ms (about a
minute), ample for "3 days ago" and for newest-first order.
"""

from __future__ import annotations

import random

from ..ids import EPOCH_MS, SEQUENCE_BITS, SHARD_BITS

QUANTUM_MS = 1 << 16  # 65.5 s
SEQUENCES = 1 << SEQUENCE_BITS
DAY_MS = 86_400_000


class IdMint:
    """Unique ids on each shard for arbitrary, unordered times."""

    def __init__(self, shards: int) -> None:
        self._minted = [0] * shards

    def at(self, unix_ms: int, shard: int) -> int:
        n = self._minted[shard]
        if n >= SEQUENCES * QUANTUM_MS:
            raise OverflowError(f"more than {SEQUENCES * QUANTUM_MS:,} demo ids on shard {shard}: use more shards")
        self._minted[shard] = n + 1
        since_epoch = unix_ms - EPOCH_MS
        millisecond = since_epoch - since_epoch % QUANTUM_MS + (n >> SEQUENCE_BITS) % QUANTUM_MS
        return (millisecond << (SHARD_BITS + SEQUENCE_BITS)) | (shard << SEQUENCE_BITS) | (n & (SEQUENCES - 1))

    @property
    def minted(self) -> int:
        return sum(self._minted)


class Timeline:
    """The windows the demo's events fall in, relative to the moment it runs."""

    def __init__(self, now_ms: int, days: int = 30) -> None:
        # A bucket's ids may lie up to QUANTUM_MS after the chosen time: stop short of
        # now, so no seeded id is newer than the first one the server will make.
        self.end = now_ms - 3 * QUANTUM_MS
        self.start = self.end - days * DAY_MS
        self.registered_from = self.start - days * DAY_MS

    def registration(self, rng: random.Random) -> int:
        return rng.randrange(self.registered_from, self.start)

    def activity(self, rng: random.Random) -> int:
        return rng.randrange(self.start, self.end)

    def after(self, rng: random.Random, moment: int, mean_ms: int) -> int:
        """A moment a random while (exponential, `mean_ms` on average) after another, before the end."""
        return min(self.end, moment + int(rng.expovariate(1 / mean_ms)))
