"""Abusing /ws on a real server: foreign origins, no session, oversized and malformed frames,
floods and too many sockets are refused or closed, and everyone else is still served.

The idea: the gateway's limits (realtime/gateway.py, connection.py) are tested in-process in
tests/realtime; here they meet granian and real sockets on 127.0.0.1, where the answers can
differ (a refused upgrade is an HTTP 403, which a browser never sees; a flooding client may
get a TCP reset instead of the close frame). One server serves the whole module; each test
uses its own accounts, and the last step of the module checks /healthz and a clean exit.

The flood test sends five direct messages to a bystander while another account floods and
reconnects without pause, and checks that each arrives within a generous bound (5 s);
`python -m tests.reliability.test_websocket_abuse` runs the same scenario with more
messages and prints the latencies (the figure in docs/reliability.md).

Cost: about 10 s (one server start, a few hundred sockets, a 2-second flood).
"""

from __future__ import annotations

import contextlib
import json
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import anyio
import httpx
import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from instamini.bench.server import ServerProcess, http_json

SOCKETS_PER_USER = 4
CONFIG = f"""
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
registrations_per_address_per_minute = 1000
[realtime]
max_sockets_per_user = {SOCKETS_PER_USER}
handshakes_per_address_per_minute = 100000  # every socket here comes from 127.0.0.1 (the cap: tests/realtime)
[moderation]
spam_rate_per_minute = 1000000   # alice writes faster than a person would; not spam here
"""
USERS = ("alice", "bob", "carol", "dave", "mallory", "oscar")
PING = '{"type": "ping"}'
ABNORMAL = 1006  # the connection ended without a close frame (a reset)
DM_BOUND_SECONDS = 5.0  # generous: the figure is tens of milliseconds


class Site:
    """The running server, its accounts' tokens and a thread from alice to bob."""

    def __init__(self, server: ServerProcess) -> None:
        self.server = server
        self.url = server.url.replace("http://", "ws://") + "/ws"
        with httpx.Client(base_url=server.url, timeout=30) as http:
            self.tokens = {
                name: http.post("/api/v1/accounts", json={"username": name, "password": "correct horse"}).json()["token"]
                for name in USERS
            }
            answer = http.post("/api/v1/threads", json={"usernames": ["bob"]}, headers=self.auth("alice"))
            self.thread_id = answer.json()["id"]

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}


@asynccontextmanager
async def opened(site: Site, name: str | None = None, **options) -> AsyncIterator[ClientConnection]:
    headers = {**(site.auth(name) if name else {}), **options.pop("headers", {})}
    async with connect(
        site.url, additional_headers=headers, compression=None, ping_interval=None, open_timeout=10, close_timeout=2,
        **options,
    ) as socket:
        yield socket


async def next_of(socket: ClientConnection, kind: str, timeout: float = 10.0) -> dict:
    with anyio.fail_after(timeout):
        while True:
            frame = json.loads(await socket.recv())
            if frame["type"] == kind:
                return frame


async def pongs(socket: ClientConnection) -> bool:
    await socket.send(PING)
    return (await next_of(socket, "pong"))["type"] == "pong"


async def closed_with(socket: ClientConnection, timeout: float = 10.0) -> tuple[int, str]:
    """Read until the server closes; its close code and reason (1006 after a reset)."""
    with anyio.fail_after(timeout):
        try:
            while True:
                await socket.recv()
        except ConnectionClosed as closed:
            return (closed.rcvd.code, closed.rcvd.reason) if closed.rcvd else (ABNORMAL, "")


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Site:
    root = tmp_path_factory.mktemp("ws-abuse")
    config = root / "ws.toml"
    config.write_text(CONFIG)
    with ServerProcess(config, root / "data") as server:
        yield Site(server)
        assert http_json("GET", server.url + "/healthz")[0] == 200  # up after every test of the module
    assert server.process.returncode == 0


# -- the handshake -------------------------------------------------------------------------


@pytest.mark.parametrize("origin", ["https://evil.example", "null", "http://127.0.0.1:1"])
async def test_a_foreign_origin_is_refused_before_the_upgrade(site, origin):
    with pytest.raises(InvalidStatus) as refused:
        async with opened(site, "alice", origin=origin):
            pass
    assert refused.value.response.status_code == 403
    with pytest.raises(InvalidStatus):  # the session cookie does not help either
        async with opened(site, origin=origin, headers={"Cookie": f"instamini_session={site.tokens['alice']}"}):
            pass
    port = site.server.port
    async with opened(site, "alice", origin=f"http://127.0.0.1:{port}") as own:  # this server's own page
        assert await pongs(own)


@pytest.mark.parametrize(
    "offer",
    [{}, {"headers": {"Authorization": "Bearer not-a-token"}}, {"headers": {"Authorization": "Basic YTpi"}},
     {"headers": {"Authorization": "Bearer " + "x" * 500}}, {"subprotocols": ["bearer", "not-a-token"]},
     {"headers": {"Cookie": "instamini_session=stale"}}],
    ids=["nothing", "bad token", "basic", "500-char token", "bad subprotocol token", "stale cookie"],
)
async def test_no_session_is_closed_4401_right_after_the_upgrade(site, offer):
    async with opened(site, **offer) as socket:
        assert await closed_with(socket) == (4401, "log in first")
        assert socket.subprotocol == ("bearer" if "subprotocols" in offer else None)  # browsers insist on it


# -- frames ---------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [16 * 1024 + 1, 8 * 2**20])
async def test_an_oversized_frame_closes_that_socket_1009_and_no_other(site, size):
    async with opened(site, "alice") as sender, opened(site, "alice") as same_user, opened(site, "bob") as other:
        for socket in (sender, same_user, other):
            assert await pongs(socket)
        await sender.send(json.dumps({"type": "ping", "pad": "x" * size}))
        assert await closed_with(sender) == (1009, "frames are limited to 16384 bytes")
        assert await pongs(same_user) and await pongs(other)


MALFORMED = [
    '{"type": "ping"', "[]", '{"type": "nonsense"}', '{"no": "type"}', "\x00\x01", "[" * 10_000,
    '"' + "a" * 16_000 + '"', '{"type": "ping", "extra": 1}', '{"type": "typing", "thread_id": 5}',
    '{"type": "message", "thread_id": "99999999999999999999", "text": "x"}',
]


async def test_malformed_frames_get_an_error_frame_and_the_socket_stays_open(site):
    async with opened(site, "carol") as socket:
        for frame in MALFORMED:
            await socket.send(frame)
            error = await next_of(socket, "error")
            assert error["code"] in ("bad_frame", "404"), (frame[:40], error)
            assert await pongs(socket)
        await socket.send(PING.encode())  # a binary frame: the protocol is text
        assert (await next_of(socket, "error"))["code"] == "bad_frame"
        assert await pongs(socket)


async def test_invalid_utf8_closes_only_that_socket(site):
    async with opened(site, "dave") as broken, opened(site, "dave") as fine:
        assert await pongs(broken) and await pongs(fine)
        await broken.send(b"\xff\xfe{}", text=True)  # a text frame that is not UTF-8
        code, _ = await closed_with(broken)
        assert code != 1000  # closed by the server (granian sends a close frame without a status)
        assert await pongs(fine)


async def test_frames_past_the_burst_get_rate_limited_errors_and_the_socket_stays(site):
    async with opened(site, "oscar") as socket:
        for _ in range(50):  # the burst is 40; 10 more are refused, under the 20 that close a socket
            await socket.send(PING)
        answers = [json.loads(await socket.recv()) for _ in range(50)]
        limited = [a for a in answers if a["type"] == "error"]
        assert {a["code"] for a in limited} == {"rate_limited"} and 1 <= len(limited) <= 10, answers
        assert len(answers) - len(limited) >= 40  # the whole burst was served


# -- floods and many sockets -------------------------------------------------------------------


class Flood:
    """One flooding socket: how many frames went out before the server cut it off, and how."""

    def __init__(self) -> None:
        self.sent = 0
        self.code: int | None = None

    async def run(self, site: Site) -> None:
        async with opened(site, "mallory") as socket, anyio.create_task_group() as group:
            group.start_soon(self._drain, socket)  # a reader, as a real client has
            with anyio.fail_after(30), contextlib.suppress(ConnectionClosed):
                while self.sent < 100_000:
                    await socket.send(PING)
                    self.sent += 1

    async def _drain(self, socket: ClientConnection) -> None:
        try:
            while True:
                await socket.recv()
        except ConnectionClosed as closed:
            self.code = closed.rcvd.code if closed.rcvd else ABNORMAL


async def flood_until(site: Site, stop: anyio.Event, floods: list[Flood]) -> None:
    """mallory floods a socket until the server closes it, and opens another, until `stop`."""
    while not stop.is_set():
        flood = Flood()
        await flood.run(site)
        floods.append(flood)


async def dm_latencies(site: Site, count: int, flood: bool = True) -> tuple[list[float], list[Flood]]:
    """Seconds from alice sending each of `count` messages to bob's socket receiving it,
    while mallory floods (unless `flood` is False: the baseline); and the flooding sockets."""
    floods: list[Flood] = []
    latencies = []
    stop = anyio.Event()
    async with opened(site, "alice") as alice, opened(site, "bob") as bob, anyio.create_task_group() as group:
        assert await pongs(alice) and await pongs(bob)
        if flood:
            group.start_soon(flood_until, site, stop, floods)
        with anyio.fail_after(30):
            while flood and not floods:  # the first flooding socket was closed; the next one is flooding
                await anyio.sleep(0.01)  # waiting for another task's progress, not for time
        for index in range(count):
            started = time.monotonic()
            await alice.send(json.dumps({"type": "message", "thread_id": site.thread_id, "text": f"during the flood {index}"}))
            frame = await next_of(bob, "message")
            latencies.append(time.monotonic() - started)
            assert frame["message"]["text"] == f"during the flood {index}"
            await next_of(alice, "ack")
            await anyio.sleep(0.2)  # alice's own pace, under the rate limit
        stop.set()
    return latencies, floods


async def test_a_flood_is_closed_and_a_dm_still_arrives_promptly(site):
    latencies, floods = await dm_latencies(site, 5)
    assert max(latencies) < DM_BOUND_SECONDS, latencies
    # Every flooding socket was cut off by the server (the client never closes it) long before
    # its 100,000 frames. The close frame (1008) is usually lost: the server closes with the
    # flood's frames still unread, so its kernel sends a reset, and the client's kernel drops
    # what it had not read yet (test_a_client_past_its_rate_is_told_then_closed_1008 shows
    # the close frame when the client reads its answers).
    assert floods and all(flood.code in (1008, ABNORMAL) and flood.sent < 100_000 for flood in floods)


async def test_a_client_past_its_rate_is_told_then_closed_1008(site):
    async with opened(site, "oscar") as socket:
        answers, started = [], time.monotonic()
        with contextlib.suppress(ConnectionClosed):
            for _ in range(1000):  # one at a time, as fast as round trips go: far past 20 a second
                await socket.send(PING)
                answers.append(json.loads(await socket.recv()))
        assert await closed_with(socket) == (1008, "too many frames")
        served = [a for a in answers if a["type"] == "pong"]
        assert len(served) <= 40 + 20 * (time.monotonic() - started) + 1  # the burst and the rate, no more
        assert answers[-19:] == [{"type": "error", "code": "rate_limited", "detail": "at most 20 frames a second"}] * 19


async def test_sockets_per_user_are_capped_and_others_are_served(site):
    async with opened(site, "carol") as first, opened(site, "carol") as second, opened(site, "carol") as third:
        async with opened(site, "carol") as fourth:
            for socket in (first, second, third, fourth):
                assert await pongs(socket)
            async with opened(site, "carol") as one_too_many:
                assert await closed_with(one_too_many) == (1013, f"at most {SOCKETS_PER_USER} sockets per account")
            async with opened(site, "dave") as someone_else:
                assert await pongs(someone_else)
            for socket in (first, second, third, fourth):
                assert await pongs(socket)


# -- the figure ------------------------------------------------------------------------------


async def _measure(count: int) -> None:
    with tempfile.TemporaryDirectory() as root:
        config = Path(root) / "ws.toml"
        config.write_text(CONFIG)
        with ServerProcess(config, Path(root) / "data") as server:
            site = Site(server)
            quiet, _ = await dm_latencies(site, count, flood=False)
            latencies, floods = await dm_latencies(site, count)
    for label, seconds in (("without a flood", quiet), ("during a flood", latencies)):
        ms = sorted(1000 * s for s in seconds)
        print(f"{count} DMs {label}: median {statistics.median(ms):.1f} ms, p90 {ms[int(0.9 * len(ms))]:.1f} ms, max {ms[-1]:.1f} ms")
    sent = sorted(flood.sent for flood in floods)
    print(f"{len(floods)} flooding sockets cut off; frames sent before the client saw it: median "
          f"{statistics.median(sent):.0f}, max {sent[-1]}; close codes seen {sorted({f.code for f in floods})}")


if __name__ == "__main__":
    anyio.run(_measure, int(sys.argv[1]) if len(sys.argv) > 1 else 50)
