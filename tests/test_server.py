"""The real server in a subprocess on a loopback port: start, serve, stop cleanly, reload."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from instamini.bench.server import ServerProcess, http_json

REPO = Path(__file__).resolve().parent.parent


def test_help_lists_subcommands():
    for command in ([sys.executable, "-m", "instamini", "--help"], [sys.executable, str(REPO), "--help"]):
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, cwd=REPO)
        assert result.returncode == 0, result.stderr
        assert "serve" in result.stdout and "bench" in result.stdout


def test_serve_registers_and_stops_cleanly_on_ctrl_c(tmp_path):
    server = ServerProcess(None, tmp_path / "data")
    server.start()
    try:
        status, body = http_json("POST", server.url + "/api/v1/accounts", {"username": "real", "password": "password123"})
        assert status == 201
        headers = {"Authorization": f"Bearer {body['token']}"}
        status, me = http_json("GET", server.url + "/api/v1/me", headers=headers)
        assert status == 200 and me["username"] == "real"
        assert http_json("GET", server.url + "/api/v1/nothing-here")[0] == 404
    finally:
        returncode = server.stop()  # SIGINT, as Ctrl-C
    assert returncode == 0
    assert (tmp_path / "data" / "cache" / "clean-shutdown").exists()
    assert (tmp_path / "data" / "meta" / "layout.json").exists()
    log = server.log_path.read_text()
    assert f"listening on http://127.0.0.1:{server.port}" in log


def test_data_survives_a_restart_and_a_kill(tmp_path):
    with ServerProcess(None, tmp_path / "data") as server:
        status, body = http_json("POST", server.url + "/api/v1/accounts", {"username": "kept", "password": "password123"})
        assert status == 201
    server = ServerProcess(None, tmp_path / "data")
    server.start()
    headers = {"Authorization": f"Bearer {body['token']}"}
    assert http_json("GET", server.url + "/api/v1/me", headers=headers)[1]["username"] == "kept"
    server.stop(sig=9)  # SIGKILL: no clean-shutdown marker, the cache must be wiped on the next start
    with ServerProcess(None, tmp_path / "data") as server:
        assert http_json("GET", server.url + "/api/v1/me", headers=headers)[1]["username"] == "kept"
    assert "not closed cleanly" in server.log_path.read_text()


def test_reload_picks_up_a_new_plugin(tmp_path):
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    config = tmp_path / "config.toml"
    config.write_text(f'[plugins]\ndirs = ["{plugins}"]\n')
    server = ServerProcess(config, tmp_path / "data", reload=True)
    server.start()
    try:
        assert http_json("GET", server.url + "/api/v1/plugins/ping")[0] == 404
        (plugins / "ping.py").write_text(
            "from litestar import get\nfrom instamini.hookspecs import hookimpl\n\n"
            '@get("/api/v1/plugins/ping", sync_to_thread=False)\ndef ping() -> dict:\n    return {"pong": True}\n\n'
            "@hookimpl\ndef instamini_routes():\n    return [ping]\n"
        )
        deadline = time.monotonic() + 30
        status = None
        while time.monotonic() < deadline:  # polling another process, bounded
            try:
                status, body = http_json("GET", server.url + "/api/v1/plugins/ping")
            except OSError:
                status = None
            if status == 200:
                break
            time.sleep(0.2)
        assert status == 200 and body == {"pong": True}
    finally:
        server.stop()
