"""/ws from a browser: the HttpOnly session cookie authenticates the handshake; the Origin check stays."""

from __future__ import annotations

import pytest
from litestar.exceptions import WebSocketDisconnect

from tests.conftest import register


def cookie(token: str) -> dict:
    return {"Cookie": f"instamini_session={token}"}


async def closed_with(client, headers: dict) -> int:
    with pytest.raises(WebSocketDisconnect) as raised:
        with await client.websocket_connect("/ws", headers=headers) as socket:
            socket.receive_text()
    return raised.value.code


async def test_the_session_cookie_opens_the_socket(client, alice):
    headers = cookie(alice.token) | {"Origin": "http://testserver.local"}
    with await client.websocket_connect("/ws", headers=headers) as socket:
        assert socket.accepted_subprotocol is None
        socket.send_text('{"type": "ping"}')
        assert socket.receive_json() == {"type": "pong"}


async def test_pushes_reach_a_cookie_socket(client, alice):
    bob = await register(client, "bob")
    with await client.websocket_connect("/ws", headers=cookie(alice.token)) as socket:
        response = await client.post("/api/v1/users/alice/follow", headers=bob.headers)
        assert response.status_code == 200, response.text
        frame = socket.receive_json()
        assert frame["type"] == "notification", frame


async def test_a_foreign_origin_is_refused_even_with_the_cookie(client, alice):
    assert await closed_with(client, cookie(alice.token) | {"Origin": "https://evil.example"}) == 4403


async def test_a_stale_cookie_is_4401(client, alice):
    assert await closed_with(client, cookie("stale-token")) == 4401
    assert await closed_with(client, cookie("x" * 500)) == 4401


async def test_a_bearer_header_wins_over_the_cookie(client, alice):
    # A bad bearer header is refused even though the cookie is good: the header was chosen.
    assert await closed_with(client, cookie(alice.token) | {"Authorization": "Bearer wrong"}) == 4401


async def test_logout_closes_the_cookie_socket(client, alice):
    with pytest.raises(WebSocketDisconnect) as raised:
        with await client.websocket_connect("/ws", headers=cookie(alice.token)) as socket:
            socket.send_text('{"type": "ping"}')
            assert socket.receive_json() == {"type": "pong"}
            response = await client.delete("/api/v1/sessions/current", headers=alice.headers)
            assert response.status_code == 204
            socket.receive_text()
    assert raised.value.code == 4401
