"""Two real websocket clients on the real server: messages, acks, typing and read receipts."""

from __future__ import annotations

import json

import anyio
import httpx
from websockets.asyncio.client import connect

from instamini.bench.server import ServerProcess

LIMITS = "[accounts]\nregistrations_per_address_per_minute = 1000\n"


async def next_of(socket, kind: str, timeout: float = 10.0) -> dict:
    """The next frame of this type; frames of other types (notifications ...) are skipped."""
    with anyio.fail_after(timeout):
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == kind:
                return frame


async def test_two_clients_exchange_messages_typing_and_receipts(tmp_path):
    config = tmp_path / "ws.toml"
    config.write_text(LIMITS)
    with ServerProcess(config, tmp_path / "data") as server:
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            tokens = {}
            for name in ("alice", "bob"):
                body = (await http.post("/api/v1/accounts", json={"username": name, "password": "correct horse"})).json()
                tokens[name] = body["token"]
            auth = {name: {"Authorization": f"Bearer {token}"} for name, token in tokens.items()}
            thread = (await http.post("/api/v1/threads", json={"usernames": ["bob"]}, headers=auth["alice"])).json()
        url = server.url.replace("http://", "ws://") + "/ws"
        async with (
            connect(url, additional_headers=auth["alice"]) as phone,
            connect(url, additional_headers=auth["alice"]) as laptop,
            connect(url, subprotocols=["bearer", tokens["bob"]]) as bob,
        ):
            for socket in (phone, laptop, bob):  # a round trip each: all three are in the hub
                await socket.send('{"type": "ping"}')
                assert (await next_of(socket, "pong"))["type"] == "pong"

            await phone.send(json.dumps({"type": "message", "thread_id": thread["id"], "text": "hi bob", "client_id": "c1"}))
            ack = await next_of(phone, "ack")
            assert ack["client_id"] == "c1" and ack["message"]["text"] == "hi bob"
            for socket in (laptop, bob):  # the sender's other device too
                pushed = await next_of(socket, "message")
                assert pushed["message"]["id"] == ack["message"]["id"] and pushed["thread_id"] == thread["id"]

            await bob.send(json.dumps({"type": "typing", "thread_id": thread["id"]}))
            for socket in (phone, laptop):
                assert (await next_of(socket, "typing"))["thread_id"] == thread["id"]

            await bob.send(json.dumps({"type": "read", "thread_id": thread["id"], "message_id": ack["message"]["id"]}))
            receipt = await next_of(phone, "read")
            assert receipt["message_id"] == ack["message"]["id"]

            await bob.send(json.dumps({"type": "message", "thread_id": "12345", "text": "not my thread"}))
            error = await next_of(bob, "error")
            assert error["code"] == "404"
        async with httpx.AsyncClient(base_url=server.url, timeout=10) as http:
            history = (await http.get(f"/api/v1/threads/{thread['id']}/messages", headers=auth["bob"])).json()
            assert [m["text"] for m in history["items"]] == ["hi bob"]
            threads = (await http.get("/api/v1/threads", headers=auth["bob"], params={"folder": "requests"})).json()
            assert threads["items"][0]["unread_count"] == 0  # bob read it
