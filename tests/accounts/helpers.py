"""Helpers shared by the accounts and graph tests: error checks and store snapshots."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable
from typing import Any

import httpx

from tests.conftest import User, register

# The tables that the accounts and graph modules (and the counters) own.
TABLES = {
    "users": "SELECT id, username, display_name, bio, private, avatar_media_id, password_hash FROM users ORDER BY id",
    "usernames": "SELECT username, user_id FROM usernames ORDER BY username",
    "sessions": "SELECT token_hash, user_id, expires_at FROM sessions ORDER BY token_hash",
    "edges": "SELECT src, kind, dst, id FROM edges ORDER BY src, kind, dst",
    "counters": "SELECT object_id, name, value FROM counters ORDER BY object_id, name",
    "graph_outbox": "SELECT id, src, dst, shard, ops FROM graph_outbox ORDER BY id",
}


def state_of(client):
    return client.app.state


def in_app(client, fn: Callable[..., Awaitable[Any]], *args) -> Any:
    """Run `await fn(*args)` on the app's event loop and return the result.

    The test client serves the app from a blocking portal: another thread with its
    own event loop. The stores' writers live on that loop, so calls into services
    must be made there, not on the test's loop.
    """
    return client.blocking_portal.call(fn, *args)


def sync_in_app(client, fn: Callable[..., Any], *args) -> Any:
    """Run a plain function on the app's loop (cache writes schedule their flush there)."""

    async def run() -> Any:
        return fn(*args)

    return in_app(client, run)


async def write(client, shard: int, job: Callable) -> Any:
    """`meta.write(shard, job)` on the app's loop."""
    return in_app(client, state_of(client).meta.write, shard, job)


async def read(client, shard: int, sql: str, params=()) -> list:
    return in_app(client, state_of(client).meta.read, shard, sql, params)


def concurrently(client, *calls: Callable[[httpx.AsyncClient], Awaitable[Any]]) -> list[Any]:
    """Run request sequences really concurrently, on the app's loop.

    AsyncTestClient hands each request to the portal and blocks until it is answered,
    so `asyncio.gather` over its calls runs them one after another; an httpx client on
    an ASGI transport inside the app's loop lets them interleave at every await.
    """

    async def run() -> list[Any]:
        transport = httpx.ASGITransport(app=client.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
            return await asyncio.gather(*(call(http) for call in calls))

    return in_app(client, run)


def assert_error(response, status: int, *fragments: str) -> dict:
    """A JSON error of Litestar's shape, with the status and a message naming what is wrong.

    Validation errors put the generic "Validation failed for ..." in `detail` and the
    specifics in `extra`; the fragments are looked for in both.
    """
    assert response.status_code == status, response.text
    body = response.json()
    assert body["status_code"] == status, body
    assert isinstance(body["detail"], str) and body["detail"], body
    text = body["detail"] + " " + " ".join(
        f"{item.get('key', '')} {item.get('message', '')}" for item in body.get("extra") or [] if isinstance(item, dict)
    )
    for fragment in fragments:
        assert fragment.lower() in text.lower(), (fragment, body)
    return body


async def snapshot(client, tables: dict[str, str] = TABLES) -> dict:
    """Every row of the tables (by default the accounts/graph ones) on every shard: to
    assert that nothing changed."""
    state = state_of(client)
    meta = state.meta

    async def read() -> dict:
        # Notifications are written after the response, by listeners (the unread counters
        # are in `counters`): wait for those of earlier requests, so only this request counts.
        if state.get("notifications") is not None:
            await state.notifications.settle()
        result = {}
        for table, sql in tables.items():
            rows = []
            for shard in range(meta.shard_count):
                rows.extend(tuple(row) for row in await meta.read(shard, sql))
            result[table] = sorted(rows)
        return result

    return in_app(client, read)


async def count_rows(client, sql: str, params=()) -> int:
    """Sum of a `SELECT count(*)` over all shards."""
    meta = state_of(client).meta

    async def read() -> int:
        total = 0
        for shard in range(meta.shard_count):
            row = await meta.read_one(shard, sql, params)
            total += row[0]
        return total

    return in_app(client, read)


async def edges(client) -> set[tuple[int, str, int]]:
    meta = state_of(client).meta

    async def read() -> set[tuple[int, str, int]]:
        found = set()
        for shard in range(meta.shard_count):
            for row in await meta.read(shard, "SELECT src, kind, dst FROM edges"):
                found.add((row["src"], row["kind"], row["dst"]))
        return found

    return in_app(client, read)


def name_on_shard(client, shard: int, prefix: str, taken: set[str] | None = None) -> str:
    """A fresh username that hashes to the given shard."""
    meta = state_of(client).meta
    taken = taken if taken is not None else set()
    for i in itertools.count():
        name = f"{prefix}{i}"
        if name not in taken and meta.shard_for_text(name) == shard:
            taken.add(name)
            return name
    raise AssertionError("unreachable")


async def register_on_shard(client, shard: int, prefix: str, taken: set[str] | None = None) -> User:
    return await register(client, name_on_shard(client, shard, prefix, taken))


async def profile(client, username: str, user: User | None = None) -> dict:
    response = await client.get(f"/api/v1/users/{username}", headers=user.headers if user else None)
    assert response.status_code == 200, response.text
    return response.json()


async def counts(client, username: str) -> dict:
    return (await profile(client, username))["counts"]


async def names(client, path: str, user: User | None = None, **params) -> list[str]:
    response = await client.get(path, headers=user.headers if user else None, params=params or None)
    assert response.status_code == 200, response.text
    return [item["username"] for item in response.json()["items"]]
