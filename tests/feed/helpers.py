"""Helpers for feed tests: apps with a chosen strategy, stepping fan-out, reading whole feeds."""

from __future__ import annotations

from pathlib import Path

import msgspec
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.config import Config
from tests.accounts.helpers import in_app, state_of
from tests.conftest import User, make_config


def feed_config(data_dir: Path, **feed_settings) -> Config:
    config = make_config(data_dir)
    return msgspec.structs.replace(config, feed=msgspec.structs.replace(config.feed, **feed_settings))


def app_client(config: Config) -> AsyncTestClient:
    return AsyncTestClient(create_app(config))


def fan_out(client) -> int:
    """Deliver everything waiting in the outbox; returns the rounds it took."""
    return in_app(client, state_of(client).feed.fanout.run_until_idle)


async def follow(client, follower: User, followee: User) -> None:
    response = await client.post(f"/api/v1/users/{followee.username}/follow", headers=follower.headers)
    assert response.status_code == 200, response.text


async def feed_ids(client, user: User, path: str = "/api/v1/feed", order: str = "chronological", limit: int = 7) -> list[str]:
    """Every post id of a feed, page after page (a small page size exercises the cursors)."""
    ids, cursor = [], None
    while True:
        params = {"order": order, "limit": limit} | ({"cursor": cursor} if cursor else {})
        response = await client.get(path, params=params, headers=user.headers)
        assert response.status_code == 200, response.text
        body = response.json()
        ids += [item["id"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids
