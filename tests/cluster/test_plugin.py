"""The cluster module: app.state.cluster, the single-instance default, and a moved shard surviving a restart."""

from __future__ import annotations

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.cluster.procedures import PingResult
from instamini.config import ConfigError
from tests.conftest import make_config

from .conftest import TWO, cluster_toml


async def test_single_instance_calls_itself_in_process(client):
    cluster = client.app.state.cluster
    assert cluster.name == "main" and cluster.topology.single
    assert cluster.topology.local_shards == (0, 1, 2, 3)
    assert sorted(cluster.procedures.names()) == ["cluster.ping", "meta.read"]
    ping = await cluster.client.call("main", "cluster.ping", result_type=PingResult)
    assert ping.instance == "main" and ping.shards == [0, 1, 2, 3]
    assert await cluster.client.call("main", "meta.read", {"shard": 2, "sql": "SELECT 7"}) == [[7]]
    assert cluster.client._http is None  # no HTTP client was ever opened
    metrics = (await client.get("/metrics")).text
    assert 'instamini_rpc_client_calls_total{instance="main"} 2.0' in metrics
    assert 'instamini_rpc_client_latency_seconds_count{instance="main"} 2.0' in metrics
    assert 'instamini_rpc_client_requests_total{' not in metrics  # no HTTP request was made


async def test_module_can_be_switched_off(tmp_path):
    config = make_config(tmp_path / "data", "\n[modules]\ncluster = false\n")
    app = create_app(config)
    assert "/internal/rpc" not in {route.path for route in app.routes}
    async with AsyncTestClient(app) as client:
        assert client.app.state.get("cluster") is None


async def test_a_moved_shard_stays_moved_after_a_restart(tmp_path):
    config = make_config(tmp_path / "data", cluster_toml("a", TWO))
    async with AsyncTestClient(create_app(config)) as client:
        cluster = client.app.state.cluster
        moved = cluster.topology.with_shard_moved(2, "a")
        cluster.adopt(moved)
        assert cluster.topology is moved and cluster.client.topology is moved and cluster.server.topology is moved
        assert (await cluster.client.call("a", "cluster.ping", result_type=PingResult)).shards == [0, 1, 2]
    saved = msgspec.json.decode((tmp_path / "data" / "cluster" / "topology.json").read_bytes())
    assert saved == {"version": 2, "shards": {"a": "0-2", "b": "3"}, "format": 1}
    async with AsyncTestClient(create_app(config)) as client:
        topology = client.app.state.cluster.topology
        assert topology.local_shards == (0, 1, 2) and topology.version == 2


async def test_a_saved_map_naming_an_instance_the_config_lacks_stops_start_up(tmp_path):
    (tmp_path / "data" / "cluster").mkdir(parents=True)
    (tmp_path / "data" / "cluster" / "topology.json").write_text('{"version": 2, "shards": {"a": "0-1", "gone": "2-3"}}')
    with pytest.raises(ExceptionGroup) as error:  # Litestar's lifespan runs in a task group
        async with create_app(make_config(tmp_path / "data", cluster_toml("a", TWO))).lifespan():
            pass
    assert error.group_contains(ConfigError, match="topology.json: shards given to unknown instances \\['gone'\\]")


async def test_a_map_for_another_shard_count_than_the_data_directory_stops_start_up(tmp_path):
    config = make_config(tmp_path / "data", cluster_toml("a", TWO))
    async with create_app(config).lifespan():
        pass  # the data directory now has 4 shards
    replace = msgspec.structs.replace
    a, b = config.cluster.instances
    eight = replace(config, meta=replace(config.meta, shards=8),
                    cluster=replace(config.cluster, instances=[replace(a, shards="0-3"), replace(b, shards="4-7")]))
    with pytest.raises(ExceptionGroup) as error:
        async with create_app(eight).lifespan():
            pass
    assert error.group_contains(ConfigError, match="shard 7 is outside 0-3 .*has 4 logical shards, fixed at its creation")


def test_an_instance_with_peers_documents_its_503_on_every_route_of_the_api_and_media(tmp_path):
    def five_hundred_threes(app) -> dict[str, bool]:
        paths = app.openapi_schema.to_schema()["paths"]
        return {f"{method} {path}": "503" in operation["responses"]
                for path, item in paths.items() if path.startswith(("/api/", "/media/"))
                for method, operation in item.items()}

    clustered = five_hundred_threes(create_app(make_config(tmp_path / "a", cluster_toml("a", TWO))))
    assert len(clustered) > 60 and all(clustered.values()), [k for k, v in clustered.items() if not v]
    alone = five_hundred_threes(create_app(make_config(tmp_path / "one")))
    # Alone, only the password routes can be refused for a moment (hashing queue full: Overloaded).
    assert sorted(k for k, v in alone.items() if v) == ["post /api/v1/accounts", "post /api/v1/sessions"]
