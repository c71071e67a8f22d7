"""Helpers for the messages tests: threads, sending, a fake socket on the hub, events, stores."""

from __future__ import annotations

import asyncio

import msgspec

from instamini.realtime.hub import Hub
from tests.accounts.helpers import in_app, snapshot, state_of
from tests.conftest import User
from tests.posts.helpers import EventLog as PostsEventLog

THREADS = "/api/v1/threads"
# Every row the messages module writes.
TABLES = {
    "threads": "SELECT id, kind, creator_id, last_message_id FROM threads ORDER BY id",
    "thread_members": "SELECT thread_id, user_id, last_read_message_id, folder FROM thread_members ORDER BY thread_id, user_id",
    "messages": "SELECT id, thread_id, sender_id, text, media, post_id FROM messages ORDER BY id",
    "messages_outbox": "SELECT id, shard, rows FROM messages_outbox ORDER BY id",
    "user_threads": "SELECT user_id, thread_id, last_activity_id, folder, peer_id FROM user_threads ORDER BY user_id, thread_id",
    "message_media": "SELECT media_id, thread_id, message_id FROM message_media ORDER BY media_id",
}


async def stored(client) -> dict[str, list[tuple]]:
    return await snapshot(client, TABLES)


async def start(client, user: User, *others: User | str, status: int = 201) -> dict:
    names = [other if isinstance(other, str) else other.username for other in others]
    response = await client.post(THREADS, headers=user.headers, json={"usernames": names})
    assert response.status_code == status, response.text
    return response.json()


async def send(client, user: User, thread_id: str, text: str = "hi", **fields) -> dict:
    response = await client.post(f"{THREADS}/{thread_id}/messages", headers=user.headers, json={"text": text, **fields})
    assert response.status_code == 201, response.text
    return response.json()


async def thread_of(client, user: User, thread_id: str) -> dict:
    response = await client.get(f"{THREADS}/{thread_id}", headers=user.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def listed(client, user: User, folder: str = "inbox", limit: int = 100) -> list[dict]:
    response = await client.get(THREADS, headers=user.headers, params={"folder": folder, "limit": limit})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def texts(client, user: User, thread_id: str, limit: int = 100) -> list[str]:
    """The texts of a thread's history as the user sees it, newest first."""
    response = await client.get(f"{THREADS}/{thread_id}/messages", headers=user.headers, params={"limit": limit})
    assert response.status_code == 200, response.text
    return [item["text"] for item in response.json()["items"]]


async def mark_read(client, user: User, thread_id: str, message_id: str) -> dict:
    response = await client.post(f"{THREADS}/{thread_id}/read", headers=user.headers, json={"message_id": message_id})
    assert response.status_code == 200, response.text
    return response.json()


OUR_FRAMES = ("message", "read", "typing")


class FakeSocket:
    """What the hub needs of a connection (its Socket protocol), collecting what it is sent."""

    def __init__(self, user: User) -> None:
        self.user_id = int(user.id)
        self.token_digest = user.token.encode()
        self.queue: asyncio.Queue = asyncio.Queue(maxsize=100)
        self.closed: tuple[int, str] | None = None

    def overflow(self) -> None:
        self.closed = (1008, "too slow")

    def close_soon(self, code: int, reason: str) -> None:
        self.closed = (code, reason)

    def frames(self) -> list[dict]:
        """The messages module's frames received since the last call, decoded (others, such
        as the notifications that listeners of "message.sent" push, are left out)."""
        found = []
        while not self.queue.empty():
            frame = msgspec.json.decode(self.queue.get_nowait())
            if frame["type"] in OUR_FRAMES:
                found.append(frame)
        return found


def hub_of(client) -> Hub:
    """The app's hub; one is made (and handed to the service) if the realtime module is off."""
    state = state_of(client)
    if state.get("hub") is None:
        state.hub = Hub()
    state.messages.hub = state.hub
    return state.hub


def connect(client, user: User) -> FakeSocket:
    socket = FakeSocket(user)
    hub_of(client).add(socket)
    return socket


class EventLog(PostsEventLog):
    """The posts tests' recorder, on the messages service: each event is checked to come
    after its commit (seen through another connection) with the documented keys."""

    committed = {
        "message.sent": ("thread_id", "SELECT 1 FROM messages WHERE id = ? AND thread_id = ?", ("message_id", "thread_id"), True),
        "message.read": (
            "thread_id",
            "SELECT 1 FROM thread_members WHERE thread_id = ? AND user_id = ? AND last_read_message_id >= ?",
            ("thread_id", "user_id", "message_id"),
            True,
        ),
    }

    def services(self) -> list:
        return [self.state.messages]


def service_call(client, method: str, *args, **kwargs):
    """Call a MessagesService method on the app's loop (the gateway's way in)."""
    service = state_of(client).messages

    async def run():
        return await getattr(service, method)(*args, **kwargs)

    return in_app(client, run)
