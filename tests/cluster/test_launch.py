"""`python -m instamini cluster`: N real instances and an edge on loopback, stopped together."""

from __future__ import annotations

import signal
import subprocess
import sys
import time

import httpx

from instamini.bench.server import free_port_run


def test_the_cluster_command_starts_instances_and_an_edge_and_ctrl_c_stops_them_all(tmp_path):
    base = free_port_run(3)  # two instances and the edge, in a row
    command = [sys.executable, "-m", "instamini", "cluster", "--instances", "2", "--shards", "4",
               "--root", str(tmp_path), "--base-port", str(base)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [process.stdout.readline() for _ in range(3)]  # printed once all three answer
    if not lines[0].startswith("instance a:"):  # it failed to start: show why, whole
        process.kill()
        raise AssertionError("".join(lines) + process.communicate(timeout=30)[0])
    try:
        assert lines[0].startswith(f"instance a: http://127.0.0.1:{base}  shards 0-1"), lines
        assert lines[1].startswith(f"instance b: http://127.0.0.1:{base + 1}  shards 2-3"), lines
        assert lines[2].startswith(f"edge: http://127.0.0.1:{base + 2}"), lines
        for port in (base, base + 1):
            assert httpx.get(f"http://127.0.0.1:{port}/healthz").json() == {"status": "ok"}
        assert httpx.get(f"http://127.0.0.1:{base + 2}/healthz").json() == {"status": "ok", "role": "edge"}
        assert "instamini_edge_hits" in httpx.get(f"http://127.0.0.1:{base + 2}/metrics").text
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(30) == 0
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and any(_busy(base + i) for i in range(3)):
        time.sleep(0.05)  # polling for the processes' exit, not waiting on our own work
    assert not any(_busy(base + i) for i in range(3)), "an instance or the edge outlived the command"


def test_more_instances_than_shards_is_refused(tmp_path):
    done = subprocess.run([sys.executable, "-m", "instamini", "cluster", "--instances", "5", "--shards", "4",
                           "--root", str(tmp_path)], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "--instances must be between 1 and 4" in done.stderr


def _busy(port: int) -> bool:
    try:
        httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=0.5)
        return True
    except httpx.TransportError:
        return False
