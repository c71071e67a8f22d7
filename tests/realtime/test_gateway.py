"""The /ws gateway in-process: handshake, typed frames, limits, pushes, logout."""

from __future__ import annotations

import json

import msgspec
import pytest
from litestar.exceptions import WebSocketDisconnect
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.realtime import frames
from tests.accounts.helpers import sync_in_app
from tests.conftest import make_config, register


async def ws(client, user=None, **kwargs):
    headers = dict(user.headers) if user is not None else {}
    headers.update(kwargs.pop("headers", {}))
    return await client.websocket_connect("/ws", headers=headers, **kwargs)


async def closed_with(client, **kwargs) -> int:
    with pytest.raises(WebSocketDisconnect) as raised:
        with await ws(client, **kwargs) as socket:
            socket.receive_text()
    return raised.value.code


async def test_a_handshake_without_a_valid_session_is_closed_4401(client, alice):
    assert await closed_with(client) == 4401
    assert await closed_with(client, headers={"Authorization": "Bearer not-a-token"}) == 4401
    assert await closed_with(client, headers={"Authorization": "Basic abc"}) == 4401


async def test_a_foreign_origin_is_closed_4403_and_our_own_is_welcome(client, alice):
    assert await closed_with(client, user=alice, headers={"Origin": "https://evil.example"}) == 4403
    with await ws(client, alice, headers={"Origin": "http://testserver.local"}) as socket:
        socket.send_text('{"type": "ping"}')
        assert socket.receive_json() == {"type": "pong"}


async def test_a_browser_authenticates_with_the_bearer_subprotocol(client, alice):
    with await client.websocket_connect("/ws", subprotocols=["bearer", alice.token]) as socket:
        assert socket.accepted_subprotocol == "bearer"
        socket.send_text('{"type": "ping"}')
        assert socket.receive_json() == {"type": "pong"}


@pytest.mark.parametrize(
    "frame",
    ['{"type": "ping"', '[]', '{"type": "nonsense"}', '{"no": "type"}', '{"type": "typing", "thread_id": 5}',
     '{"type": "read", "thread_id": "1"}', '{"type": "ping", "extra": 1}', "\x00\x01", '{"type": "typing", "thread_id": "1x"}'],
)
async def test_bad_frames_get_an_error_frame_and_the_socket_stays_open(client, alice, frame):
    with await ws(client, alice) as socket:
        socket.send_text(frame)
        answer = socket.receive_json()
        assert answer["type"] == "error" and answer["code"] == "bad_frame", answer
        socket.send_text('{"type": "ping"}')
        assert socket.receive_json() == {"type": "pong"}


async def test_an_oversized_frame_closes_the_socket_1009(client, alice):
    with pytest.raises(WebSocketDisconnect) as raised, await ws(client, alice) as socket:
        socket.send_text(json.dumps({"type": "ping", "pad": "x" * 20_000}))
        socket.receive_text()
    assert raised.value.code == 1009


async def test_a_flood_is_refused_then_closed(tmp_path):
    config = make_config(tmp_path / "data")
    realtime = msgspec.structs.replace(config.realtime, frames_per_second=1, frame_burst=3)
    async with AsyncTestClient(create_app(msgspec.structs.replace(config, realtime=realtime))) as client:
        alice = await register(client, "alice")
        with pytest.raises(WebSocketDisconnect) as raised, await ws(client, alice) as socket:
            answers = []
            for _ in range(30):
                socket.send_text('{"type": "ping"}')
            while True:
                answers.append(socket.receive_json())
        assert raised.value.code == 1008
        assert answers[:3] == [{"type": "pong"}] * 3
        assert {"type": "error", "code": "rate_limited", "detail": "at most 1 frames a second"} in answers


async def test_frames_published_to_a_user_reach_each_of_their_devices(client, alice, bob):
    with await ws(client, alice) as phone, await ws(client, alice) as laptop, await ws(client, bob) as other:
        for socket in (phone, laptop, other):  # a round trip each: all three are registered
            socket.send_text('{"type": "ping"}')
            socket.receive_json()
        queued = sync_in_app(client, client.app.state.hub.publish, [int(alice.id)], frames.encode("notification", n=1))
        assert queued == 2
        assert phone.receive_json() == {"type": "notification", "n": 1}
        assert laptop.receive_json() == {"type": "notification", "n": 1}
        other.send_text('{"type": "ping"}')
        assert other.receive_json() == {"type": "pong"}  # bob got nothing before his own pong


async def test_logging_out_closes_that_sessions_sockets(client, alice):
    second = (await client.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})).json()["token"]
    with await ws(client, alice) as first_device, await ws(client, headers={"Authorization": f"Bearer {second}"}) as second_device:
        for socket in (first_device, second_device):
            socket.send_text('{"type": "ping"}')
            socket.receive_json()
        assert (await client.delete("/api/v1/sessions/current", headers=alice.headers)).status_code == 204
        with pytest.raises(WebSocketDisconnect) as raised:
            first_device.receive_text()
        assert raised.value.code == 4401
        assert client.app.state.hub.connections(int(alice.id)) == 1  # it left the hub before closing
        second_device.send_text('{"type": "ping"}')
        assert second_device.receive_json() == {"type": "pong"}


async def test_metrics_count_open_sockets(client, alice):
    with await ws(client, alice) as socket:
        socket.send_text('{"type": "ping"}')
        socket.receive_json()
        text = (await client.get("/metrics")).text
        assert "instamini_ws_connections 1.0" in text and "instamini_ws_users_online 1.0" in text


def app_with_realtime(tmp_path, **settings):
    """The app on a fresh data directory with these `[realtime]` settings changed."""
    config = make_config(tmp_path / "data")
    return create_app(msgspec.structs.replace(config, realtime=msgspec.structs.replace(config.realtime, **settings)))


async def test_a_socket_whose_queue_overflows_is_closed_1008_and_others_are_not(tmp_path):
    async with AsyncTestClient(app_with_realtime(tmp_path, send_queue_frames=2)) as client:
        alice, bob = await register(client, "alice"), await register(client, "bob")
        with await ws(client, alice) as slow, await ws(client, bob) as fine:
            for socket in (slow, fine):
                socket.send_text('{"type": "ping"}')
                socket.receive_json()
            burst = [frames.encode("notification", n=i) for i in range(5)]

            def publish_burst() -> None:  # all at once, before the writer can send any
                for frame in burst:
                    client.app.state.hub.publish([int(alice.id)], frame)
                client.app.state.hub.publish([int(bob.id)], frames.encode("notification", n="bob"))

            sync_in_app(client, publish_burst)
            with pytest.raises(WebSocketDisconnect) as raised:
                while True:
                    slow.receive_json()
            assert raised.value.code == 1008
            assert fine.receive_json() == {"type": "notification", "n": "bob"}
            assert client.app.state.hub.dropped_slow == 3


async def test_without_a_session_the_socket_is_accepted_then_closed_4401(client):
    # Refused before the upgrade, a real server (granian) answers HTTP 403 and a browser
    # sees only code 1006: the web app (js/live.js) would retry forever instead of
    # stopping at 4401. So the handshake completes, and the first thing sent is the close.
    stage = "handshake"
    with pytest.raises(WebSocketDisconnect) as raised:
        with await ws(client, headers={"Authorization": "Bearer not-a-token"}) as socket:
            stage = "accepted"  # entering the session is the handshake
            socket.receive_text()
    assert (stage, raised.value.code) == ("accepted", 4401)


async def test_sockets_per_user_are_capped_and_others_are_served(tmp_path):
    async with AsyncTestClient(app_with_realtime(tmp_path, max_sockets_per_user=2)) as client:
        alice, bob = await register(client, "alice"), await register(client, "bob")
        with await ws(client, alice) as first, await ws(client, alice) as second:
            for socket in (first, second):
                socket.send_text('{"type": "ping"}')
                assert socket.receive_json() == {"type": "pong"}
            with pytest.raises(WebSocketDisconnect) as raised, await ws(client, alice) as third:
                third.receive_text()
            assert raised.value.code == 1013 and "2 sockets" in raised.value.detail
            with await ws(client, bob) as other:  # the cap is per user
                other.send_text('{"type": "ping"}')
                assert other.receive_json() == {"type": "pong"}
            assert client.app.state.hub.connections(int(alice.id)) == 2  # the refused one never joined the hub


async def test_a_reconnect_flood_from_one_address_is_refused_before_the_session_is_looked_at(tmp_path):
    config = make_config(tmp_path / "data", "\n[realtime]\nhandshakes_per_address_per_minute = 3\n")
    async with AsyncTestClient(create_app(config)) as client:
        alice = await register(client, "alice")
        looked_up = []
        accounts = client.app.state.accounts
        authenticate = accounts.authenticate
        accounts.authenticate = lambda token: looked_up.append(token) or authenticate(token)
        for _ in range(3):
            with await ws(client, alice) as socket:
                socket.send_text('{"type": "ping"}')
                assert socket.receive_json() == {"type": "pong"}
        assert await closed_with(client, user=alice) == 1013  # the fourth within the minute
        assert len(looked_up) == 3
        # A minute later the address may open sockets again.
        handshakes = client.app.state.handshakes
        later = handshakes.clock() + 61
        handshakes.clock = lambda: later
        with await ws(client, alice) as socket:
            socket.send_text('{"type": "ping"}')
            assert socket.receive_json() == {"type": "pong"}
