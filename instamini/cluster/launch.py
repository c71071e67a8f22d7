"""A whole cluster on one machine: N instances and an edge in front, on loopback ports.

The idea: scaling out should be something you can watch on a laptop. This writes one
config file per instance (the same map and secret in each, the shards split into
contiguous ranges), starts each as its own `python -m instamini serve` process with its
own data directory, then starts `python -m instamini edge` with every instance as an
origin. Each process is a real server: kill one and the others carry on.

    python -m instamini cluster --instances 3        # a, b, c and an edge; Ctrl-C stops all

Cost: one server process per instance (about 100 MB each), one edge.
"""

from __future__ import annotations

import secrets
import signal
from pathlib import Path

from ..bench.server import EdgeProcess, ServerProcess, free_port

NAMES = "abcdefgh"


def shard_ranges(instances: int, shards: int) -> list[str]:
    """Contiguous, nearly equal ranges: 8 shards on 3 instances -> "0-2", "3-5", "6-7"."""
    if not 1 <= instances <= min(shards, len(NAMES)):
        raise ValueError(f"--instances must be between 1 and {min(shards, len(NAMES))} for {shards} shards")
    ranges, start = [], 0
    for i in range(instances):
        size = shards // instances + (1 if i < shards % instances else 0)
        ranges.append(f"{start}-{start + size - 1}")
        start += size
    return ranges


def cluster_toml(local: str, ports: dict[str, int], ranges: list[str], secret: str, shards: int) -> str:
    entries = ",\n  ".join(
        f'{{name = "{name}", url = "http://127.0.0.1:{port}", shards = "{span}"}}'
        for (name, port), span in zip(ports.items(), ranges)
    )
    return (f"[meta]\nshards = {shards}\n\n[cluster]\ninstance = \"{local}\"\nsecret = \"{secret}\"\n"
            f"instances = [\n  {entries},\n]\n")


class LocalCluster:
    """`with LocalCluster(root, 3) as cluster:` ... `cluster.urls["a"]`, `cluster.edge.url`.

    `extra_toml` is added to every instance's config (sections other than [meta] and
    [cluster]); tests use it for fast password hashing and no background jobs."""

    def __init__(self, root: Path, instances: int, *, shards: int = 8, extra_toml: str = "", edge: bool = True,
                 base_port: int | None = None) -> None:
        self.root = Path(root)
        ranges = shard_ranges(instances, shards)
        names = NAMES[:instances]
        ports = {name: (base_port + i if base_port else free_port()) for i, name in enumerate(names)}
        secret = secrets.token_urlsafe(24)
        self.servers: dict[str, ServerProcess] = {}
        for name in names:
            config = self.root / f"{name}.toml"
            config.parent.mkdir(parents=True, exist_ok=True)
            config.write_text(cluster_toml(name, ports, ranges, secret, shards) + extra_toml)
            self.servers[name] = ServerProcess(config, self.root / name / "data", port=ports[name])
        self.shards = dict(zip(names, ranges))
        self.urls = {name: server.url for name, server in self.servers.items()}
        edge_port = base_port + instances if base_port else None
        owners = {self.urls[name]: shards for name, shards in self.shards.items()}  # requests to their sender's instance
        self.edge = EdgeProcess(list(self.urls.values()), self.root / "edge" / "cache", port=edge_port,
                                shard_owners=owners) if edge else None

    def start(self) -> None:
        try:
            for server in self.servers.values():
                server.start()
            if self.edge is not None:
                self.edge.start()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        if self.edge is not None:
            self.edge.stop()
        for server in self.servers.values():
            server.stop()

    def __enter__(self) -> LocalCluster:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


def run_cluster(instances: int, root: Path, *, shards: int, base_port: int) -> int:
    cluster = LocalCluster(root, instances, shards=shards, base_port=base_port)
    cluster.start()
    for name, url in cluster.urls.items():
        print(f"instance {name}: {url}  shards {cluster.shards[name]}  data in {cluster.servers[name].data_dir}")
    print(f"edge: {cluster.edge.url} (media cached in {cluster.edge.data_dir}); Ctrl-C stops them all")
    stopping = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, stopping)  # delivered to sigwait, not as KeyboardInterrupt
    try:
        signal.sigwait(stopping)
    finally:
        cluster.stop()
    return 0
