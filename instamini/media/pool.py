"""A pool of sandboxed worker processes that run media jobs for async code.

The idea: process isolation for hostile input. Every upload is decoded by C libraries
in a worker process (`worker.py`) that the kernel holds to a memory limit
(RLIMIT_AS), a CPU limit per job (RLIMIT_CPU) and no core dumps, while this side holds
it to a wall clock. Whatever a file does to a worker (segfault, endless loop, a
decompression bomb), the server sees a dead child and a `JobFailed` with a plain
reason, and the next job gets a fresh worker. The server never dies with a worker.

Why not `multiprocessing.Pool` or `ProcessPoolExecutor`: when a child segfaults, the
first hangs the task forever and the second marks the whole executor broken; neither
kills a child on timeout or cancellation, and neither applies rlimits. Here each
worker is a plain child with two pipes, owned by exactly one job at a time, so a
timeout or a cancelled caller simply means: kill that child, reap it, spawn another.

Why persistent workers rather than one process per job: starting an interpreter and
importing Pillow and PyAV costs a few hundred milliseconds, more than decoding a
typical photo. A worker serves many jobs; the limits still apply per job (the CPU
budget is re-armed before each one), and a worker is replaced after any failure that
may have left it in an unknown state, and after `jobs_per_worker` jobs.

Cost: `size` resident interpreters (about 18 MB resident each, 40 MB with Pillow and
PyAV imported); a round trip through two pipes per job (about 0.15 ms measured on 2
cores, nothing beside decoding); a respawn after every crash, timeout or cancellation
(about 70 ms until the next job runs, plus the preloaded imports).

`JobFailed.kind` says why a job failed: "rejected" (the file is refused, the reason
is for the uploader), "error" (an unexpected exception, by type only), "memory",
"cpu", "timeout", or "crash" (the worker died by a signal or exited).
"""

from __future__ import annotations

import itertools
import logging
import os
import signal
import subprocess
import sys
from collections import deque
from typing import Any

import anyio
import msgspec
from anyio.abc import Process
from anyio.streams.buffered import BufferedByteReceiveStream

from .worker import HEADER, encode_frame

log = logging.getLogger(__name__)

WORKER_MODULE = "instamini.media.worker"
MAX_REPLY_BYTES = 16 * 1024 * 1024  # replies are metadata; a huge one means a broken worker
STARTUP_SECONDS = 30.0  # interpreter start + preloaded imports, not counted in a job's wall clock
EXIT_GRACE_SECONDS = 2.0  # how long a closing worker may take to finish before SIGKILL


class JobFailed(Exception):
    """The job did not produce a result; `str(error)` is a reason fit for the uploader."""

    def __init__(self, reason: str, kind: str = "error") -> None:
        super().__init__(reason)
        self.reason = reason
        self.kind = kind


class _Malformed(Exception):
    """The worker sent something that is not a reply frame: it is broken or subverted."""


# Everything that means "the worker's pipes broke": it died, or is dying.
_GONE = (
    OSError,
    anyio.EndOfStream,
    anyio.IncompleteRead,
    anyio.BrokenResourceError,
    anyio.ClosedResourceError,
)


class _Worker:
    """One child process and its two pipes."""

    def __init__(self, process: Process) -> None:
        assert process.stdin is not None and process.stdout is not None
        self.process = process
        self.pid = process.pid
        self.jobs = 0
        self.ready = False
        self._replies = BufferedByteReceiveStream(process.stdout)
        self._stop_lock = anyio.Lock()
        self._stopped = False

    async def send(self, frame: bytes) -> None:
        assert self.process.stdin is not None
        await self.process.stdin.send(frame)

    async def receive(self) -> dict[str, Any]:
        (size,) = HEADER.unpack(await self._replies.receive_exactly(HEADER.size))
        if size > MAX_REPLY_BYTES:
            raise _Malformed(f"a reply of {size} bytes")
        try:
            message = msgspec.msgpack.decode(await self._replies.receive_exactly(size))
        except msgspec.DecodeError as error:
            raise _Malformed(str(error)) from None
        if not isinstance(message, dict):
            raise _Malformed("a reply that is not a map")
        return message

    async def wait_ready(self) -> None:
        if not self.ready:
            with anyio.fail_after(STARTUP_SECONDS):
                hello = await self.receive()
            if not hello.get("ready"):
                raise _Malformed("a first frame that is not the ready frame")
            self.ready = True

    async def stop(self, grace: float) -> int:
        """End the process and reap it; with a grace period it may first finish its job.

        Shielded: this runs while the caller is being cancelled, and a child that is
        not reaped would linger as a zombie. Safe to call twice, or from two tasks.
        """
        with anyio.CancelScope(shield=True):
            async with self._stop_lock:
                if not self._stopped:
                    await self._end(grace)
                    self._stopped = True
        return self.process.returncode  # type: ignore[return-value]

    async def _end(self, grace: float) -> None:
        if grace > 0 and self.process.returncode is None:
            await self._close_stdin()  # end of input: the worker exits after its job
            with anyio.move_on_after(grace):
                await self.process.wait()
        if self.process.returncode is None:
            self._kill()
        await self.process.aclose()  # closes the pipes and waits for the exit status

    async def _close_stdin(self) -> None:
        assert self.process.stdin is not None
        try:
            await self.process.stdin.aclose()
        except OSError:
            pass

    def _kill(self) -> None:
        try:
            self.process.kill()
        except ProcessLookupError:  # it exited meanwhile
            pass


class WorkerPool:
    """At most `size` jobs at once, each in its own sandboxed worker process."""

    def __init__(
        self,
        size: int,
        memory_mb: int,
        cpu_seconds: int,
        wall_seconds: float,
        python: str = sys.executable,
        *,
        preload: tuple[str, ...] = (),
        jobs_per_worker: int = 1000,
    ) -> None:
        self.size = size
        self.memory_mb = memory_mb
        self.cpu_seconds = cpu_seconds
        self.wall_seconds = wall_seconds
        self._python = python
        self._preload = preload
        self._jobs_per_worker = jobs_per_worker
        self._limiter = anyio.CapacityLimiter(size)
        self._idle: deque[_Worker] = deque()
        self._live: set[_Worker] = set()
        self._job_ids = itertools.count(1)
        self._started = False
        self._closing = False
        self._counts = dict(jobs=0, failures=0, crashes=0, timeouts=0, spawned=0, peak_rss_kb=0)

    async def __aenter__(self) -> WorkerPool:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    # -- life cycle ----------------------------------------------------------------

    async def start(self) -> None:
        """Start every worker and wait until each has booted, so a bad setting fails here."""
        self._started = True
        try:
            for _ in range(self.size):
                self._idle.append(await self._spawn())
            for worker in self._idle:
                await worker.wait_ready()
        except (*_GONE, _Malformed, TimeoutError) as error:
            await self.close()
            raise RuntimeError(f"a media worker failed to start ({type(error).__name__}); see its log above") from error

    async def close(self) -> None:
        """End every worker: idle ones exit at end of input, busy ones get a grace period."""
        self._closing = True
        with anyio.CancelScope(shield=True):
            async with anyio.create_task_group() as group:
                for worker in list(self._live):
                    group.start_soon(self._stop, worker, EXIT_GRACE_SECONDS)
        self._idle.clear()

    # -- jobs ------------------------------------------------------------------------

    async def run(self, task: str, args: dict[str, Any]) -> Any:
        """Run `task` ("package.module:function", chosen by the server) with `args`; its result.

        Raises JobFailed when the file was rejected, the task raised, the worker died,
        or the job ran over its CPU or wall clock budget.
        """
        job = self._job_frame(task, args)  # arguments msgpack cannot carry fail here, before a worker is involved
        async with self._limiter:
            if self._closing or not self._started:
                raise RuntimeError("the media worker pool is not running")
            worker = self._idle.popleft() if self._idle else await self._spawn()
            reusable = False
            self._counts["jobs"] += 1
            try:
                reply = await self._exchange(worker, job)
                reusable = reply["ok"] or reply.get("kind") == "rejected"
                return self._result_of(reply)
            except JobFailed:
                self._counts["failures"] += 1
                raise
            finally:
                await self._release(worker, reusable)

    def _job_frame(self, task: str, args: dict[str, Any]) -> tuple[int, bytes]:
        job_id = next(self._job_ids)
        return job_id, encode_frame({"id": job_id, "task": task, "args": args})

    async def _exchange(self, worker: _Worker, job: tuple[int, bytes]) -> dict[str, Any]:
        job_id, frame = job
        worker.jobs += 1
        try:
            await worker.wait_ready()  # a fresh worker's boot is not counted in the job's wall clock
        except TimeoutError:
            await self._stop(worker, 0)
            raise JobFailed(f"worker did not start within {STARTUP_SECONDS:g} s", "crash") from None
        except (*_GONE, _Malformed):
            raise await self._death_of(worker, starting=True) from None
        try:
            with anyio.fail_after(self.wall_seconds):
                await worker.send(frame)
                reply = await worker.receive()
            if reply.get("id") != job_id or "ok" not in reply:
                raise _Malformed("a reply to another job")
        except TimeoutError:
            self._counts["timeouts"] += 1
            raise JobFailed(f"took longer than {self.wall_seconds:g} s", "timeout") from None
        except _GONE:
            raise await self._death_of(worker) from None
        except _Malformed as error:
            log.error("media worker %d sent %s; killing it", worker.pid, error)
            self._counts["crashes"] += 1
            raise JobFailed("worker sent a malformed reply", "crash") from None
        self._counts["peak_rss_kb"] = max(self._counts["peak_rss_kb"], reply.get("max_rss_kb") or 0)
        return reply

    @staticmethod
    def _result_of(reply: dict[str, Any]) -> Any:
        if reply["ok"]:
            return reply.get("result")
        raise JobFailed(str(reply.get("reason") or "could not process this file"), str(reply.get("kind", "error")))

    async def _release(self, worker: _Worker, reusable: bool) -> None:
        """Back to the idle queue, or (state unknown, or worn) killed and replaced at once."""
        if reusable and not self._closing and worker.jobs < self._jobs_per_worker:
            self._idle.append(worker)
            return
        await self._stop(worker, 0)
        if self._closing:
            return
        with anyio.CancelScope(shield=True):
            try:  # spawning is a fork+exec; the new worker boots while the pool waits for work
                self._idle.append(await self._spawn())
            except OSError:
                log.exception("could not start a replacement media worker; the next job will try again")

    async def _death_of(self, worker: _Worker, *, starting: bool = False) -> JobFailed:
        """Reap a worker that broke off mid-job and say why, from its exit status."""
        returncode = await self._stop(worker, EXIT_GRACE_SECONDS)
        self._counts["crashes"] += 1
        if self._closing:
            return JobFailed("the media workers are shutting down", "crash")
        failure = self._reason_for_exit(returncode)
        if starting:
            return JobFailed(f"worker failed to start: {failure.reason}", "crash")
        log.warning("media worker %d died during a job: %s", worker.pid, failure.reason)
        return failure

    def _reason_for_exit(self, returncode: int) -> JobFailed:
        if returncode >= 0:
            return JobFailed(f"worker exited unexpectedly (code {returncode})", "crash")
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        if -returncode == signal.SIGXCPU:
            return JobFailed(f"used more than {self.cpu_seconds} s of CPU", "cpu")
        if -returncode == signal.SIGKILL:
            # We did not send it (timeouts and cancellations never get here): the
            # kernel's OOM killer is the usual sender.
            return JobFailed("worker was killed (SIGKILL), probably out of memory", "memory")
        return JobFailed(f"worker crashed ({name})", "crash")

    # -- processes -----------------------------------------------------------------

    async def _spawn(self) -> _Worker:
        command = [
            self._python, "-m", WORKER_MODULE,
            "--memory-mb", str(self.memory_mb),
            "--cpu-seconds", str(self.cpu_seconds),
            "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        for module in self._preload:
            command += ["--preload", module]
        process = await anyio.open_process(
            command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None, env=self._worker_env()
        )
        worker = _Worker(process)
        self._live.add(worker)
        self._counts["spawned"] += 1
        return worker

    @staticmethod
    def _worker_env() -> dict[str, str]:
        # glibc gives each thread that mallocs its own arena, reserving 64 MB of address
        # space apiece: a threaded codec would hit RLIMIT_AS without using the memory.
        return {**os.environ, "MALLOC_ARENA_MAX": "2"}

    async def _stop(self, worker: _Worker, grace: float) -> int:
        returncode = await worker.stop(grace)
        self._live.discard(worker)
        return returncode

    # -- observing -------------------------------------------------------------------

    def stats(self) -> dict[str, int]:
        """Counters for metrics and benchmarks; `peak_rss_kb` is the largest peak any worker reported."""
        busy = self._limiter.borrowed_tokens
        return {"workers": len(self._live), "busy": int(busy), **self._counts}

    def pids(self) -> list[int]:
        """The live workers' process ids (for the admin page and the tests)."""
        return sorted(worker.pid for worker in self._live)
