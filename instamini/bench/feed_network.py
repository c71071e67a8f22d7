"""The feed benchmark's seeded network, read from the shard files before the server starts.

Who exists, whose grid is public, which ready images each person may post, who has how
many followers, and from that the celebrity threshold and whose posts go through the
outbox under each strategy. Cost: a few full scans of small tables, once per run.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

CELEBRITY_SHARE = 0.001  # the demo makes about 0.1% of its people celebrities


@dataclass
class Network:
    names: dict[int, str] = field(default_factory=dict)  # user id -> username
    public: list[str] = field(default_factory=list)  # accounts whose grid anyone may read
    spare: dict[str, list[str]] = field(default_factory=dict)  # username -> ready, unattached media ids
    followers: dict[str, int] = field(default_factory=dict)  # username -> follower count
    shard_files: list[Path] = field(default_factory=list)

    def most_followed(self) -> list[tuple[str, int]]:
        return sorted(self.followers.items(), key=lambda item: (-item[1], item[0]))

    def followers_of(self, username: str) -> list[str]:
        user_id = next(i for i, name in self.names.items() if name == username)
        rows = _query(self.shard_files, "SELECT dst FROM edges WHERE src = ? AND kind = 'follower' ORDER BY dst", (user_id,))
        return [self.names[dst] for (dst,) in rows if dst in self.names]


def _query(files: list[Path], sql: str, params: tuple = ()) -> list[tuple]:
    rows = []
    for path in files:
        with sqlite3.connect(path) as conn:
            rows += conn.execute(sql, params).fetchall()
    return rows


def read_network(data_dir: Path) -> Network:
    files = sorted((data_dir / "meta").glob("shard-*.sqlite"))
    network = Network(shard_files=files)
    for user_id, username, private in _query(files, "SELECT id, username, private FROM users"):
        network.names[user_id] = username
        if not private:
            network.public.append(username)
    spare_sql = """SELECT id, owner_id FROM media WHERE status = 'ready' AND post_id IS NULL
        AND id NOT IN (SELECT avatar_media_id FROM users WHERE avatar_media_id IS NOT NULL) ORDER BY id"""
    for media_id, owner_id in _query(files, spare_sql):
        network.spare.setdefault(network.names[owner_id], []).append(str(media_id))
    for src, count in _query(files, "SELECT src, COUNT(*) FROM edges WHERE kind = 'follower' GROUP BY src"):
        network.followers[network.names[src]] = count
    network.public.sort()
    return network


def auto_celebrity_threshold(network: Network, users: int) -> int:
    """Pull (under hybrid) the top 0.1% of accounts: the threshold is the next one's count."""
    ranked = [count for _, count in network.most_followed()]
    top = max(1, round(users * CELEBRITY_SHARE))
    return max(1, ranked[top] if len(ranked) > top else 1)


def pushed_authors(network: Network, strategy: str, threshold: int) -> set[str]:
    """Whose posts go through the outbox: everyone's under push, no one's under pull, and
    under hybrid everyone's but the celebrities' (more followers than the threshold)."""
    if strategy == "pull":
        return set()
    everyone = set(network.names.values())
    if strategy == "push":
        return everyone
    return everyone - {name for name, count in network.followers.items() if count > threshold}
