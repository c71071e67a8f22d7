"""Start a real instamini server (or an edge in front of one) as a subprocess on a loopback port, for benchmarks and tests."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import urllib.error
import urllib.request

import msgspec


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_port_run(count: int) -> int:
    """The first of `count` consecutive loopback ports that are all free now.

    Picked below Linux's ephemeral range (32768 and up), so the client sockets that other
    tests and the servers themselves open cannot take one of them between this check and
    the servers' bind; a port counts as free only if it can be bound (any listener or
    connected socket on it makes the bind fail)."""
    for _ in range(200):
        base = random.randrange(20000, 32768 - count)
        sockets = []
        try:
            for port in range(base, base + count):
                sock = socket.socket()
                sockets.append(sock)
                sock.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for sock in sockets:
                sock.close()
    raise RuntimeError(f"no {count} consecutive free ports found below 32768")


def http_json(method: str, url: str, body: object = None, headers: dict[str, str] | None = None) -> tuple[int, object]:
    """One request with the standard library (the bench needs no HTTP client package)."""
    data = None if body is None else msgspec.json.encode(body)
    request = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            raw = response.read()
            return response.status, msgspec.json.decode(raw) if raw else None
    except urllib.error.HTTPError as error:
        return error.code, msgspec.json.decode(error.read() or b"null")


class ServerProcess:
    """`with ServerProcess(config_file, data_dir) as server:` ... `server.url`."""

    def __init__(
        self, config_file: Path | None, data_dir: Path, *, cpu: int | None = None, port: int | None = None,
        reload: bool = False,
    ):
        self.config_file, self.data_dir, self.cpu, self.reload = config_file, data_dir, cpu, reload
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process: subprocess.Popen | None = None
        self.log_path = data_dir.parent / f"server-{self.port}.log"
        data_dir.parent.mkdir(parents=True, exist_ok=True)

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "instamini", "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)]
        if self.config_file is not None:
            command += ["--config", str(self.config_file)]
        if self.reload:
            command.append("--reload")
        return command

    def start(self, timeout: float = 30.0) -> None:
        command = self.command()
        pin = (lambda: os.sched_setaffinity(0, {self.cpu})) if self.cpu is not None else None
        self._log = open(self.log_path, "wb")
        # Own process group: a SIGKILL (a simulated crash) takes granian's worker down with it.
        self.process = subprocess.Popen(
            command, stdout=self._log, stderr=subprocess.STDOUT, preexec_fn=pin, start_new_session=True
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.log_path.read_text()}")
            try:
                if http_json("GET", self.url + "/healthz")[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.05)  # polling a starting process, not waiting for our own work
        self.stop()
        raise RuntimeError(f"server did not answer within {timeout} s: {self.log_path.read_text()}")

    def stop(self, sig: int | None = None, timeout: float = 20.0) -> int:
        if self.process is None:
            return 0
        if self.process.poll() is None:
            if sig == signal.SIGKILL:
                os.killpg(self.process.pid, signal.SIGKILL)
            else:
                self.process.send_signal(sig or signal.SIGINT)  # as Ctrl-C
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._log.close()
        return self.process.returncode

    def __enter__(self) -> ServerProcess:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class EdgeProcess(ServerProcess):
    """`python -m instamini edge` in front of `origins`, caching in `cache_dir`; ready once its /healthz answers."""

    def __init__(self, origins: list[str], cache_dir: Path, *, max_size: str = "64M", cpu: int | None = None,
                 port: int | None = None, config_file: Path | None = None, shard_owners: dict[str, str] | None = None):
        super().__init__(config_file, cache_dir, cpu=cpu, port=port)
        self.origins, self.max_size, self.shard_owners = origins, max_size, shard_owners or {}
        self.log_path = cache_dir.parent / f"edge-{self.port}.log"

    def command(self) -> list[str]:
        command = [sys.executable, "-m", "instamini", "edge", "--port", str(self.port), "--cache-dir", str(self.data_dir),
                   "--max-size", self.max_size]
        for origin in self.origins:
            command += ["--origin", origin]
        for origin, shards in self.shard_owners.items():
            command += ["--shards", f"{origin}={shards}"]
        if self.config_file is not None:
            command += ["--config", str(self.config_file)]
        return command
