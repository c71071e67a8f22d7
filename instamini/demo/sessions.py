"""`--tokens-out`: a logged-in session for every demo account, for load generators.

The idea: a benchmark that logs 100,000 people in first would measure argon2, not
the feed. So the demo writes the session rows a login would (accounts.service:
a token naming the user's shard, only its SHA-256 stored, on that shard) and hands
the tokens over in a JSON file `{"username": token}`. Never done by default: the
file is as good as every password.

Cost: one SHA-256 and one row per account; the file is about 70 bytes per account.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import msgspec

from ..accounts.service import new_token, token_hash
from ..ids import shard_of
from .network import People
from .writer import BulkLoad


def write(load: BulkLoad, people: People, session_days: int) -> dict[str, str]:
    shards = len(load.conns)
    now = int(time.time())
    tokens: dict[str, str] = {}
    rows: list[list[tuple]] = [[] for _ in range(shards)]
    for person, name in enumerate(people.names):
        user_id = people.ids[person]
        token = new_token(user_id)  # as a login makes it: on the user's shard
        rows[shard_of(user_id)].append((token_hash(token), user_id, now, now + session_days * 86400))
        tokens[name] = token
    for shard, shard_rows in enumerate(rows):
        load.add(shard, "sessions", sorted(shard_rows))
    return tokens


def save(tokens: dict[str, str], path: Path) -> None:
    """Write the tokens readable by their owner only (they are as good as passwords)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as file:
        file.write(msgspec.json.encode(tokens))
