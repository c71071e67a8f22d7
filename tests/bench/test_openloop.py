"""The open-loop generator against a tiny local HTTP server whose `/slow` answers late.

What matters is the accounting: a request counts from when it was due, so requests
scheduled behind a slow one show the wait, and a capped pool counts late starts.
"""

from __future__ import annotations

import asyncio
import pickle
import random
import threading

import pytest

from instamini.bench.openloop import Fixed, OpenLoop, Operation, arrival_offsets, encode_request, run_in_process

SLOW = 0.3  # seconds /slow takes to answer


async def _answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Keep-alive HTTP/1.1, GET only: /slow waits, /missing is a 404, anything else a 200."""
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            path = head.split(b" ", 2)[1]
            if path == b"/slow":
                await asyncio.sleep(SLOW)
            status = b"404 Not Found" if path == b"/missing" else b"200 OK"
            writer.write(b"HTTP/1.1 %s\r\nContent-Length: %d\r\n\r\n%s" % (status, len(path), path))
    except (asyncio.IncompleteReadError, ConnectionError, asyncio.CancelledError):
        pass  # the client left, or the test is over and its loop cancels a handler still in /slow
    finally:
        writer.close()


class SlowFirst:
    """A builder whose first request is /slow and every later one /fast (it pickles)."""

    def __init__(self) -> None:
        self.calls = 0

    def __call__(self, rng: random.Random):
        self.calls += 1
        return encode_request("GET", "/slow" if self.calls == 1 else "/fast"), None


async def _run(port: int, max_connections: int, rate: float = 100, seconds: float = 0.5, **options) -> OpenLoop:
    run = OpenLoop(
        "127.0.0.1", port, [Operation("get", 1, SlowFirst())], rate, seconds, arrivals="uniform",
        max_connections=max_connections, initial_connections=1, progress=False, **options,
    )
    run.result = await run.run()
    return run


@pytest.fixture
async def port():
    server = await asyncio.start_server(_answer, "127.0.0.1", 0)
    yield server.sockets[0].getsockname()[1]
    server.close()


async def test_requests_behind_a_slow_one_count_their_wait(port):
    # One connection, a request every 10 ms, the first takes 300 ms: a closed-loop client
    # would report ~0 ms for the next 29 (timed from when it got round to sending them).
    run = await _run(port, max_connections=1)
    latencies = run.stats["get"].latencies  # in send order: one connection answers in order
    assert run.result["sent"] == run.result["completed"] == 50
    assert latencies[0] >= SLOW
    assert latencies[1] >= SLOW - 0.02  # due at 10 ms, sent at ~300 ms
    assert SLOW - 0.11 - 0.02 <= latencies[10] <= SLOW - 0.1 + 0.05  # due at 100 ms: waited ~200 ms
    assert all(latency < 0.1 for latency in latencies[40:])  # the queue has drained
    assert run.result["late_starts"] >= 25  # each found the only connection busy
    assert run.result["operations"]["get"]["p50_ms"] >= 50


async def test_enough_connections_keep_the_fast_requests_fast(port):
    run = await _run(port, max_connections=64)
    latencies = sorted(run.stats["get"].latencies)
    assert run.result["late_starts"] == 0 and run.result["peak_connections"] >= 2
    assert latencies[-1] >= SLOW and latencies[-2] < 0.1  # only /slow itself was slow


async def test_errors_and_answers_reach_the_report_and_the_callback(port):
    seen = []
    operations = [
        Operation("ok", 1, Fixed(encode_request("GET", "/ok")), lambda context, status, body: seen.append((status, body))),
        Operation("missing", 1, Fixed(encode_request("GET", "/missing"))),
    ]
    result = await OpenLoop("127.0.0.1", port, operations, 200, 0.3, seed=3, progress=False).run()
    ok, missing = result["operations"]["ok"], result["operations"]["missing"]
    assert ok["count"] > 0 and ok["errors"] == 0 and missing["count"] > 0
    assert missing["errors"] == missing["count"] == result["errors"]  # every 404 is an error
    assert set(seen) == {(200, b"/ok")} and len(seen) == ok["count"]
    assert result["sent"] == result["completed"] == ok["count"] + missing["count"]


async def test_a_refused_connection_is_an_error_not_a_hang():
    probe = await asyncio.start_server(_answer, "127.0.0.1", 0)
    closed_port = probe.sockets[0].getsockname()[1]
    probe.close()
    await probe.wait_closed()
    run = OpenLoop("127.0.0.1", closed_port, [Operation("get", 1, Fixed(b""))], 50, 0.2, progress=False,
                   initial_connections=0)
    result = await run.run()
    assert result["sent"] > 0 and result["completed"] == 0 and result["errors"] == result["sent"]


def test_arrival_schedules_are_seeded_and_at_the_rate():
    uniform = list(arrival_offsets(1000, 1.0, "uniform", random.Random(1)))
    assert len(uniform) == 1000 and uniform[1] - uniform[0] == pytest.approx(0.001)
    poisson = list(arrival_offsets(1000, 1.0, "poisson", random.Random(1)))
    assert poisson == list(arrival_offsets(1000, 1.0, "poisson", random.Random(1)))
    assert 900 < len(poisson) < 1100 and len(set(round(b - a, 6) for a, b in zip(poisson, poisson[1:]))) > 100


def test_runs_in_its_own_process_and_returns_its_report():
    loop = asyncio.new_event_loop()
    server = loop.run_until_complete(asyncio.start_server(_answer, "127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        operations = [Operation("fast", 1, Fixed(encode_request("GET", "/fast")))]
        pickle.dumps(operations)  # what crosses into the spawned process
        result = run_in_process("127.0.0.1", server.sockets[0].getsockname()[1], operations, 200, 0.5, progress=False)
    finally:
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        server.close()
        loop.close()
    assert result["completed"] == result["sent"] > 50 and result["errors"] == 0
    assert result["client_cpu_us_per_request"] > 0


async def test_requests_unanswered_when_the_drain_ends_are_errors_with_their_wait(port):
    operations = [Operation("slow", 1, Fixed(encode_request("GET", "/slow")))]
    run = OpenLoop("127.0.0.1", port, operations, 20, 0.2, arrivals="uniform", drain_seconds=0.05, progress=False)
    result = await run.run()
    assert result["sent"] == result["unfinished"] == result["errors"] == 4 and result["completed"] == 0
    # Their latency is the wait until the bench gave up: a lower bound, never left out.
    assert len(run.stats["slow"].latencies) == 4 and min(run.stats["slow"].latencies) >= 0.05
    assert result["operations"]["slow"]["count"] == 0


async def _answer_once(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answers one request, then closes the keep-alive connection, as a server does with an idle one."""
    try:
        await reader.readuntil(b"\r\n\r\n")
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
        await writer.drain()
    except (asyncio.IncompleteReadError, ConnectionError):
        pass
    finally:
        writer.close()


async def _hang_up(_: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    writer.close()  # accepts, answers nothing


async def one_connection_against(handler, seconds: float) -> dict:
    """An open loop of GETs at 50/s over one connection to a local server that runs `handler`."""
    server = await asyncio.start_server(handler, "127.0.0.1", 0)
    try:
        operations = [Operation("get", 1, Fixed(encode_request("GET", "/")))]
        run = OpenLoop("127.0.0.1", server.sockets[0].getsockname()[1], operations,
                       50, seconds, arrivals="uniform", max_connections=1, initial_connections=1, progress=False)
        return await run.run()
    finally:
        server.close()


async def test_a_request_that_meets_a_closed_keep_alive_connection_is_sent_again_not_an_error():
    result = await one_connection_against(_answer_once, 0.3)
    assert result["sent"] == result["completed"] == 15 and result["errors"] == 0
    assert result["resent_after_idle_close"] >= 1  # every connection after its first request was closed


async def test_a_server_that_never_answers_is_tried_once_more_then_an_error():
    result = await one_connection_against(_hang_up, 0.1)
    assert result["sent"] == result["errors"] == 5 and result["completed"] == 0
    assert result["resent_after_idle_close"] == 5
