"""One open socket: its bounded send queue, its rate limit, and how it is told to close.

The idea: everything that can make a websocket server fall over is bounded per socket.
Frames for a client wait in a queue of `send_queue_frames`; when it is full the client is
not reading, and the socket is closed (code 1008) instead of buffering without end.
Frames from a client pass a token bucket (`frames_per_second`, `frame_burst`): a client
over it gets an error frame, and one far over it is closed. Anyone (the hub, a logout)
can ask a connection to close; the gateway's tasks see it at once.

Cost: a queue and a few numbers per socket.
"""

from __future__ import annotations

import asyncio
import time

import anyio

# Close codes: 1008 policy violation (slow, flooding), 1009 too big, 1013 try again later
# (the account has its most sockets open); 4401/4403 are ours, after HTTP's 401/403, for a
# handshake without a valid session or from a foreign origin.
SLOW_READER, TOO_BIG, TRY_AGAIN_LATER = 1008, 1009, 1013
NOT_AUTHENTICATED, FORBIDDEN_ORIGIN, LOGGED_OUT = 4401, 4403, 4401


class TokenBucket:
    """`rate` tokens a second, at most `burst` saved up; each frame takes one."""

    def __init__(self, rate: float, burst: int, clock=time.monotonic) -> None:
        self.rate, self.burst, self.clock = rate, burst, clock
        self.tokens, self.stamp = float(burst), clock()

    def take(self) -> bool:
        now = self.clock()
        self.tokens = min(self.burst, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


class Connection:
    def __init__(self, user_id: int, token_digest: bytes, queue_frames: int, bucket: TokenBucket) -> None:
        self.user_id, self.token_digest, self.bucket = user_id, token_digest, bucket
        self.queue: asyncio.Queue[bytes] = asyncio.Queue(maxsize=queue_frames)
        self.close_reason: tuple[int, str] | None = None
        self.refused = 0  # frames over the rate limit in a row
        self.scope: anyio.CancelScope | None = None  # the gateway's tasks for this socket

    def overflow(self) -> None:
        self.close_soon(SLOW_READER, "too slow: the send queue is full")

    def close_soon(self, code: int, reason: str) -> None:
        if self.close_reason is None:
            self.close_reason = (code, reason)
        if self.scope is not None:
            self.scope.cancel()
