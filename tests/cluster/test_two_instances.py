"""Two real instances on loopback ports, each owning half of the shards, calling each other.

Instance "a" takes its secret from its config file, instance "b" from the environment
(INSTAMINI_CLUSTER_SECRET). A plugin loaded by "a" registers `test.relay`, which makes
a's own RpcClient call "b": that is the cross-instance path under test. The test
process speaks to each instance as the other one, which the shared secret allows.
"""

from __future__ import annotations

import msgspec
import pytest

from instamini.bench.server import ServerProcess, free_port
from instamini.cluster import RpcCall, RpcCallFailed, RpcClient, RpcRefused, Topology
from instamini.cluster.procedures import PingResult
from instamini.config import decode_config

from .conftest import SECRET

MODULES_OFF = ["accounts", "graph", "media", "posts", "ranker", "feed", "realtime", "messages", "notifications",
               "stories", "search", "explore", "moderation", "web"]

RELAY_PLUGIN = '''
from instamini.cluster import RpcCall
from instamini.hookspecs import hookimpl


@hookimpl
def instamini_startup(app, config):
    client = app.state.cluster.client

    async def relay(target: str) -> list:
        """This instance's own client calls `target`: a ping and a meta.read in one batch."""
        return await client.batch(target, [
            RpcCall("cluster.ping"),
            RpcCall("meta.read", {"shard": 3, "sql": "SELECT ? * 2", "params": [21]}),
        ], idempotent=True)

    app.state.cluster.procedures.register("test.relay", relay)
'''


def instance_toml(local: str, urls: dict[str, str], plugins: str, *, secret: str | None) -> str:
    modules = "".join(f"{name} = false\n" for name in MODULES_OFF)
    entries = ", ".join(
        f'{{name = "{name}", url = "{url}", shards = "{ranges}"}}'
        for (name, url), ranges in zip(urls.items(), ["0-1", "2-3"])
    )
    text = (f"[modules]\n{modules}[meta]\nshards = 4\n[plugins]\ndirs = [\"{plugins}\"]\nentry_points = false\n"
            f'[cluster]\ninstance = "{local}"\ninstances = [{entries}]\n')
    return text + (f'secret = "{secret}"\n' if secret else "")


@pytest.fixture
def cluster_config(tmp_path, monkeypatch):
    """Starts b, then a; yields the [cluster] section they share (as a's file has it)."""
    urls = {"a": f"http://127.0.0.1:{free_port()}", "b": f"http://127.0.0.1:{free_port()}"}
    (tmp_path / "plugins-a").mkdir()
    (tmp_path / "plugins-a" / "relay.py").write_text(RELAY_PLUGIN)
    (tmp_path / "plugins-b").mkdir()
    config_a, config_b = tmp_path / "a.toml", tmp_path / "b.toml"
    config_a.write_text(instance_toml("a", urls, str(tmp_path / "plugins-a"), secret=SECRET))
    config_b.write_text(instance_toml("b", urls, str(tmp_path / "plugins-b"), secret=None))
    port = {name: int(url.rsplit(":", 1)[1]) for name, url in urls.items()}
    server_a = ServerProcess(config_a, tmp_path / "a", port=port["a"])
    server_b = ServerProcess(config_b, tmp_path / "b", port=port["b"])
    monkeypatch.setenv("INSTAMINI_CLUSTER_SECRET", SECRET)
    try:
        server_b.start()  # b inherits the secret from the environment: its file has none
        monkeypatch.delenv("INSTAMINI_CLUSTER_SECRET")
        server_a.start()
        yield decode_config(config_a.read_text(), source=str(config_a)).cluster
    finally:
        server_a.stop()
        server_b.stop()


def client_as(name: str, cluster) -> RpcClient:
    topology = Topology.from_config(msgspec.structs.replace(cluster, instance=name), 4)
    return RpcClient(topology, SECRET, timeout=10)


async def test_a_calls_b_with_its_own_client(cluster_config):
    as_b = client_as("b", cluster_config)
    try:
        ping, doubled = await as_b.call("a", "test.relay", "b", idempotent=True)
    finally:
        await as_b.aclose()
    assert ping["instance"] == "b" and ping["shards"] == [2, 3] and ping["map_version"] == 1
    assert doubled == [[42]]


async def test_ping_meta_read_and_refusals_over_real_http(cluster_config):
    as_a = client_as("a", cluster_config)
    try:
        ping = await as_a.call("b", "cluster.ping", result_type=PingResult, idempotent=True)
        assert ping.instance == "b" and ping.shards == [2, 3]
        assert await as_a.call("b", "meta.read", {"shard": 2, "sql": "SELECT ? || '!'", "params": ["hi"]}) == [["hi!"]]
        with pytest.raises(RpcCallFailed) as error:
            await as_a.call("b", "meta.read", {"shard": 0, "sql": "SELECT 1"})
        assert error.value.code == "not_my_shard" and error.value.data["owner"] == "a"
        results = await as_a.batch("b", [RpcCall("cluster.ping")] * 20, return_errors=True)
        assert [r["instance"] for r in results] == ["b"] * 20 and as_a.metrics.requests["b"] == 4
    finally:
        await as_a.aclose()
    impostor = RpcClient(as_a.topology, "not the secret, but long enough")
    try:
        with pytest.raises(RpcRefused) as refused:
            await impostor.call("b", "cluster.ping", idempotent=True)
        assert refused.value.status_code == 401
    finally:
        await impostor.aclose()
