"""The worker pool: results and reasons come back, and no misbehaving job takes anything down.

Every test runs real worker processes. None sleeps to wait: jobs that must be running
at some moment connect to a unix socket the test listens on (`tasks.meet`).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import pytest

from instamini.media.pool import JobFailed, WorkerPool

TASKS = "tests.media.tasks"
SETTINGS = dict(size=1, memory_mb=512, cpu_seconds=5, wall_seconds=5)


@asynccontextmanager
async def running_pool(**overrides: Any) -> AsyncIterator[WorkerPool]:
    async with WorkerPool(**{**SETTINGS, **overrides}) as pool:
        yield pool


async def run(pool: WorkerPool, task: str, **args: Any) -> Any:
    return await pool.run(f"{TASKS}:{task}", args)


def alive(pid: int) -> bool:
    return Path(f"/proc/{pid}").exists()  # gone once the process is reaped


async def accept_pids(listener: Any, count: int) -> list[tuple[int, Any]]:
    """Wait (bounded) for `count` jobs to connect; each says its pid."""
    connections = []
    with anyio.fail_after(5):
        for _ in range(count):
            connection = await listener.accept()
            line = b""
            while not line.endswith(b"\n"):
                line += await connection.receive()
            connections.append((int(line), connection))
    return connections


async def test_echo_round_trip() -> None:
    async with running_pool() as pool:
        args = {"text": "héllo", "number": 2**40, "items": [1, 2.5, None], "raw": b"\x00\xff"}
        assert await run(pool, "echo", **args) == args
        assert pool.stats()["jobs"] == 1


async def test_a_worker_serves_many_jobs() -> None:
    async with running_pool() as pool:
        first = await run(pool, "pid")
        assert await run(pool, "pid") == first
        assert first != os.getpid()


async def test_rejection_reason_comes_back_and_the_worker_stays() -> None:
    async with running_pool() as pool:
        before = await run(pool, "pid")
        with pytest.raises(JobFailed) as failure:
            await run(pool, "reject", reason="not an allowed image format: TIFF")
        assert str(failure.value) == "not an allowed image format: TIFF"
        assert failure.value.kind == "rejected"
        assert await run(pool, "pid") == before


async def test_other_exceptions_are_reported_by_type_only() -> None:
    async with running_pool() as pool:
        with pytest.raises(JobFailed) as failure:
            await run(pool, "boom")
        assert str(failure.value) == "could not process this file (ValueError)"
        assert "secret" not in str(failure.value)
        assert failure.value.kind == "error"
        with pytest.raises(JobFailed, match="could not process this file"):
            await run(pool, "unencodable")
        assert pool.stats()["failures"] == 2


async def test_stray_output_cannot_corrupt_the_protocol() -> None:
    async with running_pool() as pool:
        assert await run(pool, "noisy") == "quiet result"
        assert await run(pool, "echo", after="noise") == {"after": "noise"}


async def test_a_segfault_fails_the_job_and_a_new_worker_takes_the_next() -> None:
    async with running_pool() as pool:
        crashed = await run(pool, "pid")
        with pytest.raises(JobFailed, match=r"worker crashed \(SIGSEGV\)") as failure:
            await run(pool, "segfault")
        assert failure.value.kind == "crash"
        assert not alive(crashed)
        replacement = await run(pool, "pid")
        assert replacement != crashed
        stats = pool.stats()
        assert (stats["workers"], stats["crashes"], stats["failures"]) == (1, 1, 1)


async def test_the_cpu_limit_kills_a_spinning_job() -> None:
    async with running_pool(cpu_seconds=1, wall_seconds=30) as pool:  # the wall clock only as a backstop
        with pytest.raises(JobFailed, match="used more than 1 s of CPU") as failure:
            await run(pool, "spin")
        assert failure.value.kind == "cpu"
        assert await run(pool, "echo", ok=True) == {"ok": True}


async def test_the_wall_clock_kills_a_sleeping_job() -> None:
    async with running_pool(wall_seconds=0.5) as pool:
        sleeper = await run(pool, "pid")
        with pytest.raises(JobFailed, match=r"took longer than 0\.5 s") as failure:
            await run(pool, "sleep_forever")
        assert failure.value.kind == "timeout"
        assert not alive(sleeper)
        assert await run(pool, "pid") != sleeper
        assert pool.stats()["timeouts"] == 1


async def test_the_memory_limit_fails_a_big_allocation_and_the_pool_goes_on() -> None:
    async with running_pool(memory_mb=300) as pool:
        with pytest.raises(JobFailed, match="ran out of memory") as failure:
            await run(pool, "allocate", mb=1000)
        assert failure.value.kind == "memory"
        assert await run(pool, "allocate", mb=50) == 50 * 1024 * 1024
        assert pool.stats()["peak_rss_kb"] >= 50 * 1024
        assert await run(pool, "rss") < 50 * 1024  # a finished job's memory is given back


async def test_two_workers_run_two_jobs_at_once(tmp_path: Path) -> None:
    address = str(tmp_path / "meet.sock")
    async with running_pool(size=2) as pool, await anyio.create_unix_listener(address) as listener:
        results: list[int] = []

        async def meet() -> None:
            results.append(await run(pool, "meet", address=address))

        async with anyio.create_task_group() as group:
            group.start_soon(meet)
            group.start_soon(meet)
            # Both connect before either is let go: they run at the same time.
            connections = await accept_pids(listener, 2)
            assert pool.stats()["busy"] == 2
            for _, connection in connections:
                await connection.send(b"go")
                await connection.aclose()
        assert sorted(results) == sorted(pid for pid, _ in connections) == pool.pids()
        assert len(set(results)) == 2


async def test_jobs_beyond_the_pool_size_wait_their_turn() -> None:
    async with running_pool(size=2) as pool:
        results = []

        async def echo(number: int) -> None:
            results.append(await run(pool, "echo", n=number))

        async with anyio.create_task_group() as group:
            for number in range(6):
                group.start_soon(echo, number)
        assert sorted(result["n"] for result in results) == list(range(6))
        stats = pool.stats()
        assert (stats["jobs"], stats["workers"], stats["spawned"], stats["busy"]) == (6, 2, 2, 0)


async def test_a_cancelled_caller_gets_its_worker_killed(tmp_path: Path) -> None:
    address = str(tmp_path / "hold.sock")
    async with running_pool() as pool, await anyio.create_unix_listener(address) as listener:
        async with anyio.create_task_group() as group:
            group.start_soon(pool.run, f"{TASKS}:meet", {"address": address})
            [(holder, connection)] = await accept_pids(listener, 1)  # the job is running now
            group.cancel_scope.cancel()
        await connection.aclose()
        assert not alive(holder)
        assert await run(pool, "pid") not in (holder, None)
        assert pool.stats()["busy"] == 0


async def test_close_leaves_no_child_processes() -> None:
    pool = WorkerPool(**{**SETTINGS, "size": 2})
    await pool.start()
    pids = pool.pids()
    assert len(pids) == 2 and all(alive(pid) for pid in pids)
    await pool.close()
    assert not any(alive(pid) for pid in pids)
    assert pool.stats()["workers"] == 0
    with pytest.raises(RuntimeError):
        await run(pool, "pid")


async def test_a_worker_that_cannot_start_fails_start_loudly() -> None:
    pool = WorkerPool(**SETTINGS, preload=("instamini.no_such_module",))
    with pytest.raises(RuntimeError, match="failed to start"):
        await pool.start()
    assert pool.stats()["workers"] == 0
