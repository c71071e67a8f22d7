"""Helpers for the notifications tests: actions that notify, waiting for the listeners, reading the list.

Notifications are made after the response, by listeners on the app's loop; every read
here first waits for them with `settle` (the service drains its queue), never a sleep.
"""

from __future__ import annotations

import msgspec

from tests.accounts.helpers import in_app, state_of, sync_in_app
from tests.conftest import User
from tests.messages.helpers import FakeSocket as MessagesSocket
from tests.posts.helpers import POSTS

NOTIFICATIONS = "/api/v1/notifications"
HOUR_MS = 3600 * 1000


def settle(client) -> None:
    in_app(client, state_of(client).notifications.settle)


def emit(client, event: str, **payload) -> None:
    """Fire an event on the app's loop, as a module would after its commit."""
    sync_in_app(client, lambda: client.app.emit(event, **payload))


async def listing(client, user: User, **params) -> dict:
    settle(client)
    response = await client.get(NOTIFICATIONS, headers=user.headers, params=params or None)
    assert response.status_code == 200, response.text
    return response.json()


async def items(client, user: User) -> list[dict]:
    return (await listing(client, user, limit=100))["items"]


async def summaries(client, user: User) -> list[str]:
    return [item["summary"] for item in await items(client, user)]


async def unread(client, user: User) -> int:
    settle(client)
    response = await client.get(f"{NOTIFICATIONS}/unread", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()["unread"]


async def mark_read(client, user: User, cursor: str) -> int:
    response = await client.post(f"{NOTIFICATIONS}/read", headers=user.headers, json={"cursor": cursor})
    assert response.status_code == 200, response.text
    return response.json()["unread"]


def actor_names(item: dict) -> list[str]:
    return [actor["username"] for actor in item["actors"]]


async def ok(response) -> dict | None:
    assert response.status_code in (200, 201, 204), response.text
    return response.json() if response.content else None


async def like(client, user: User, post: dict, on: bool = True) -> None:
    method = client.post if on else client.delete
    await ok(await method(f"{POSTS}/{post['id']}/like", headers=user.headers))


async def comment(client, user: User, post: dict, text: str, reply_to: str | None = None) -> dict:
    body = {"text": text} | ({"reply_to": reply_to} if reply_to else {})
    return await ok(await client.post(f"{POSTS}/{post['id']}/comments", headers=user.headers, json=body))


async def act_on(client, user: User, other: User, what: str, on: bool = True) -> None:
    """follow or block `other` (on), or undo it."""
    method = client.post if on else client.delete
    await ok(await method(f"/api/v1/users/{other.username}/{what}", headers=user.headers))


async def make_private(client, user: User) -> None:
    await ok(await client.patch("/api/v1/me", headers=user.headers, json={"private": True}))


def move_clock(client, hours: float) -> None:
    """Move the notifications' clock forward (the grouping window reads it), once the
    events so far are handled at the time they happened."""
    settle(client)
    service = state_of(client).notifications
    earlier = service.clock
    service.clock = lambda: earlier() + int(hours * HOUR_MS)


class FakeSocket(MessagesSocket):
    """A connection registered with the hub (the messages tests' fake), read for notifications."""

    def frames(self) -> list[dict]:
        """The notification frames received since the last call, decoded."""
        found = []
        while not self.queue.empty():
            frame = msgspec.json.decode(self.queue.get_nowait())
            if frame["type"] == "notification":
                found.append(frame)
        return found
