"""Test-only tasks for the worker pool: each misbehaves in one way a hostile file might.

They run inside worker processes, named as "tests.media.tasks:<function>".
"""

from __future__ import annotations

import ctypes
import os
import socket
import threading
from typing import Any

from instamini.media.errors import MediaRejected


def echo(**kwargs: Any) -> dict[str, Any]:
    return kwargs


def reject(reason: str) -> None:
    raise MediaRejected(reason)


def boom() -> None:
    raise ValueError("secret file contents that must not reach the uploader")


def segfault() -> None:
    ctypes.string_at(0)


def spin() -> None:
    while True:
        pass


def sleep_forever() -> None:
    threading.Event().wait()


def allocate(mb: int) -> int:
    return len(bytearray(mb * 1024 * 1024))


def pid() -> int:
    return os.getpid()


def rss() -> int:
    """Resident memory now, in kB."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def noisy() -> str:
    """Writes to stdout the ways Python code and C libraries do; none may reach the protocol."""
    print("hello from print()")
    os.write(1, b"hello from fd 1\n")
    ctypes.CDLL(None).puts(b"hello from puts()")
    return "quiet result"


def unencodable() -> object:
    return object()


def meet(address: str) -> int:
    """Tell the test (listening on a unix socket) our pid, then wait for its go-ahead.

    Lets a test prove that jobs run at the same time, or that one is running now,
    without sleeping or measuring time.
    """
    with socket.socket(socket.AF_UNIX) as connection:
        connection.connect(address)
        connection.sendall(f"{os.getpid()}\n".encode())
        connection.recv(1)  # the go-ahead, or end of stream when the test is done with us
    return os.getpid()
