"""The plugin system: discovery, disabling, tracing, and that every hook is documented and tested."""

from __future__ import annotations

import inspect
import subprocess
import sys
from pathlib import Path

import msgspec
from litestar.testing import AsyncTestClient

from instamini import hookspecs
from instamini.app import create_app
from instamini.plugins import load_plugins
from tests.conftest import make_config, register

TESTS = Path(__file__).resolve().parent
HOOKS = [name for name, value in vars(hookspecs).items() if name.startswith("instamini_") and inspect.isfunction(value)]

RECORDER = '''
from instamini.hookspecs import hookimpl

calls = []

@hookimpl
def instamini_startup(app, config):
    app.state.recorder_calls = calls
    calls.append(("startup", None))

@hookimpl
def instamini_event(name, payload):
    calls.append((name, payload))

@hookimpl
async def instamini_shutdown(app):
    calls.append(("shutdown", None))
'''

BROKEN = '''
from instamini.hookspecs import hookimpl

@hookimpl
def instamini_event(name, payload):
    raise RuntimeError("plugin bug")
'''


def test_every_hook_has_a_docstring_and_a_test():
    assert set(HOOKS) == {
        "instamini_routes", "instamini_startup", "instamini_shutdown", "instamini_event", "instamini_ranker",
        "instamini_media_check",
    }
    test_text = "\n".join(path.read_text() for path in TESTS.rglob("test_*.py"))
    plugin_text = (TESTS.parent / "plugins" / "welcome.py").read_text() + RECORDER
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), f"{name} has no docstring"
        assert name in test_text or name in plugin_text, f"{name} is not exercised by any test"


def _with_plugins(tmp_path, files: dict[str, str], extra: str = ""):
    plugin_dir = tmp_path / "plugins"
    plugin_dir.mkdir()
    for name, text in files.items():
        (plugin_dir / name).write_text(text)
    config = make_config(tmp_path / "data", extra)
    return msgspec.structs.replace(config, plugins=msgspec.structs.replace(config.plugins, dirs=[str(plugin_dir)]))


async def test_events_startup_and_shutdown_reach_plugins(tmp_path):
    config = _with_plugins(tmp_path, {"recorder.py": RECORDER, "_private.py": "raise SystemExit('never loaded')"})
    app = create_app(config)
    async with AsyncTestClient(app) as client:
        calls = app.state.recorder_calls
        alice = await register(client, "alice")
        bob = await register(client, "bob")
        await client.post("/api/v1/users/bob/follow", headers=alice.headers)
    names = [name for name, _ in calls]
    assert names[0] == "startup" and names[-1] == "shutdown"
    assert names.count("account.registered") == 2
    followed = [payload for name, payload in calls if name == "graph.followed"]
    assert followed == [{"follower_id": int(alice.id), "followee_id": int(bob.id)}]


async def test_a_failing_plugin_never_reaches_the_user(tmp_path):
    app = create_app(_with_plugins(tmp_path, {"broken.py": BROKEN}))
    async with AsyncTestClient(app) as client:
        alice = await register(client, "alice")
        assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200


def test_disabled_plugins_are_not_loaded(tmp_path):
    config = _with_plugins(tmp_path, {"recorder.py": RECORDER})
    assert load_plugins(config).has_plugin("recorder")
    disabled = msgspec.structs.replace(config, plugins=msgspec.structs.replace(config.plugins, disabled=["recorder"]))
    assert not load_plugins(disabled).has_plugin("recorder")


def test_trace_variable_prints_hook_calls(tmp_path):
    config_file = tmp_path / "c.toml"
    config_file.write_text(f'[plugins]\ndirs = ["{TESTS.parent / "plugins"}"]\n')
    script = (
        "from instamini.config import load_config; from instamini.plugins import load_plugins; import sys; "
        f"m = load_plugins(load_config(sys.argv[1])); m.hook.instamini_routes(config=None)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(config_file)], capture_output=True, text=True, timeout=60,
        env={"INSTAMINI_TRACE_HOOKS": "1", "PATH": "/usr/bin:/bin"},
    )
    assert result.returncode == 0, result.stderr
    assert "instamini_routes" in result.stderr
