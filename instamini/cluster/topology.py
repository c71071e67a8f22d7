"""Which instance owns which logical shard: the cluster map.

The idea (Instagram's logical shards mapped onto physical servers): the number of
logical shards is fixed when the data directory is created, and an object's shard
is written into its id. What changes as the network grows is only the map from
shards to instances, so a shard moves as one whole SQLite file and nothing is
re-hashed. This map is that table: `owner_of(shard)` is one tuple index.

A `Topology` is immutable. Moving a shard makes a new one (`with_shard_moved`) with a
higher version, so a request that started under the old map finishes under it and
code never sees a half-updated map. Instances are named in the config with their
internal URL and the shards they own, written as ranges ("0-3,8" or "all").

Cost: built once at start; every lookup is a tuple index or a dict lookup.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import msgspec

from ..ids import shard_of
from .errors import TopologyError

ALL_SHARDS = "all"
NAME = re.compile(r"[a-z0-9][a-z0-9_-]{0,31}")  # used with fullmatch: no trailing newline
_RANGE = re.compile(r"(\d+)(?:-(\d+))?")


class Instance(msgspec.Struct, frozen=True):
    """One running instamini: its name and the URL other instances reach it at."""

    name: str
    url: str


def parse_shards(text: str, shard_count: int, key: str) -> list[int]:
    """"0-3,8" -> [0, 1, 2, 3, 8]; "all" -> every shard. `key` names the setting in errors."""
    if text.strip() == ALL_SHARDS:
        return list(range(shard_count))
    shards: list[int] = []
    for piece in text.split(","):
        match = _RANGE.fullmatch(piece.strip())
        if match is None:
            raise TopologyError(f"{key}: {piece.strip()!r} is not a shard or a range of shards (like 0-3)")
        first, last = int(match[1]), int(match[2] if match[2] is not None else match[1])
        if last < first:
            raise TopologyError(f"{key}: {piece.strip()!r} runs backwards (write {last}-{first})")
        if last >= shard_count:
            raise TopologyError(f"{key}: shard {last} is outside 0-{shard_count - 1} (there are {shard_count} shards)")
        shards.extend(range(first, last + 1))
    return shards


def format_shards(shards: Iterable[int]) -> str:
    """[0, 1, 2, 3, 8] -> "0-3,8": the form the config and the map file use."""
    pieces: list[str] = []
    ordered = sorted(set(shards))
    start = 0
    for index, shard in enumerate(ordered):
        if index + 1 < len(ordered) and ordered[index + 1] == shard + 1:
            continue
        first = ordered[start]
        pieces.append(str(first) if first == shard else f"{first}-{shard}")
        start = index + 1
    return ",".join(pieces)


@dataclass(frozen=True, eq=True)
class Topology:
    """The cluster map as this instance sees it.

    `local` is this instance's name; `owners[shard]` names the instance that owns it;
    `version` goes up by one with every move, so two maps can be told apart.
    """

    local: str
    instances: tuple[Instance, ...]
    owners: tuple[str, ...]
    version: int = 1
    _by_name: dict[str, Instance] = field(init=False, repr=False, compare=False)
    _local_flags: tuple[bool, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_name = {instance.name: instance for instance in self.instances}
        if len(by_name) != len(self.instances):
            raise TopologyError("cluster.instances: two instances have the same name")
        if self.local not in by_name:
            raise TopologyError(f"cluster.instance: {self.local!r} is not one of cluster.instances ({', '.join(by_name)})")
        if unknown := sorted(set(self.owners) - set(by_name)):
            raise TopologyError(f"cluster map: shards are owned by unknown instances {unknown}")
        if not self.owners:
            raise TopologyError("cluster map: there are no shards")
        # Set once here; the dataclass is frozen for everyone else.
        object.__setattr__(self, "_by_name", by_name)
        object.__setattr__(self, "_local_flags", tuple(owner == self.local for owner in self.owners))

    @classmethod
    def from_ranges(
        cls, local: str, instances: Sequence[Instance], ranges: Mapping[str, str], shard_count: int, *,
        version: int = 1, key: str = "cluster.instances",
    ) -> Topology:
        """A map from {instance name: "0-3,8"}: every shard owned by exactly one known instance."""
        names = [instance.name for instance in instances]
        if not instances:
            raise TopologyError(f"{key}: list at least this instance")
        for name in names:
            if not NAME.fullmatch(name):
                raise TopologyError(f"{key}: {name!r} is not a valid instance name (a-z, 0-9, _ and -, at most 32)")
        if len(set(names)) != len(names):
            raise TopologyError(f"{key}: two instances are named {next(n for n in names if names.count(n) > 1)!r}")
        if unknown := sorted(set(ranges) - set(names)):
            raise TopologyError(f"{key}: shards given to unknown instances {unknown}")
        owners: list[str | None] = [None] * shard_count
        for position, name in enumerate(names):
            text = ranges.get(name, "")
            where = f"{key}[{position}].shards"
            if text.strip() == ALL_SHARDS and len(names) > 1:
                raise TopologyError(f"{where}: {ALL_SHARDS!r} is for a single instance; give ranges like 0-3")
            for shard in parse_shards(text, shard_count, where) if text.strip() else []:
                if owners[shard] is not None:
                    raise TopologyError(f"{key}: shard {shard} is owned by both {owners[shard]!r} and {name!r}")
                owners[shard] = name
        if orphans := [shard for shard, owner in enumerate(owners) if owner is None]:
            raise TopologyError(f"{key}: no instance owns shards {format_shards(orphans)}")
        return cls(local, tuple(instances), tuple(owners), version)  # type: ignore[arg-type]

    @classmethod
    def from_config(cls, cluster, shard_count: int) -> Topology:
        """From the `[cluster]` section (a config.ClusterConfig)."""
        instances = [Instance(entry.name, entry.url) for entry in cluster.instances]
        ranges = {entry.name: entry.shards for entry in cluster.instances}
        return cls.from_ranges(cluster.instance, instances, ranges, shard_count)

    # -- lookups (the hot ones are one index each) -------------------------------------

    @property
    def shard_count(self) -> int:
        return len(self.owners)

    @property
    def single(self) -> bool:
        """One instance owns everything: nothing ever needs the network."""
        return len(self.instances) == 1

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(instance.name for instance in self.instances)

    def owner_of(self, shard: int) -> str:
        """The name of the instance that owns `shard`."""
        if shard < 0:
            raise IndexError(f"shard {shard} is negative")
        return self.owners[shard]

    def owner_of_id(self, object_id: int) -> str:
        return self.owners[shard_of(object_id)]

    def is_local(self, shard: int) -> bool:
        if shard < 0:
            raise IndexError(f"shard {shard} is negative")
        return self._local_flags[shard]

    def instance(self, name: str) -> Instance:
        try:
            return self._by_name[name]
        except KeyError:
            raise TopologyError(f"no instance is named {name!r} (known: {', '.join(self._by_name)})") from None

    def shards_of(self, name: str) -> tuple[int, ...]:
        self.instance(name)
        return tuple(shard for shard, owner in enumerate(self.owners) if owner == name)

    @property
    def local_shards(self) -> tuple[int, ...]:
        return self.shards_of(self.local)

    def group_by_instance(self, shards: Iterable[int]) -> dict[str, list[int]]:
        """Shards grouped by their owner, in first-seen order: one request per instance."""
        groups: dict[str, list[int]] = {}
        for shard in shards:
            groups.setdefault(self.owner_of(shard), []).append(shard)
        return groups

    def group_ids_by_instance(self, object_ids: Iterable[int]) -> dict[str, list[int]]:
        """Ids grouped by the instance that owns their shard (read off each id)."""
        groups: dict[str, list[int]] = {}
        owners = self.owners
        for object_id in object_ids:
            groups.setdefault(owners[shard_of(object_id)], []).append(object_id)
        return groups

    def ranges(self) -> dict[str, str]:
        """{instance name: "0-3,8"} for every instance, owning shards or not."""
        return {name: format_shards(self.shards_of(name)) for name in self.names}

    # -- change: always a new map -------------------------------------------------------

    def with_shard_moved(self, shard: int, to: str) -> Topology:
        """The same map with `shard` owned by `to`, one version later."""
        self.instance(to)
        if not 0 <= shard < self.shard_count:
            raise TopologyError(f"shard {shard} is outside 0-{self.shard_count - 1}")
        owners = list(self.owners)
        owners[shard] = to
        return Topology(self.local, self.instances, tuple(owners), self.version + 1)

