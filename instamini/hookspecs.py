"""The hooks that plugins implement: the whole contract for plugin authors.

The idea (pluggy, as in pytest and Datasette): the program declares named hooks
with their arguments here; a plugin is any module with functions of the same
names decorated with `@hookimpl`. The program calls every implementation and
collects the results. A plugin implements only the hooks it needs and may name
only the arguments it uses.

A plugin is a file in `plugins/` (see `plugins/welcome.py`) or a package that
declares an entry point in the `instamini` group. Set INSTAMINI_TRACE_HOOKS=1 to
print every hook call with its arguments and results to stderr.

Cost: one Python call per implementation per hook call.
"""

from __future__ import annotations

from typing import Any

import pluggy

hookspec = pluggy.HookspecMarker("instamini")
hookimpl = pluggy.HookimplMarker("instamini")


@hookspec
def instamini_routes(config: Any) -> list[Any]:
    """Return a list of extra Litestar route handlers, controllers or routers to mount.

    Called once while the app is built. `config` is the decoded `instamini.config.Config`.
    Paths should live under `/api/v1/plugins/<plugin name>/` or another prefix of your
    own, so they cannot clash with the API. Handlers may take the same dependencies as
    the built-in routes (for example `viewer: Viewer` for an authenticated user).
    """


@hookspec
def instamini_startup(app: Any, config: Any) -> Any:
    """Called once after the stores are open and before the first request is served.

    `app` is the Litestar application; `app.state` holds the stores and services
    (`meta`, `cache`, `blobs`, `accounts`, `graph`, ...). May return an awaitable,
    which is awaited: start background work here, and keep what you need on `app.state`.
    """


@hookspec
def instamini_shutdown(app: Any) -> Any:
    """Called once when the server stops, before the stores close. May return an awaitable."""


@hookspec
def instamini_event(name: str, payload: dict[str, Any], app: Any) -> Any:
    """Called after commit for every event in `instamini.events.EVENTS`.

    `name` is the event name (for example `graph.followed`), `payload` its keyword
    arguments (ids are ints) and `app` the running Litestar application. Runs after the response, outside the request; may return
    an awaitable, which is awaited. An exception is logged and does not reach the user.
    """


@hookspec(firstresult=True)
def instamini_ranker(config: Any, default: Any) -> Any:
    """Return a ranker to use instead of the built-in one, or None to keep it.

    A ranker is any object with a `name` (str) and a method
    `rank(viewer_id: int, candidates: Sequence[instamini.feed.ranker.Candidate]) -> list[Scored]`
    returning the candidates best first (see `instamini/feed/ranker.py`). It is called
    on the event loop for every ranked page (home feed, reels, story tray, Explore) with
    a few dozen to a few hundred candidates: keep it fast and free of I/O. `default` is
    the built-in ranker, so yours may wrap it. The first plugin that returns one wins.
    """


@hookspec
def instamini_media_check(kind: str, phash: int | None, path: str) -> str | None:
    """Look at a processed upload before it can be posted; return a reason to refuse it, or None.

    Called in the server once an upload has been processed, for every plugin. `kind`
    is "image" or "video", `phash` the 64-bit perceptual hash of the image (of a video's
    poster frame), `path` a JPEG rendition (at most 1080 px) on local disk. A returned
    reason fails the upload with that reason (the uploader sees it); the built-in
    check refuses images near one on the admins' blocklist. Runs on the event loop: do
    heavy work with `anyio.to_thread.run_sync` and return an awaitable.
    """
