"""The hub and a connection's limits, without sockets: queues, slow readers, closing."""

from __future__ import annotations

import asyncio

from instamini.realtime.connection import SLOW_READER, Connection, TokenBucket
from instamini.realtime.hub import Hub


def connection(user_id: int, queue: int = 4, digest: bytes = b"t") -> Connection:
    return Connection(user_id, digest, queue, TokenBucket(10, 10))


async def test_publish_reaches_every_device_of_each_user_once():
    hub = Hub()
    phone, laptop, other = connection(1), connection(1), connection(2)
    for c in (phone, laptop, other):
        hub.add(c)
    assert hub.publish([1], b"hello") == 2
    assert phone.queue.get_nowait() == b"hello" and laptop.queue.get_nowait() == b"hello"
    assert other.queue.empty()
    assert hub.publish([1, 2], b"x", skip=phone) == 2 and phone.queue.empty()
    assert hub.connections() == 3 and hub.connections(1) == 2 and hub.users_online() == 2


async def test_a_slow_reader_is_closed_and_the_others_still_get_frames():
    hub = Hub()
    slow, fine = connection(1, queue=2), connection(2, queue=100)
    hub.add(slow)
    hub.add(fine)
    for i in range(5):
        hub.publish([1, 2], str(i).encode())
    assert slow.close_reason == (SLOW_READER, "too slow: the send queue is full")
    assert slow.queue.qsize() == 2  # it never held more than its bound
    assert fine.queue.qsize() == 5 and fine.close_reason is None
    assert hub.dropped_slow == 3


async def test_closing_a_session_or_a_user():
    hub = Hub()
    a, b, c = connection(1, digest=b"one"), connection(1, digest=b"two"), connection(2, digest=b"one2")
    for x in (a, b, c):
        hub.add(x)
    assert hub.close_session(b"one", 4401, "logged out") == 1
    assert a.close_reason == (4401, "logged out") and b.close_reason is None
    assert hub.close_user(1, 1000, "bye") == 2 and b.close_reason == (1000, "bye")
    hub.remove(a)
    hub.remove(b)
    assert hub.connections(1) == 0 and hub.users_online() == 1


def test_token_bucket_allows_a_burst_then_the_rate():
    now = [0.0]
    bucket = TokenBucket(rate=2, burst=3, clock=lambda: now[0])
    assert [bucket.take() for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # one token back
    assert bucket.take() and not bucket.take()
    now[0] += 100
    assert sum(bucket.take() for _ in range(10)) == 3  # never more than the burst saved up
