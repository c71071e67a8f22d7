"""Serving the app with granian, embedded.

Granian is an HTTP server written in Rust; for Litestar it measured 1.5-1.8x the
throughput of uvicorn on this kind of machine. It runs exactly one worker: the
embedded stores (SQLite writers, LMDB) belong to one process. More capacity comes
from more shard instances, not more workers. With `reload`, granian watches the
code, the plugins and the config with watchfiles and restarts the worker.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
from granian.constants import Interfaces
from granian.server import Server

from .config import Config


def serve(config: Config, *, reload: bool = False, config_file: Path | None = None) -> None:
    os.environ["INSTAMINI_CONFIG_JSON"] = msgspec.json.encode(config).decode()
    package_dir = Path(__file__).resolve().parent
    watched = [package_dir, *(Path(d) for d in config.plugins.dirs if Path(d).is_dir())]
    if config_file is not None:
        watched.append(config_file.resolve())
    Path(config.server.data_dir).mkdir(parents=True, exist_ok=True)
    print(
        f"instamini listening on http://{config.server.host}:{config.server.port} "
        f"(data in {config.server.data_dir}); Ctrl-C stops it",
        flush=True,
    )
    server = Server(
        "instamini.app:app_from_environment",
        address=config.server.host,
        port=config.server.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=1,
        websockets=True,
        reload=reload,
        reload_paths=watched,
        log_access=False,
    )
    server.serve()
