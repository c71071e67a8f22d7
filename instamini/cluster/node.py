"""This instance as a member of the cluster: what `app.state.cluster` holds.

One object that other modules reach for: the map (`topology`), the client that calls
other instances (`client`), and the registry where a module adds the procedures it
serves (`procedures`). `adopt` puts a new map in force everywhere at once and saves it
to the data directory: a shard move (shard_move.py, `cluster.adopt_map`) calls it once
the file is copied, after checking the version and the freeze.
"""

from __future__ import annotations

from pathlib import Path

from . import map_file
from .registry import RpcRegistry
from .rpc_client import RpcClient
from .rpc_server import RpcServer
from .topology import Topology


class ClusterNode:
    def __init__(self, topology: Topology, client: RpcClient, procedures: RpcRegistry, server: RpcServer,
                 map_directory: Path) -> None:
        self._topology = topology
        self.client, self.procedures, self.server = client, procedures, server
        self.map_directory = map_directory

    @property
    def topology(self) -> Topology:
        return self._topology

    @property
    def name(self) -> str:
        return self._topology.local

    def adopt(self, topology: Topology) -> None:
        """Save `topology` (durably) and put it in force for calls made and served from now on."""
        if topology.local != self._topology.local:
            raise ValueError(f"a map for instance {topology.local!r} given to {self._topology.local!r}")
        map_file.save(topology, self.map_directory)
        self._topology = self.client.topology = self.server.topology = topology
