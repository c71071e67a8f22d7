"""The `/ws` gateway: the handshake, then a reader, a writer and a heartbeat per socket.

Handshake: the session token comes in the `Authorization: Bearer` header (API clients),
as the subprotocol pair `["bearer", "<token>"]` (a script that holds a token: it cannot
set headers on a websocket), or else in the HttpOnly session cookie that the browser
sends with the handshake (the web app, which never sees its token). A browser's
`Origin` must be this server or one of `[server] allowed_origins`: a websocket is not
bound by the same-origin policy and carries the cookie whichever page opens it, so
this check is what stops another site from opening a socket with a user's session
(cross-site websocket hijacking). A foreign origin is refused before the upgrade (a
real server answers HTTP 403; nothing of the session is looked at). No valid session:
the upgrade completes and the socket is closed at once with 4401, because a browser
never sees why an upgrade was refused (only 1006), and the web app must know to stop
reconnecting. One account holds at most `max_sockets_per_user` sockets on an instance
(a tab or a device each); one more is closed with 1013 (try again later). One client
address opens at most `handshakes_per_address_per_minute` sockets a minute
(sliding_window.py); past that the upgrade is refused (HTTP 403) before anything of the
session is looked at, so a reconnect flood costs the server no session lookup.

Then three tasks share the socket: the reader decodes each frame with the one typed
decoder (frames.py), within the size cap and the rate limit, and dispatches it; the
writer sends what the hub queued; the heartbeat pings a quiet socket and closes one
that stays silent past `idle_timeout_seconds`. When any ends, all end, and the
connection leaves the hub.

Cost: three small tasks and one queue per socket; per frame, one decode and a dispatch.
"""

from __future__ import annotations

import logging
import time

import anyio
import msgspec
from litestar import WebSocket, websocket
from litestar.datastructures import State
from litestar.exceptions import WebSocketDisconnect

from ..accounts.auth import SESSION_COOKIE, origin_allowed
from ..accounts.service import token_hash
from ..cluster import RpcError
from ..errors import InstaminiError, NotAuthenticated
from . import frames
from .connection import FORBIDDEN_ORIGIN, NOT_AUTHENTICATED, TOO_BIG, TRY_AGAIN_LATER, Connection, TokenBucket

log = logging.getLogger(__name__)
# A client this far over its rate limit (frames refused in a row) is closed, not warned.
CLOSE_AFTER_REFUSED = 20


def offered_token(socket: WebSocket) -> tuple[str | None, str | None]:
    """(token, subprotocol to accept) from the header, the `bearer, <token>` subprotocols
    or, when neither is offered, the session cookie."""
    header = socket.headers.get("authorization")
    if header:
        scheme, _, token = header.partition(" ")
        return (token.strip() if scheme.lower() == "bearer" else None), None
    protocols = [p.strip() for p in socket.headers.get("sec-websocket-protocol", "").split(",") if p.strip()]
    if len(protocols) == 2 and protocols[0] == "bearer":
        return protocols[1], "bearer"
    return socket.cookies.get(SESSION_COOKIE) or None, None


async def handshake(socket: WebSocket, state: State) -> tuple[int, str, str | None] | None:
    config = state.config
    if not origin_allowed(socket.headers.get("origin"), socket.headers.get("host"), config.server.allowed_origins):
        await socket.close(code=FORBIDDEN_ORIGIN, reason="origin not allowed")
        return None
    address = socket.client.host if socket.client else ""
    if state.handshakes.retry_after(address) is not None:
        await socket.close(code=TRY_AGAIN_LATER, reason="too many sockets opened from this address; try again later")
        return None
    state.handshakes.record(address)
    token, subprotocol = offered_token(socket)
    try:
        if not token or len(token) > 128:
            raise NotAuthenticated("no session")
        user_id = await state.accounts.authenticate(token)
    except NotAuthenticated:
        # Accepted (with the subprotocol offered: a browser fails a handshake that drops it)
        # so that the client gets the close code, not a bare refusal.
        await socket.accept(subprotocols=subprotocol)
        await socket.close(code=NOT_AUTHENTICATED, reason="log in first")
        return None
    return user_id, token, subprotocol


@websocket("/ws", opt={"exclude_from_auth": True})
async def gateway(socket: WebSocket, state: State) -> None:
    accepted = await handshake(socket, state)
    if accepted is None:
        return
    user_id, token, subprotocol = accepted
    settings = state.config.realtime
    await socket.accept(subprotocols=subprotocol)
    hub = state.hub
    # No await between this count and hub.add: two handshakes cannot both take the last place.
    if hub.connections(user_id) >= settings.max_sockets_per_user:
        await socket.close(code=TRY_AGAIN_LATER, reason=f"at most {settings.max_sockets_per_user} sockets per account")
        return
    bucket = TokenBucket(settings.frames_per_second, settings.frame_burst)
    connection = Connection(user_id, token_hash(token), settings.send_queue_frames, bucket)
    hub.add(connection)
    session = Session(socket, connection, state)
    try:
        async with anyio.create_task_group() as tasks:
            connection.scope = tasks.cancel_scope
            tasks.start_soon(session.write)
            tasks.start_soon(session.heartbeat)
            await session.read()
            tasks.cancel_scope.cancel()
    finally:
        hub.remove(connection)
        with anyio.CancelScope(shield=True):
            await session.close()


class Session:
    """The three loops of one socket."""

    def __init__(self, socket: WebSocket, connection: Connection, state: State) -> None:
        self.socket, self.connection, self.state = socket, connection, state
        self.settings = state.config.realtime
        self.last_heard = time.monotonic()
        self.disconnected = False

    async def read(self) -> None:
        while True:
            try:
                data = await self.socket.receive_data(mode="text")
            except WebSocketDisconnect:
                self.disconnected = True
                return
            self.last_heard = time.monotonic()
            raw = data.encode() if isinstance(data, str) else data
            if len(raw) > self.settings.max_frame_bytes:
                self.connection.close_soon(TOO_BIG, f"frames are limited to {self.settings.max_frame_bytes} bytes")
                return
            if not self.connection.bucket.take():
                self.connection.refused += 1
                if self.connection.refused >= CLOSE_AFTER_REFUSED:
                    self.connection.close_soon(1008, "too many frames")
                    return
                self.send(frames.error("rate_limited", f"at most {self.settings.frames_per_second} frames a second"))
                continue
            self.connection.refused = 0
            await self.dispatch(raw)

    async def dispatch(self, raw: bytes) -> None:
        try:
            frame = frames.client_frames.decode(raw)
        except (msgspec.ValidationError, msgspec.DecodeError) as error:
            self.send(frames.error("bad_frame", str(error)))
            return
        try:
            await self.handle(frame)
        except InstaminiError as error:
            self.send(frames.error(str(error.status_code), error.detail))
        except RpcError:  # in a cluster, the instance that owns the thread did not answer
            self.send(frames.error("unavailable", "the server holding this thread did not answer; try again"))
        except RecursionError:
            self.send(frames.error("bad_frame", "nested too deeply"))

    async def handle(self, frame: frames.Frame) -> None:
        user_id, messages = self.connection.user_id, self.state.get("messages")
        if isinstance(frame, frames.Ping):
            self.send(frames.encode("pong"))
            return
        if isinstance(frame, frames.Pong):
            return
        if messages is None:
            self.send(frames.error("unavailable", "messages are switched off on this server"))
            return
        if isinstance(frame, frames.Typing):
            await messages.typing(user_id, int(frame.thread_id), skip_socket=self.connection)
        elif isinstance(frame, frames.Read):
            await messages.mark_read(user_id, int(frame.thread_id), int(frame.message_id))
        elif isinstance(frame, frames.SendMessage):
            view = await messages.send(
                user_id,
                int(frame.thread_id),
                frame.text,
                None if frame.media_id is None else int(frame.media_id),
                None if frame.post_id is None else int(frame.post_id),
                skip_socket=self.connection,
            )
            from ..messages.views import message_out  # the messages module is optional

            self.send(frames.encode("ack", client_id=frame.client_id, message=message_out(view)))

    def send(self, frame: bytes) -> None:
        """A reply to this socket goes through its queue, like everything else."""
        try:
            self.connection.queue.put_nowait(frame)
        except Exception:  # asyncio.QueueFull: this client does not read
            self.connection.overflow()

    async def write(self) -> None:
        while True:
            frame = await self.connection.queue.get()
            try:
                await self.socket.send_data(frame, mode="text")
            except (WebSocketDisconnect, OSError, RuntimeError):
                self.disconnected = True
                self.connection.close_soon(1001, "gone")
                return

    async def heartbeat(self) -> None:
        while True:
            await anyio.sleep(self.settings.heartbeat_seconds)
            silent = time.monotonic() - self.last_heard
            if silent > self.settings.idle_timeout_seconds:
                self.connection.close_soon(1001, "no frame for too long")
                return
            if silent > self.settings.heartbeat_seconds:
                self.send(frames.encode("ping"))

    async def close(self) -> None:
        if self.disconnected:
            return
        code, reason = self.connection.close_reason or (1000, "bye")
        try:
            await self.socket.close(code=code, reason=reason)
        except Exception:  # already closed by the other side meanwhile
            pass
