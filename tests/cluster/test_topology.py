"""The cluster map: lookups, grouping for fan-out, moves as new maps, and the saved map file."""

from __future__ import annotations

import dataclasses

import msgspec
import pytest

from instamini.cluster import Instance, Topology, TopologyError
from instamini.cluster import map_file
from instamini.cluster.topology import format_shards, parse_shards
from instamini.ids import IdGenerator

INSTANCES = (Instance("a", "http://127.0.0.1:1"), Instance("b", "http://127.0.0.1:2"), Instance("c", "http://127.0.0.1:3"))


@pytest.fixture
def topology() -> Topology:
    return Topology.from_ranges("a", INSTANCES, {"a": "0-2,7", "b": "3-5", "c": "6"}, 8)


def test_lookups(topology):
    assert topology.owner_of(0) == "a" and topology.owner_of(4) == "b" and topology.owner_of(6) == "c"
    assert topology.is_local(7) and not topology.is_local(3)
    assert topology.shards_of("b") == (3, 4, 5) and topology.local_shards == (0, 1, 2, 7)
    assert topology.instance("c").url == "http://127.0.0.1:3"
    assert topology.names == ("a", "b", "c") and topology.shard_count == 8 and not topology.single
    with pytest.raises(IndexError):
        topology.owner_of(8)
    with pytest.raises(IndexError):
        topology.owner_of(-1)  # not silently the last shard
    with pytest.raises(TopologyError, match="no instance is named 'z'"):
        topology.instance("z")


def test_grouping_by_instance_keeps_first_seen_order(topology):
    assert topology.group_by_instance([4, 0, 6, 3, 7]) == {"b": [4, 3], "a": [0, 7], "c": [6]}
    ids = IdGenerator()
    on_b, on_a = ids.next_id(5), ids.next_id(1)
    assert topology.group_ids_by_instance([on_b, on_a, on_b]) == {"b": [on_b, on_b], "a": [on_a]}
    assert topology.owner_of_id(on_b) == "b"


def test_moving_a_shard_makes_a_new_map(topology):
    moved = topology.with_shard_moved(3, "c")
    assert moved.owner_of(3) == "c" and moved.version == topology.version + 1
    assert topology.owner_of(3) == "b"  # the old map is untouched
    with pytest.raises(dataclasses.FrozenInstanceError):
        topology.version = 5
    with pytest.raises(TopologyError):
        topology.with_shard_moved(3, "z")
    with pytest.raises(TopologyError):
        topology.with_shard_moved(8, "a")


def test_ranges_round_trip():
    assert parse_shards("0-2, 5,7-8", 10, "k") == [0, 1, 2, 5, 7, 8]
    assert parse_shards("all", 3, "k") == [0, 1, 2]
    assert format_shards([8, 0, 1, 2, 5, 7]) == "0-2,5,7-8"
    assert format_shards([]) == ""


def test_map_file_round_trip(tmp_path, topology):
    assert map_file.load(tmp_path, topology) is topology  # no file: the configured map
    moved = topology.with_shard_moved(0, "b").with_shard_moved(6, "a")
    path = map_file.save(moved, tmp_path)
    assert msgspec.json.decode(path.read_bytes()) == {"version": 3, "shards": {"a": "1-2,6-7", "b": "0,3-5", "c": ""},
                                                      "format": 1}
    loaded = map_file.load(tmp_path, topology)
    assert loaded == moved and loaded.version == 3


def test_map_file_naming_an_unknown_instance_is_refused(tmp_path, topology):
    (tmp_path / "topology.json").write_text('{"version": 2, "shards": {"a": "0-5", "zed": "6-7"}}')
    with pytest.raises(TopologyError, match="unknown instances \\['zed'\\]"):
        map_file.load(tmp_path, topology)
    (tmp_path / "topology.json").write_text("{not json")
    with pytest.raises(TopologyError, match="not a cluster map"):
        map_file.load(tmp_path, topology)
