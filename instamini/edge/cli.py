"""`python -m instamini edge`: the standalone edge cache, served by granian.

The flags (declared in instamini/cli.py with the other commands) win over the
`[edge]` section of config.toml, and both pass the same msgspec types, so
`--max-size 12Q` or `--origin ftp://x` stops start-up with the setting named.
One granian worker, as for the server: the cache's index and bound live in one
process's memory. Cost: nothing after start.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import msgspec

from ..config import Config, EdgeConfig
from .routing import owner_table


def edge_settings(defaults: EdgeConfig, options: argparse.Namespace) -> EdgeConfig:
    """The [edge] settings with the flags given applied; raises msgspec.ValidationError naming a bad one."""
    given = {
        "origins": options.origin,
        "shard_owners": dict(entry.rsplit("=", 1) for entry in options.shards if "=" in entry) if options.shards else None,
        "cache_dir": str(Path(options.cache_dir).resolve()) if options.cache_dir else None,
        "max_size": options.max_size,
        "host": options.host,
        "port": options.port,
    }
    merged = msgspec.to_builtins(defaults) | {name: value for name, value in given.items() if value is not None}
    return msgspec.convert(merged, EdgeConfig)


def run_edge(config: Config, options: argparse.Namespace) -> int:
    try:
        settings = edge_settings(config.edge, options)
    except msgspec.ValidationError as error:
        hint = " (a size is bytes, or a number with K, M, G or T: 512M, 2G)" if "max_size" in str(error) else ""
        print(f"instamini edge: {error}{hint}", file=sys.stderr)
        return 2
    bad = [entry for entry in options.shards or () if "=" not in entry]
    try:
        if bad:
            raise ValueError(f"--shards {bad[0]!r}: write URL=RANGES, like http://10.0.0.2:8000=3-5")
        owner_table(settings.shard_owners, settings.origins)
    except ValueError as error:  # TopologyError is one
        print(f"instamini edge: {error}", file=sys.stderr)
        return 2
    serve_edge(settings)
    return 0


def serve_edge(settings: EdgeConfig) -> None:
    from granian.constants import Interfaces
    from granian.server import Server

    from .app import SETTINGS_VARIABLE

    os.environ[SETTINGS_VARIABLE] = msgspec.json.encode(settings).decode()
    Path(settings.cache_dir).mkdir(parents=True, exist_ok=True)
    print(
        f"instamini edge listening on http://{settings.host}:{settings.port} in front of {', '.join(settings.origins)} "
        f"(cache in {settings.cache_dir}, at most {settings.max_size}); Ctrl-C stops it",
        flush=True,
    )
    server = Server(
        "instamini.edge.app:app_from_environment",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        factory=True,
        workers=1,
        websockets=False,  # not passed through: see proxy.py
        log_access=False,
    )
    server.serve()
