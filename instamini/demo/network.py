"""The demo's people and who follows whom: a power-law graph with a few celebrities.

The idea: real follower counts are heavy-tailed. Most people follow 20 to 200
others (a log-normal number); whom they follow is drawn from two sources:
- celebrities (`celeb1..k`, about 0.1% of people): celebrity c is followed by each
  person with probability 0.6 / c**0.4, so the top ones reach tens of percent;
- everyone else by popularity rank (a Zipf law, weight ~ 1/(rank+10)**0.8, ranks
  shuffled over the people): a few hundred followers for the top ranks, a handful for
  the last.
About 10% of accounts are private; a fifth of the follows they receive are still
pending requests. Every follow gets a time in the last 30 days and an id minted on
the follower's shard.

The graph is kept in flat arrays (compressed sparse rows, both ways): about 21 bytes
per follow, so millions of follows fit in memory without a Python object each.

Cost: O(follows) Python work for the draws, plus one counting sort for the
"followers of" index.
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Iterable
from dataclasses import dataclass, field

from ..stores.meta import shard_for_text
from .clock import IdMint, Timeline
from .progress import Progress

PRIVATE_SHARE = 0.10
PENDING_SHARE = 0.20  # of the follows a private account receives
MEDIAN_FOLLOWING, FOLLOWING_SIGMA = 45, 0.8  # 80% follow between 20 and 200
CELEBRITY_REACH, CELEBRITY_DECAY = 0.6, 0.4
ZIPF_EXPONENT, ZIPF_OFFSET = 0.8, 10
AVATAR_SHARE = 0.6

FIRST_NAMES = (
    "Ada Alan Alex Ama Ana Ben Cleo Dan Eli Emma Eva Finn Grace Hana Ivan Jon Kai Lea Leo Lina Luca Maya Mia "
    "Nia Noah Omar Ravi Rosa Sam Sara Tao Tom Uma Vera Yuki Zoe"
).split()
LAST_NAMES = (
    "Adeyemi Berg Costa Diaz Evans Fischer Garcia Haddad Ito Jensen Kim Kowalski Lopez Martin Nakamura Novak "
    "Okafor Patel Quinn Rossi Silva Tanaka Umar Varga Wang Weber Yilmaz Zhang"
).split()
BIOS = (
    "coffee first", "film photography and long walks", "chasing light", "home cook, occasional baker",
    "mountains > beaches", "cat person", "amateur astronomer", "city bikes and street food",
    "plants everywhere", "trying to post more", "sunsets, mostly",
)


@dataclass
class People:
    """Person i: names[i], ids[i], shards[i]; the first `celebrities` are celeb1..k."""

    names: list[str]
    display_names: list[str]
    bios: list[str]
    ids: list[int]
    shards: list[int]
    private: bytearray
    avatars: list[int | None]  # an index into the demo's pictures, or None
    celebrities: int

    def __len__(self) -> int:
        return len(self.names)

    def on_shard(self, shard: int) -> list[int]:
        """The people of one shard, by id: rows then go into the B-trees in key order."""
        return sorted((i for i, s in enumerate(self.shards) if s == shard), key=self.ids.__getitem__)


@dataclass
class FollowGraph:
    """Follows as arrays: out-edges of person u are edges out_start[u]..out_start[u+1]."""

    out_start: array = field(default_factory=lambda: array("q", [0]))
    dst: array = field(default_factory=lambda: array("i"))
    edge_ids: array = field(default_factory=lambda: array("q"))
    pending: bytearray = field(default_factory=bytearray)
    followers: array = field(default_factory=lambda: array("i"))  # accepted, per person
    following: array = field(default_factory=lambda: array("i"))
    # Filled by index_followers(): edges into person v are in_edges[in_start[v]:in_start[v+1]].
    src: array = field(default_factory=lambda: array("i"))
    in_start: array = field(default_factory=lambda: array("q"))
    in_edges: array = field(default_factory=lambda: array("i"))

    def __len__(self) -> int:
        return len(self.dst)

    def targets(self, person: int) -> range:
        return range(self.out_start[person], self.out_start[person + 1])

    def sources(self, person: int) -> range:
        """Positions in `in_edges` of the follows into person."""
        return range(self.in_start[person], self.in_start[person + 1])


def celebrity_count(n: int) -> int:
    return max(3, round(n / 1000))


def make_people(rng: random.Random, n: int, shards: int, timeline: Timeline, mint: IdMint, pictures: int) -> People:
    celebrities = celebrity_count(n)
    width = max(6, len(str(n)))
    names = [f"celeb{c}" for c in range(1, celebrities + 1)]
    names += [f"user{i:0{width}d}" for i in range(1, n - celebrities + 1)]
    shard_of_name = [shard_for_text(name, shards) for name in names]
    return People(
        names=names,
        display_names=[f"{rng.choice(FIRST_NAMES)} {rng.choice(LAST_NAMES)}" for _ in names],
        bios=[rng.choice(BIOS) if rng.random() < 0.4 else "" for _ in names],
        ids=[mint.at(timeline.registration(rng), shard) for shard in shard_of_name],
        shards=shard_of_name,
        private=bytearray(i >= celebrities and rng.random() < PRIVATE_SHARE for i in range(n)),
        avatars=[rng.randrange(pictures) if rng.random() < AVATAR_SHARE else None for _ in names],
        celebrities=celebrities,
    )


class ZipfRanks:
    """Draws ranks 0..size-1 with weight ~ 1/(rank+1+offset)**exponent (exponent < 1), by
    inverting the continuous law's CDF: one power per draw, no table of weights."""

    def __init__(self, size: int, exponent: float = ZIPF_EXPONENT, offset: float = ZIPF_OFFSET) -> None:
        self.size, self.offset = size, offset
        self.power = 1 - exponent
        self.low = (1 + offset) ** self.power
        self.span = (size + 1 + offset) ** self.power - self.low

    def draw(self, rng: random.Random) -> int:
        x = (self.low + rng.random() * self.span) ** (1 / self.power) - self.offset
        return min(self.size - 1, max(0, int(x) - 1))  # max: x may round to just under 1


def following_wanted(rng: random.Random, cap: int) -> int:
    mu = math.log(MEDIAN_FOLLOWING)
    return min(cap, max(1, round(rng.lognormvariate(mu, FOLLOWING_SIGMA))))


def celebrity_followers(rng: random.Random, people: People) -> list[list[int]]:
    """For each person, the celebrities they follow."""
    n = len(people)
    chosen: list[list[int]] = [[] for _ in range(n)]
    for c in range(people.celebrities):
        reach = CELEBRITY_REACH / (c + 1) ** CELEBRITY_DECAY
        count = min(n - 1, round(reach * (n - 1) * rng.uniform(0.9, 1.1)))
        # One more than needed, in case the celebrity drew themself.
        fans = [person for person in rng.sample(range(n), count + 1) if person != c][:count]
        for person in fans:
            chosen[person].append(c)
    return chosen


def make_follows(rng: random.Random, people: People, timeline: Timeline, mint: IdMint, progress: Progress) -> FollowGraph:
    n, k = len(people), people.celebrities
    by_rank = list(range(k, n))
    rng.shuffle(by_rank)  # popularity is not tied to the name or the shard
    ranks = ZipfRanks(len(by_rank))
    cap = max(1, (n - k) // 2)  # leaves rejection sampling room to find new targets
    graph = FollowGraph(followers=array("i", bytes(4 * n)), following=array("i", bytes(4 * n)))
    celebrities_of = celebrity_followers(rng, people)
    progress.start("follows", n)
    for person in range(n):
        targets = dict.fromkeys(celebrities_of[person])
        wanted = len(targets) + following_wanted(rng, cap)
        while len(targets) < wanted:
            target = by_rank[ranks.draw(rng)]
            if target != person:
                targets[target] = None
        _add_follows(rng, graph, people, person, targets, timeline, mint)
        if person % 1000 == 999:
            progress.advance(1000)
    progress.finish()
    index_followers(graph, n, progress)
    return graph


def _add_follows(
    rng: random.Random, graph: FollowGraph, people: People, person: int, targets: Iterable[int], timeline: Timeline, mint: IdMint
) -> None:
    shard, private = people.shards[person], people.private
    for target in targets:
        pending = private[target] and rng.random() < PENDING_SHARE
        graph.dst.append(target)
        graph.edge_ids.append(mint.at(timeline.activity(rng), shard))
        graph.pending.append(pending)
        if not pending:
            graph.following[person] += 1
            graph.followers[target] += 1
    graph.out_start.append(len(graph.dst))


def index_followers(graph: FollowGraph, n: int, progress: Progress) -> None:
    """The reverse index (follows into each person), by a counting sort of the edges."""
    progress.start("followers", n)
    counts = array("q", bytes(8 * (n + 1)))
    for target in graph.dst:
        counts[target + 1] += 1
    for person in range(n):
        counts[person + 1] += counts[person]
    graph.in_start = array("q", counts)
    graph.in_edges = array("i", bytes(4 * len(graph.dst)))
    graph.src = array("i", bytes(4 * len(graph.dst)))
    next_slot = counts  # reused: the next free position of each person's run
    for person in range(n):
        for edge in range(graph.out_start[person], graph.out_start[person + 1]):
            target = graph.dst[edge]
            graph.in_edges[next_slot[target]] = edge
            next_slot[target] += 1
            graph.src[edge] = person
        if person % 1000 == 999:
            progress.advance(1000)
    progress.finish()
