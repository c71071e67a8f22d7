"""[cluster]: the shard map is checked at load, with the key named; the secret may come from the environment."""

from __future__ import annotations

import pytest

from instamini.cluster import Topology
from instamini.config import Config, ConfigError, decode_config

from .conftest import SECRET, URLS, cluster_toml


def decode(cluster: str, shards: int = 4):
    return decode_config(f"[meta]\nshards = {shards}\n" + cluster, source="x.toml")


def test_default_is_one_instance_owning_every_shard_without_a_secret():
    config = Config()
    topology = Topology.from_config(config.cluster, config.meta.shards)
    assert topology.single and topology.local == "main"
    assert topology.local_shards == tuple(range(8))
    assert config.cluster.secret == ""
    assert decode("").cluster == config.cluster  # and the empty file decodes to it


def test_two_instances_with_ranges():
    config = decode(cluster_toml("b", {"a": "0,2", "b": "1,3"}))
    topology = Topology.from_config(config.cluster, 4)
    assert topology.owners == ("a", "b", "a", "b") and topology.local == "b"


@pytest.mark.parametrize(
    ("shards", "message"),
    [
        ({"a": "0-1", "b": "3"}, "cluster.instances: no instance owns shards 2"),
        ({"a": "0-2", "b": "2-3"}, "shard 2 is owned by both 'a' and 'b'"),
        ({"a": "0-1", "b": "2-9"}, r"cluster.instances\[1\].shards: shard 9 is outside 0-3"),
        ({"a": "0-1", "b": "two"}, r"cluster.instances\[1\].shards: 'two' is not a shard"),
        ({"a": "1-0", "b": "2-3"}, "runs backwards"),
        ({"a": "all", "b": "2-3"}, "'all' is for a single instance"),
    ],
)
def test_impossible_maps_are_refused_with_the_key(shards, message):
    with pytest.raises(ConfigError, match=message) as error:
        decode(cluster_toml("a", shards))
    assert "x.toml" in str(error.value)


def test_unknown_local_instance_is_refused():
    with pytest.raises(ConfigError, match=r"cluster.instance: 'z' is not one of cluster.instances \(a, b\)"):
        decode(cluster_toml("z", {"a": "0-1", "b": "2-3"}))


def test_duplicate_and_badly_named_instances_are_refused():
    with pytest.raises(ConfigError, match="two instances are named 'a'"):
        decode('[cluster]\ninstance = "a"\nsecret = "' + SECRET + '"\ninstances = ['
               '{name = "a", url = "http://127.0.0.1:1", shards = "0-1"}, '
               '{name = "a", url = "http://127.0.0.1:2", shards = "2-3"}]\n')
    with pytest.raises(ConfigError, match="'Big A' is not a valid instance name"):
        decode('[cluster]\ninstance = "Big A"\ninstances = [{name = "Big A", url = "http://127.0.0.1:1", shards = "all"}]\n')


def test_url_must_be_http():
    with pytest.raises(ConfigError, match="url"):
        decode(cluster_toml("a", {"a": "0-1", "b": "2-3"}, urls={**URLS, "b": "ftp://127.0.0.1:2"}))


def test_more_than_one_instance_needs_a_secret(monkeypatch):
    monkeypatch.delenv("INSTAMINI_CLUSTER_SECRET", raising=False)
    with pytest.raises(ConfigError, match="cluster.secret is required with more than one instance"):
        decode(cluster_toml("a", {"a": "0-1", "b": "2-3"}, secret=None))
    with pytest.raises(ConfigError, match="cluster.secret must be at least 16 characters"):
        decode(cluster_toml("a", {"a": "0-1", "b": "2-3"}, secret="short"))


def test_secret_from_the_environment_wins_over_the_file(monkeypatch):
    monkeypatch.setenv("INSTAMINI_CLUSTER_SECRET", "from the environment, long enough")
    assert decode(cluster_toml("a", {"a": "0-1", "b": "2-3"}, secret=None)).cluster.secret == (
        "from the environment, long enough"
    )
    assert decode(cluster_toml("a", {"a": "0-1", "b": "2-3"})).cluster.secret == "from the environment, long enough"


def test_an_instance_may_own_no_shard_yet():
    config = decode(cluster_toml("c", {"a": "0-3", "b": "", "c": ""}, urls={**URLS, "c": "http://127.0.0.1:3"}))
    assert Topology.from_config(config.cluster, 4).local_shards == ()
