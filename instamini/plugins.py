"""Finding and loading contributor plugins.

Plugins come from two places: every `*.py` file in the configured plugin
directories (default `plugins/`, files starting with `_` are skipped) and every
installed package that declares an entry point in the `instamini` group. Names in
`[plugins] disabled` are not loaded. Loading a file imports it, once, at start.

Cost: the import time of each plugin, once.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
from pathlib import Path

import pluggy

from . import hookspecs
from .config import Config

log = logging.getLogger(__name__)


def _import_file(path: Path):
    name = f"instamini_plugin_{path.stem}"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # so that the plugin's own imports of itself resolve
    spec.loader.exec_module(module)
    return module


def load_plugins(config: Config) -> pluggy.PluginManager:
    """A plugin manager with the hook specs and every enabled plugin registered."""
    manager = pluggy.PluginManager("instamini")
    manager.add_hookspecs(hookspecs)
    disabled = set(config.plugins.disabled)
    for directory in config.plugins.dirs:
        for path in sorted(Path(directory).glob("*.py")):
            if path.name.startswith("_") or path.stem in disabled:
                continue
            manager.register(_import_file(path), name=path.stem)
            log.info("loaded plugin %s from %s", path.stem, path)
    if config.plugins.entry_points:
        for name in disabled:
            manager.set_blocked(name)
        manager.load_setuptools_entrypoints("instamini")
    if os.environ.get("INSTAMINI_TRACE_HOOKS"):
        manager.trace.root.setwriter(lambda message: print(message, end="", file=sys.stderr))
        manager.enable_tracing()
    return manager
