"""Helpers for the search tests."""

from __future__ import annotations

from tests.conftest import User

SEARCH = "/api/v1/search"


async def register_named(client, username: str, display_name: str = "") -> User:
    response = await client.post(
        "/api/v1/accounts", json={"username": username, "password": "correct horse", "display_name": display_name}
    )
    assert response.status_code == 201, response.text
    body = response.json()
    return User(username, body["token"], body["account"])


async def search(client, q: str, user: User | None = None) -> dict:
    response = await client.get(SEARCH, params={"q": q}, headers=user.headers if user else None)
    assert response.status_code == 200, response.text
    return response.json()


async def usernames(client, q: str, user: User | None = None) -> list[str]:
    return [item["username"] for item in (await search(client, q, user))["users"]]


async def tags(client, q: str, user: User | None = None) -> list[tuple[str, int]]:
    return [(item["tag"], item["posts"]) for item in (await search(client, q, user))["hashtags"]]
