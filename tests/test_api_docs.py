"""Every route the app serves is documented: in the contract (../shared/API.md) or in docs/api.md."""

from __future__ import annotations

import re
from pathlib import Path

from instamini.app import create_app
from instamini.config import Config

REPO = Path(__file__).resolve().parent.parent
CONTRACT = REPO.parent / "shared" / "API.md"  # CI and development both keep ../shared beside the repository
ROW = re.compile(r"^\|\s*([A-Z][A-Z, ]*)\s*\|\s*([^|]+?)\s*\|", re.M)
UNDOCUMENTED_BY_DESIGN = ("/schema",)  # the OpenAPI document and its viewers describe themselves


def shape(path: str) -> str:
    """A path with every placeholder as {} and no query: /api/v1/posts/{id}?x= -> /api/v1/posts/{}."""
    return re.sub(r"\{[^}]+\}", "{}", path.split("?")[0])


def documented(text: str) -> set[tuple[str, str]]:
    """(method, path shape) of every table row; "/a/{x}, /b" rows mean /a/{x} and /a/b (a sibling)."""
    found = set()
    for methods, paths in ROW.findall(text):
        first, *more = [p.strip().strip("`") for p in paths.split(",")]
        if not first.startswith("/"):
            continue
        shapes = [shape(first)] + [shape(first.rsplit("/", 1)[0] + p) for p in more if p.startswith("/")]
        found |= {(method.strip(), s) for method in methods.split(",") for s in shapes}
    return found


def served() -> set[tuple[str, str]]:
    routes = set()
    for route in create_app(Config()).routes:
        if route.path.startswith(UNDOCUMENTED_BY_DESIGN):
            continue
        methods = getattr(route, "methods", None) or {"WS"}  # a websocket route has none
        routes |= {(m, shape(route.path)) for m in methods if m not in ("HEAD", "OPTIONS")}
    return routes


def test_every_route_is_documented():
    docs = documented(CONTRACT.read_text()) | documented((REPO / "docs" / "api.md").read_text())
    missing = sorted(served() - docs, key=lambda r: (r[1], r[0]))
    assert not missing, f"document these in docs/api.md: {missing}"


def test_every_documented_extra_route_exists():
    extra = documented((REPO / "docs" / "api.md").read_text())
    stale = sorted(extra - served())
    assert not stale, f"docs/api.md lists routes the app does not serve: {stale}"
    assert ("POST", "/api/v1/reports") in extra and ("GET", "/api/v1/admin/reports") in extra
