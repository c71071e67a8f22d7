"""`python -m instamini edge`: sizes, flags over config.toml, and bad values refused before start."""

from __future__ import annotations

import argparse
import subprocess
import sys

import msgspec
import pytest

from instamini.config import EdgeConfig, decode_config, parse_size
from instamini.edge.cli import edge_settings


@pytest.mark.parametrize("text, size", [("512M", 512 << 20), ("2G", 2 << 30), ("1048576", 1048576), ("64k", 64 << 10)])
def test_sizes(text, size):
    assert parse_size(text) == size


@pytest.mark.parametrize("text", ["0", "-1", "1.5G", "12Q", "", "G"])
def test_bad_sizes(text):
    with pytest.raises(ValueError, match="not a size"):
        parse_size(text)


def flags(**given) -> argparse.Namespace:
    names = ("origin", "shards", "cache_dir", "max_size", "host", "port")
    return argparse.Namespace(**{name: given.get(name) for name in names})


def test_flags_win_over_the_config_file(tmp_path):
    config = decode_config('[edge]\nmax_size = "2G"\nport = 9000\norigins = ["http://10.0.0.1:8000"]\n',
                           base_dir=str(tmp_path))
    assert config.edge.cache_dir == str(tmp_path / "data" / "edge-cache")  # relative to the file
    settings = edge_settings(config.edge, flags(origin=["http://127.0.0.1:1", "http://127.0.0.1:2"], max_size="512M"))
    assert settings.origins == ["http://127.0.0.1:1", "http://127.0.0.1:2"] and settings.max_bytes == 512 << 20
    assert settings.port == 9000 and settings.cache_dir == config.edge.cache_dir


@pytest.mark.parametrize("given", [{"max_size": "12Q"}, {"origin": ["ftp://x"]}, {"origin": ["http://h/path"]}, {"port": 70000}])
def test_bad_flags_are_refused(given):
    with pytest.raises(msgspec.ValidationError):
        edge_settings(EdgeConfig(), flags(**given))


def test_the_command_names_the_bad_setting_and_exits_2():
    result = subprocess.run([sys.executable, "-m", "instamini", "edge", "--max-size", "lots"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "max_size" in result.stderr and "512M" in result.stderr


def test_shards_flags_become_the_owner_table_and_a_bad_one_stops_start_up(tmp_path):
    settings = edge_settings(EdgeConfig(), flags(origin=["http://127.0.0.1:8001"], shards=["http://127.0.0.1:8001=0-3"]))
    assert settings.shard_owners == {"http://127.0.0.1:8001": "0-3"}
    for bad in ("http://127.0.0.1:8001", "http://127.0.0.1:9999=0-3", "http://127.0.0.1:8001=three"):
        done = subprocess.run(
            [sys.executable, "-m", "instamini", "edge", "--origin", "http://127.0.0.1:8001", "--shards", bad,
             "--cache-dir", str(tmp_path / "cache")],
            capture_output=True, text=True, timeout=60,
        )
        assert done.returncode == 2 and "instamini edge:" in done.stderr, (bad, done.stderr)
