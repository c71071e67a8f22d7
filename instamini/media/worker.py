"""A sandboxed media worker: one process that runs processing jobs under hard limits.

The idea: decoding an uploaded file means running large C libraries (libjpeg, libwebp,
libheif, ffmpeg) on bytes a stranger chose. So it happens here, in a separate process
the kernel holds to limits, never in the server: `RLIMIT_AS` caps its address space (an
allocation over it fails instead of swapping the box to death), a per-job soft
`RLIMIT_CPU` makes the kernel kill a job that spins (SIGXCPU), `RLIMIT_CORE = 0` keeps
a crash from writing the user's photo into a core file, `RLIMIT_NOFILE` is small, and
the process runs at a lower priority so the web server stays responsive. If a hostile
file crashes a codec, this process dies and the pool (`pool.py`) starts another one.

Run as `python -m instamini.media.worker --memory-mb N --cpu-seconds N`. The protocol on
stdin/stdout is one msgpack map per frame, each preceded by its length (4 bytes, big
endian):

    worker -> server, once at start:  {"ready": True, "pid": 1234}
    server -> worker, per job:        {"id": 7, "task": "package.module:function", "args": {...}}
    worker -> server, per job:        {"id": 7, "ok": True, "result": ..., "max_rss_kb": 51200}
                                   or {"id": 7, "ok": False, "kind": "rejected" | "memory" | "error",
                                       "reason": "...", "max_rss_kb": 51200}

End of input means: finish and exit. The frames use private duplicates of fds 0 and 1;
fd 0 then reads /dev/null and fd 1 writes to stderr, so a stray print from Python or
from a C library cannot corrupt the protocol or swallow a frame.

Cost: one resident interpreter per worker (tens of MB, more once Pillow and PyAV are
imported), a msgpack frame each way per job, and a little CPU at lower priority.
"""

from __future__ import annotations

import argparse
import ctypes
import faulthandler
import importlib
import math
import os
import resource
import signal
import struct
import sys
import traceback
from collections.abc import Callable
from typing import Any, BinaryIO

import msgspec

from instamini.media.errors import MediaRejected

HEADER = struct.Struct(">I")  # the length of the msgpack body that follows
OPEN_FILES = 256  # codecs open a few files; a job that wants thousands is misbehaving
NICENESS = 10
_PR_SET_PDEATHSIG = 1  # from <linux/prctl.h>

_encoder = msgspec.msgpack.Encoder()


def encode_frame(message: dict[str, Any]) -> bytes:
    """One frame: the length prefix and the msgpack body (also used by the pool)."""
    body = _encoder.encode(message)
    return HEADER.pack(len(body)) + body


def read_frame(stream: BinaryIO) -> dict[str, Any] | None:
    """The next frame, or None at end of input (the server closed our stdin)."""
    header = stream.read(HEADER.size)
    if len(header) < HEADER.size:
        return None
    (size,) = HEADER.unpack(header)
    body = stream.read(size)
    if len(body) < size:
        return None
    return msgspec.msgpack.decode(body)


def write_frame(stream: BinaryIO, message: dict[str, Any]) -> None:
    stream.write(encode_frame(message))
    stream.flush()


# -- setting up the sandbox --------------------------------------------------------


def take_protocol_streams() -> tuple[BinaryIO, BinaryIO]:
    """Private copies of stdin/stdout for frames; fds 0 and 1 become harmless."""
    frames_in = os.fdopen(os.dup(0), "rb")  # os.dup makes non-inheritable fds
    frames_out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # a library that reads stdin must not eat a job frame
    os.close(devnull)
    os.dup2(2, 1)  # printf() from a codec lands in the log, not in the frame stream
    sys.stdin = open(os.devnull)  # noqa: SIM115 - lives as long as the process
    sys.stdout = sys.stderr
    return frames_in, frames_out


def die_with_parent(parent_pid: int) -> None:
    """Ask the kernel to kill us when the server dies, so workers are never orphaned.

    Linux only; elsewhere end of input on stdin ends the worker. The signal follows
    the parent *thread* that spawned us; the pool spawns from the event loop thread,
    which lives as long as the server.
    """
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):
        return
    if parent_pid and os.getppid() != parent_pid:  # the parent died before prctl() ran
        os._exit(0)


def apply_limits(memory_mb: int) -> None:
    """Limits for the whole life of the worker; hard = soft so no code can raise them."""
    _limit(resource.RLIMIT_CORE, 0)
    _limit(resource.RLIMIT_NOFILE, OPEN_FILES)
    _limit(resource.RLIMIT_AS, memory_mb * 1024 * 1024)
    try:
        os.nice(NICENESS)  # the web server keeps priority over decoding
    except OSError:
        pass


def _limit(which: int, value: int) -> None:
    _, hard = resource.getrlimit(which)
    if hard != resource.RLIM_INFINITY:
        value = min(value, hard)
    resource.setrlimit(which, (value, value))


def allow_cpu_for_next_job(cpu_seconds: int) -> None:
    """Move the soft CPU limit to (CPU used so far + the job's budget).

    RLIMIT_CPU counts the whole life of the process, so it is moved before every job.
    Past it the kernel sends SIGXCPU, whose default action kills us; the pool sees the
    signal in the exit status. Only the soft limit moves: lowering the hard limit could
    never be undone, and the pool's wall clock catches a job that ignores SIGXCPU.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime) + cpu_seconds
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


# -- running jobs ------------------------------------------------------------------

_tasks: dict[str, Callable[..., Any]] = {}


def resolve_task(name: str) -> Callable[..., Any]:
    """Import "package.module:function" once.

    The names come only from the server's own code (the pipeline chooses which task
    to run), never from anything a user sent, so importing by name is not a hole.
    """
    if name not in _tasks:
        module_name, _, function_name = name.partition(":")
        _tasks[name] = getattr(importlib.import_module(module_name), function_name)
    return _tasks[name]


def run_job(job: dict[str, Any], memory_mb: int) -> dict[str, Any]:
    """Run one job; every outcome becomes a reply, and the worker lives on."""
    reply: dict[str, Any] = {"id": job.get("id")}
    try:
        result = resolve_task(job["task"])(**job.get("args", {}))
        reply.update(ok=True, result=result)
    except MediaRejected as error:
        reply.update(ok=False, kind="rejected", reason=str(error))
    except MemoryError:
        reply.update(ok=False, kind="memory", reason=f"ran out of memory (the limit is {memory_mb} MB)")
    except Exception as error:
        # Anything else is a bug or a hostile file nobody foresaw: the log gets the
        # traceback, the uploader only the type (messages may quote file contents).
        traceback.print_exc()
        reply.update(ok=False, kind="error", reason=f"could not process this file ({type(error).__name__})")
    reply["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kB on Linux
    return reply


def send_reply(stream: BinaryIO, reply: dict[str, Any]) -> None:
    try:
        body = encode_frame(reply)
    except (TypeError, msgspec.EncodeError) as error:  # the task returned something msgpack cannot carry
        traceback.print_exc()
        failed = {"id": reply["id"], "ok": False, "kind": "error", "max_rss_kb": reply["max_rss_kb"]}
        failed["reason"] = f"could not process this file ({type(error).__name__})"
        body = encode_frame(failed)
    stream.write(body)
    stream.flush()


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m instamini.media.worker", description=__doc__.split("\n")[0])
    parser.add_argument("--memory-mb", type=int, required=True, help="address space limit (RLIMIT_AS)")
    parser.add_argument("--cpu-seconds", type=int, required=True, help="CPU time allowed per job")
    parser.add_argument("--parent-pid", type=int, default=0, help="exit at once if this is not our parent")
    parser.add_argument("--preload", action="append", default=[], help="a module to import before the first job")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    frames_in, frames_out = take_protocol_streams()
    faulthandler.enable()  # a crash leaves a Python traceback in the log, then dies by the same signal
    die_with_parent(options.parent_pid)
    apply_limits(options.memory_mb)
    for module in options.preload:  # pay the import cost once, not in the first job
        importlib.import_module(module)
    write_frame(frames_out, {"ready": True, "pid": os.getpid()})
    while (job := read_frame(frames_in)) is not None:
        allow_cpu_for_next_job(options.cpu_seconds)
        send_reply(frames_out, run_job(job, options.memory_mb))
    return 0


if __name__ == "__main__":
    sys.exit(main())
