"""The client side of the realtime benchmark: many sockets in one process, and raw HTTP.

The idea: one asyncio process holds thousands of `/ws` sockets with the `websockets`
client, each with one reader task. The reader answers the server's application-level
`ping` frame with `pong` (the gateway's heartbeat must see a live client, as a phone
would answer it) and hands every other frame, with its arrival time on the loop's clock,
to a callback. Frames are decoded once by a typed msgspec decoder that reads only the
fields the benchmark matches on (the sequence number in a message's text, an ack's
client_id, a notification's kind and post); the rest of each frame is skipped, not
built. The library's own protocol-level pings and per-message deflate are off: the
server's heartbeat is what is exercised, and deflate would hold a compression context
per socket on both sides. The HTTP calls made while sockets are open (threads, likes,
/healthz) go over one raw keep-alive connection each (openloop.py's request encoding),
so that their latency is the server's and not a client library's.

Cost: per socket, a websockets connection and one task (about 20 KB of client memory);
per frame received, one decode and a callback; opening is bounded by a semaphore, so at
most `concurrency` handshakes are in flight at once.
"""

from __future__ import annotations

import asyncio
import gc
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass

import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from .loadgen import CONTENT_LENGTH
from .openloop import encode_request, headers_block

PONG = '{"type":"pong"}'
ABNORMAL = 1006  # the socket went without a close frame


class MessageBody(msgspec.Struct):
    text: str = ""


class NotificationBody(msgspec.Struct):
    kind: str = ""
    post_id: str | None = None


class ServerFrame(msgspec.Struct):
    """What the benchmark reads of a server frame; unknown fields are skipped."""

    type: str
    client_id: str | None = None
    message: MessageBody | None = None
    notification: NotificationBody | None = None
    code: str | None = None  # of an error frame


decode_frame = msgspec.json.Decoder(ServerFrame).decode
OnFrame = Callable[["Peer", ServerFrame, float], None]


class Peer:
    """One open socket of `user`: its reader runs until the socket closes or `close()`."""

    def __init__(self, user: str, socket: ClientConnection, on_frame: OnFrame | None) -> None:
        self.user, self.socket, self.on_frame = user, socket, on_frame
        self.pings = 0  # the server's heartbeat pings answered
        self.closed_code: int | None = None  # set when the server closed the socket
        self.reader = asyncio.get_running_loop().create_task(self._read())

    async def _read(self) -> None:
        clock = asyncio.get_running_loop().time
        try:
            while True:
                frame = decode_frame(await self.socket.recv(decode=False))  # bytes: no str decode
                if frame.type == "ping":
                    self.pings += 1
                    await self.socket.send(PONG)
                elif self.on_frame is not None:
                    self.on_frame(self, frame, clock())
        except ConnectionClosed as closed:
            self.closed_code = closed.rcvd.code if closed.rcvd else ABNORMAL

    async def send(self, text: str) -> None:
        await self.socket.send(text)

    async def close(self) -> None:
        self.reader.cancel()  # recv is cancellation-safe; the close handshake runs on its own
        await self.socket.close()


async def open_peer(url: str, user: str, token: str, on_frame: OnFrame | None, timeout: float = 30.0) -> Peer:
    socket = await connect(
        url, additional_headers={"Authorization": f"Bearer {token}"}, compression=None, ping_interval=None,
        proxy=None, open_timeout=timeout, close_timeout=5,
    )
    return Peer(user, socket, on_frame)


@dataclass
class Opened:
    peers: list[Peer]
    handshakes: list[float]  # seconds, of those that opened
    failures: list[str]  # one line per socket that did not open
    seconds: float


async def open_many(
    url: str, logins: list[tuple[str, str]], on_frame: OnFrame | None, *, concurrency: int, progress: str = ""
) -> Opened:
    """Open a socket per (user, token), at most `concurrency` handshakes at once."""
    loop, gate = asyncio.get_running_loop(), asyncio.Semaphore(concurrency)
    peers, handshakes, failures = [], [], []
    step = max(1000, len(logins) // 10)
    started = loop.time()

    async def one(user: str, token: str) -> None:
        async with gate:
            begun = loop.time()
            try:
                peers.append(await open_peer(url, user, token, on_frame))
            except Exception as error:  # refused, reset, closed with 4401, timed out: counted, not fatal
                failures.append(f"{type(error).__name__}: {error}")
                return
            handshakes.append(loop.time() - begun)
        if (len(peers) + len(failures)) % step == 0:
            # The client's own full collections would walk every socket opened so far (and
            # count as handshake time): what is open is frozen out of them; close_all thaws it.
            gc.freeze()
        if progress and (len(peers) + len(failures)) % step == 0:
            print(f"  {progress}: {len(peers)} open, {len(failures)} failed, {loop.time() - started:.1f} s",
                  file=sys.stderr, flush=True)

    await asyncio.gather(*(one(user, token) for user, token in logins))
    return Opened(peers, handshakes, failures, loop.time() - started)


class GcPauses:
    """The client's own garbage-collector pauses while it measures (they delay its reads).

    `settle()` collects once and freezes what survives (the open sockets), so that the
    collections during a measured phase do not walk thousands of long-lived sockets again;
    `pauses` keeps each collection of the oldest generation (seconds) from then on."""

    def __init__(self) -> None:
        self.pauses: list[float] = []
        self._started = 0.0

    def settle(self) -> None:
        gc.collect()
        gc.freeze()
        self.pauses.clear()
        if self._record not in gc.callbacks:
            gc.callbacks.append(self._record)

    def stop(self) -> list[float]:
        if self._record in gc.callbacks:
            gc.callbacks.remove(self._record)
        gc.unfreeze()
        return self.pauses

    def _record(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.pauses.append(time.perf_counter() - self._started)


async def close_all(peers: list[Peer], concurrency: int = 256) -> None:
    gate = asyncio.Semaphore(concurrency)

    async def one(peer: Peer) -> None:
        async with gate:
            await peer.close()

    await asyncio.gather(*(one(peer) for peer in peers), return_exceptions=True)
    gc.unfreeze()


class Http:
    """One keep-alive HTTP/1.1 connection; requests go one after another."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port
        self.streams: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None

    async def request(self, method: str, path: str, token: str | None = None, body: object = None) -> tuple[int, bytes]:
        if self.streams is None:
            self.streams = await asyncio.open_connection(self.host, self.port)
        reader, writer = self.streams
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        payload = b"" if body is None else msgspec.json.encode(body)
        if method != "GET" and not payload:
            headers["Content-Length"] = "0"  # a POST without a body still says so
        writer.write(encode_request(method, path, headers_block(headers), payload))
        head = await reader.readuntil(b"\r\n\r\n")
        match = CONTENT_LENGTH.search(head)
        answer = await reader.readexactly(int(match.group(1))) if match else b""
        return int(head[9:12]), answer

    def close(self) -> None:
        if self.streams is not None:
            self.streams[1].close()
            self.streams = None
