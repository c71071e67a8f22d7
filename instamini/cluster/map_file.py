"""The cluster map saved in the data directory, so that a moved shard stays moved.

The config gives the first map. Once a shard has moved, the map in force is written to
`data/cluster/topology.json` and wins over the config at every later start: the config
then still says where each instance is (its URL), but no longer who owns what. Delete
the file to go back to the config's map. It is small and readable on purpose:

    {"format": 1, "version": 3, "shards": {"a": "0-3,5", "b": "4,6-7"}}

Cost: one small file read at start; one atomic write (temporary file, fsync, rename)
per move.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

import msgspec

from .errors import TopologyError
from .topology import Topology

log = logging.getLogger(__name__)
FILE_NAME = "topology.json"


class MapFile(msgspec.Struct, forbid_unknown_fields=True):
    version: int
    shards: dict[str, str]
    format: int = 1


def save(topology: Topology, directory: Path) -> Path:
    """Write the map atomically: a crash leaves the old file or the new one, never half."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / FILE_NAME
    temporary = path.with_suffix(".tmp")
    with open(temporary, "wb") as file:
        file.write(msgspec.json.encode(MapFile(version=topology.version, shards=topology.ranges())))
        file.flush()
        os.fsync(file.fileno())
    temporary.replace(path)
    return path


def load(directory: Path, configured: Topology) -> Topology:
    """The saved map if there is one (with the config's instances and URLs), else `configured`."""
    path = directory / FILE_NAME
    if not path.exists():
        return configured
    try:
        saved = msgspec.json.decode(path.read_bytes(), type=MapFile)
    except (msgspec.DecodeError, OSError) as error:
        raise TopologyError(f"{path}: not a cluster map: {error}") from None
    if saved.format != 1:
        raise TopologyError(f"{path}: format {saved.format} is not known to this version")
    try:
        topology = Topology.from_ranges(
            configured.local, configured.instances, saved.shards, configured.shard_count, version=saved.version,
            key=str(path),
        )
    except TopologyError as error:
        raise TopologyError(f"{error} (the config's instances: {', '.join(configured.names)})") from None
    if topology.owners != configured.owners:
        log.warning("%s (version %d) overrides the shard map of the config; delete it to use the config's", path,
                    topology.version)
    return topology
