"""What the real-cluster tests share: fast settings, a two-instance cluster, and where rows live.

`two_instances` is a module-scoped fixture factory: `cluster = two_instances()` in a test
module gives that module its own `LocalCluster` of instances "a" (shards 0-1) and "b"
(shards 2-3), real server subprocesses on loopback ports.
"""

from __future__ import annotations

import sqlite3

import httpx
import lmdb
import pytest

from instamini.accounts.service import shard_named_by
from instamini.cluster.launch import LocalCluster
from instamini.stores.cache_base import encode_key
from instamini.stores.meta import shard_for_text

FAST = """
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
logins_per_address_per_minute = 10000
registrations_per_address_per_minute = 10000
[media]
uploads_per_address_per_minute = 10000
[plugins]
dirs = []
"""
SHARDS = 4
OWNERS = {0: "a", 1: "a", 2: "b", 3: "b"}


def owner_of_name(name: str) -> str:
    """The instance that owns a username (and so the user, who lives on that shard)."""
    return OWNERS[shard_for_text(name, SHARDS)]


def name_owned_by(owner: str, stem: str) -> str:
    return next(f"{stem}{n}" for n in range(1000) if owner_of_name(f"{stem}{n}") == owner)


def session_owner(token: str) -> str:
    """The instance that checks a token: the owner of the shard its prefix names (the user's)."""
    return OWNERS[shard_named_by(token)]


def holders(cluster: LocalCluster, sql: str, value) -> list[str]:
    """The instances whose shard files hold a row whose first column is `value` (read off the files)."""
    found = []
    for instance, server in cluster.servers.items():
        for path in sorted((server.data_dir / "meta").glob("shard-*.sqlite")):
            with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as conn:
                if value in [row[0] for row in conn.execute(sql)]:
                    found.append(instance)
    return found


def cached(cluster, instance: str, table: str, key) -> bool:
    """Whether the instance's LMDB cache holds `key` in `table` (read beside the running server)."""
    env = lmdb.open(str(cluster.servers[instance].data_dir / "cache"), readonly=True, max_dbs=64)
    try:
        with env.begin(db=env.open_db(table.encode(), create=False)) as txn:
            return txn.get(encode_key(key)) is not None
    finally:
        env.close()


def two_instances(extra_toml: str = ""):
    @pytest.fixture(scope="module")
    def cluster(tmp_path_factory):
        root = tmp_path_factory.mktemp("cluster")
        with LocalCluster(root, 2, shards=SHARDS, extra_toml=FAST + extra_toml, edge=False) as running:
            yield running

    return cluster


class Person:
    """A registered account and an httpx client per instance, sending its token."""

    def __init__(self, cluster: LocalCluster, username: str, password: str = "long enough pw") -> None:
        self.username = username
        self.clients = {name: httpx.Client(base_url=url, timeout=30) for name, url in cluster.urls.items()}
        answer = self.clients["a"].post("/api/v1/accounts", json={"username": username, "password": password})
        assert answer.status_code == 201, answer.text
        self.id = answer.json()["account"]["id"]
        self.token = answer.json()["token"]
        for client in self.clients.values():
            client.headers["Authorization"] = f"Bearer {self.token}"

    def on(self, instance: str) -> httpx.Client:
        return self.clients[instance]


def rpc_client_as(cluster: LocalCluster, instance: str):
    """An internal RPC client signing as `instance` (its config's map and secret), for what a
    test must do that no public route does, such as making an admin while the cluster runs."""
    from instamini.cluster.rpc_client import RpcClient
    from instamini.cluster.topology import Topology
    from instamini.config import decode_config

    path = cluster.servers[instance].config_file
    config = decode_config(path.read_text(), source=str(path))
    return RpcClient(Topology.from_config(config.cluster, config.meta.shards), config.cluster.secret, timeout=10)
