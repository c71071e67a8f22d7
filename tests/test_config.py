"""config.toml: every setting documented, typos and wrong types refused with the key and file named."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import msgspec
import pytest

from instamini.config import Config, ConfigError, decode_config, load_config, with_overrides

REPO = Path(__file__).resolve().parent.parent


def test_shipped_config_lists_every_default():
    shipped = load_config(REPO / "config.toml")
    defaults = Config()
    # Paths are resolved against the file; everything else must equal the built-in defaults.
    assert shipped.server.data_dir == str(REPO / "data")
    assert shipped.edge.cache_dir == str(REPO / "data" / "edge-cache")
    same = msgspec.structs.replace(shipped, server=msgspec.structs.replace(shipped.server, data_dir="data"),
                                   plugins=msgspec.structs.replace(shipped.plugins, dirs=["plugins"]),
                                   edge=msgspec.structs.replace(shipped.edge, cache_dir="data/edge-cache"))
    assert same == defaults
    text = (REPO / "config.toml").read_text()
    for section in msgspec.structs.fields(Config):
        assert f"[{section.name}]" in text
        for setting in msgspec.structs.fields(section.type):
            line = next((l for l in text.splitlines() if l.startswith(f"{setting.name} ")), None)
            assert line is not None, f"{section.name}.{setting.name} is not in config.toml"
            assert "#" in line, f"{section.name}.{setting.name} has no comment"


def test_unknown_key_names_key_and_file(tmp_path):
    path = tmp_path / "my.toml"
    path.write_text("[server]\nprot = 8000\n")
    with pytest.raises(ConfigError) as error:
        load_config(path)
    assert str(path) in str(error.value) and "prot" in str(error.value)


def test_wrong_type_names_key(tmp_path):
    with pytest.raises(ConfigError, match=r"port"):
        decode_config('[server]\nport = "eighty"\n', source="x.toml")
    with pytest.raises(ConfigError, match=r"shards"):
        decode_config("[meta]\nshards = 0\n", source="x.toml")


def test_unknown_section_and_bad_toml_refused():
    with pytest.raises(ConfigError, match="nonsense"):
        decode_config("[nonsense]\na = 1\n", source="x.toml")
    with pytest.raises(ConfigError, match="not valid TOML"):
        decode_config("[server\n", source="x.toml")


def test_module_needing_another_is_refused():
    with pytest.raises(ConfigError, match="modules.graph needs modules.accounts"):
        decode_config("[modules]\naccounts = false\n", source="x.toml")


def test_environment_variable_points_to_config(tmp_path, monkeypatch):
    path = tmp_path / "elsewhere.toml"
    path.write_text('[server]\nport = 9123\ndata_dir = "d"\n')
    monkeypatch.setenv("INSTAMINI_CONFIG", str(path))
    config = load_config()
    assert config.server.port == 9123
    assert config.server.data_dir == str(tmp_path / "d")


def test_missing_file_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="cannot read"):
        load_config(tmp_path / "absent.toml")


def test_command_line_flags_override_the_file():
    config = with_overrides(Config(), port=9999, host=None)
    assert config.server.port == 9999 and config.server.host == "127.0.0.1"


def test_cli_refuses_bad_config_with_message(tmp_path):
    path = tmp_path / "bad.toml"
    path.write_text("[server]\nport = -1\n")
    result = subprocess.run(
        [sys.executable, "-m", "instamini", "--config", str(path)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2
    assert str(path) in result.stderr and "port" in result.stderr
