"""`python -m instamini admin move-shard SHARD INSTANCE`: the command-line wiring.

The steps live in move_driver.py (and the instances' side in shard_move.py); this file
reads the instances and the secret from the config, makes the RPC client, and turns
the outcome into an exit status: 0 moved, 2 refused (nothing changed), 1 failed.
Imports are deferred so that `--help` stays fast.

Cost: none beyond the move.
"""

from __future__ import annotations

import argparse
import sys

from ..config import Config


def add_move_shard_command(admin_commands) -> None:
    move = admin_commands.add_parser(
        "move-shard", help="move a logical shard to another instance of the running cluster (a consistent copy, "
                           "then the map switches)",
    )
    move.add_argument("shard", metavar="SHARD", help="the logical shard to move, e.g. 3")
    move.add_argument("instance", metavar="INSTANCE", help="the instance that will own it, by its name in [cluster]")
    move.add_argument("--config", help="any instance's config: its [cluster] names the instances and the secret")


def run_move_shard(config: Config, options: argparse.Namespace) -> int:
    import asyncio

    from .move_driver import Failed, MoveDriver, Refused
    from .rpc_client import RpcClient
    from .topology import Instance, Topology

    settings = config.cluster
    instances = [Instance(entry.name, entry.url) for entry in settings.instances]
    if len(instances) < 2 or not settings.secret:
        print("instamini: move-shard needs a cluster: a [cluster] section with two instances or more and a secret",
              file=sys.stderr)
        return 2
    # A map only for addressing and signing (as this config's instance); the command
    # asks the instances for the map in force instead of trusting the config's.
    addressing = Topology(settings.instance, tuple(instances), (settings.instance,))
    client = RpcClient(addressing, settings.secret, timeout=settings.rpc_timeout_seconds, retries=settings.rpc_retries,
                       backoff=settings.rpc_backoff_ms / 1000)

    async def move() -> None:
        try:
            await MoveDriver(client, instances, lambda line: print(line, flush=True)).run(options.shard, options.instance)
        finally:
            await client.aclose()

    try:
        asyncio.run(move())
    except Refused as refusal:
        print(f"instamini: move-shard refused: {refusal}; nothing was changed", file=sys.stderr)
        return 2
    except Failed as failure:
        print(f"instamini: move-shard failed: {failure}", file=sys.stderr)
        return 1
    return 0
