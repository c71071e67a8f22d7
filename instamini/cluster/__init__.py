"""Cluster: logical shards spread over instances, and the authenticated internal RPC between them.

    topology.py    Topology: who owns which shard (immutable; moves make a new one)
    map_file.py    the map saved in the data directory, so that a move survives a restart
    auth.py        HMAC-SHA256 request signing, clock-skew window, replayed nonces refused
    schemas.py     the msgpack wire format: a batch of calls, a list of typed results
    registry.py    RpcRegistry: named async procedures and how a batch runs
    rpc_server.py  POST /internal/rpc
    rpc_client.py  RpcClient: call, batch, fan_out; retries for idempotent calls
    procedures.py  the built-ins: cluster.ping, meta.read
    node.py        ClusterNode: what app.state.cluster holds
    shard_move.py  moving a shard: freeze, chunked copy, the switch (cluster.map, cluster.adopt_map ...)
    move_schemas.py  their arguments and answers on the wire
    move_driver.py   `admin move-shard`: the steps, driven by RPC from outside (move_cli.py: its wiring)
    plugin.py      the module
    errors.py      the exception tree
"""

import importlib

# name -> the module that defines it. Loaded on first use (PEP 562), so that config.py can
# check the map with topology.py without importing the HTTP half (litestar, httpx): 0.2 s.
_EXPORTS = {
    "Instance": "topology",
    "Topology": "topology",
    "TopologyError": "errors",
    "NotMyShard": "errors",
    "ProcedureError": "errors",
    "RpcCallFailed": "errors",
    "RpcError": "errors",
    "RpcProtocolError": "errors",
    "RpcRefused": "errors",
    "RpcUnavailable": "errors",
    "RpcRegistry": "registry",
    "RpcCall": "rpc_client",
    "RpcClient": "rpc_client",
    "RPC_PATH": "schemas",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_EXPORTS[name]}", __name__), name)
