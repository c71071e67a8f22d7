"""Authorization: every route that names an object, for every kind of viewer, leaks nothing.

The idea: a table (matrix.py) says, for each route that takes an id or a name in its
path, what each of five viewers gets when the object is a public owner's and when it is
a private owner's; one world (world.py) holds those objects, built once for the module.
Each cell checks the status, that a refusal to someone who may not see the object is
byte-identical to the answer for a missing object, that a refused write changed nothing
the owner sees, and that no answer carries the owner's hidden strings (ids, caption,
comments, media URLs, DMs, token). The lists that could pull a hidden object in by
another way (feeds, tags, search, explore, tray, saved, notifications, people) are read
by the stranger, the blocked one and an anonymous caller; the follower reads them too,
and must find those strings there, which proves that the checks can fail.

A route added to the app with a path parameter fails the first test until it has a
row (or a reason in NOT_OBJECTS). Cost: one world (under a second) and about 5,700
in-process requests: about 10 s in all on the 2-core development machine.
"""

from __future__ import annotations

import pytest
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from tests.conftest import api_client_without_cookies, make_config
from tests.reliability.matrix import (
    CELLS, NOT_OBJECTS, ROWS, SAME_FOR_ALL, check_cell, comparable, leaks, route_labels, visible,
)
from tests.reliability.world import PRIVACIES, SHARED_TAG, VIEWERS, World, build_world, missing_id


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module-scoped, so that the world below can be too


@pytest.fixture(scope="module")
async def world(tmp_path_factory) -> World:
    config = make_config(tmp_path_factory.mktemp("authorization") / "data")
    async with AsyncTestClient(create_app(config)) as client:
        api_client_without_cookies(client)
        yield await build_world(client)


def test_every_route_with_a_path_parameter_is_in_the_matrix(tmp_path):
    routes = route_labels(create_app(make_config(tmp_path / "data")))
    in_table = {row.label for row in ROWS}
    assert routes - in_table - set(NOT_OBJECTS) == set(), "routes that name an object but have no row in matrix.ROWS"
    assert in_table - routes == set(), "rows for routes the app does not have"
    assert len(in_table) == len(ROWS), "a route has two rows"


def test_the_table_never_tells_a_hidden_object_apart():
    """For a viewer who may not see the object, the table may only say hid, same, 401 or
    (admin routes, refused before any lookup) 403: anything else would be a leak by design."""
    for row in ROWS:
        for outcomes in {row.public, row.private} - {SAME_FOR_ALL}:
            assert len(outcomes.split()) == len(VIEWERS), row.label
            assert all(o in ("hid", "same") or o.isdigit() for o in outcomes.split()), row.label
    for row, privacy, role in CELLS:
        outcome = row.expected(privacy, role)
        if not visible(row.kind, privacy, role, row.blocked_knows) and outcome[0] != "2":
            assert outcome in ("hid", "same", "401", "403"), (row.label, privacy, role, outcome)


@pytest.mark.parametrize(
    ("row", "privacy", "role"), CELLS, ids=[f"{row.label} | {privacy} | {role}" for row, privacy, role in CELLS]
)
async def test_cell(world, row, privacy, role):
    await check_cell(world, row, privacy, role)


def list_paths(world: World, privacy: str) -> list[str]:
    """Every page that could show an owner's object without naming it in its path (those that
    name it, such as a post's comments, are rows of the matrix)."""
    owned = world.owned[privacy]
    name = owned.owner.username
    return [
        f"/api/v1/users/{name}/posts", f"/api/v1/users/{name}/followers", f"/api/v1/users/{name}/following",
        "/api/v1/users/follower/followers", "/api/v1/users/follower/following", "/api/v1/users/requester/following",
        f"/api/v1/tags/{SHARED_TAG}/posts", f"/api/v1/tags/{SHARED_TAG}/posts?order=top", f"/api/v1/tags/{owned.tag}/posts",
        f"/api/v1/search?q={name}", f"/api/v1/search?q={owned.tag[:6]}", f"/api/v1/search?q={owned.tag}",
        f"/api/v1/search?q={SHARED_TAG}", "/api/v1/explore", "/api/v1/feed", "/api/v1/feed?order=chronological",
        "/api/v1/reels", "/api/v1/stories", "/api/v1/me/saved", "/api/v1/notifications", "/api/v1/threads",
        "/api/v1/threads?folder=requests", "/api/v1/follow-requests",
    ]


async def read_lists(world: World, privacy: str, role: str) -> dict[str, str]:
    user = world.viewer(privacy, role)
    answers = {}
    for path in list_paths(world, privacy):
        response = await world.client.get(path, headers=user.headers if user else None)
        assert response.status_code < 500, (path, response.text)
        answers[path] = response.text
    return answers


@pytest.mark.parametrize("privacy", PRIVACIES)
@pytest.mark.parametrize("role", ["stranger", "blocked", "anonymous"])
async def test_lists_show_nothing_hidden(world, privacy, role):
    secrets = world.secrets_for(privacy, role)
    if role == "blocked":  # a block hides each from the other: not even the name
        owner = world.owned[privacy].owner
        secrets = [*secrets, f'"{owner.username}"', owner.id]
    found = {path: [s for s in secrets if s in text] for path, text in (await read_lists(world, privacy, role)).items()}
    assert {path: hits for path, hits in found.items() if hits} == {}


async def test_the_follower_finds_in_the_lists_what_the_others_must_not(world):
    owned = world.owned["private"]
    everything = "".join((await read_lists(world, "private", "follower")).values())
    for secret in (owned.post["id"], owned.post["caption"], owned.story["id"], owned.thread["id"], owned.reel["id"]):
        assert secret in everything, secret
    # Explore does reach the owners' reels (by their tag, which the stranger used too): the
    # public one is there for the stranger, so the private one's absence above means something.
    explore = (await world.client.get("/api/v1/explore", headers=world.users["stranger"].headers)).text
    assert world.owned["public"].reel["id"] in explore


# Routes that name an object in their body: (kind of object, its id, path and body given the
# id and the caller's own thread and post). A caller who may not see the object must get the
# answer they get for a missing id.
BODY_IDS = {
    "report a post": ("post", lambda i, mine: ("/api/v1/reports", {"kind": "post", "target_id": i})),
    "report a comment": ("comment", lambda i, mine: ("/api/v1/reports", {"kind": "comment", "target_id": i})),
    "report a message": ("message", lambda i, mine: ("/api/v1/reports", {"kind": "message", "target_id": i})),
    "report an account": ("user", lambda i, mine: ("/api/v1/reports", {"kind": "account", "target_id": i})),
    "share a post in a DM": ("post", lambda i, mine: (f"/api/v1/threads/{mine['thread']}/messages", {"post_id": i})),
    "reply to a comment": ("comment", lambda i, mine: (f"/api/v1/posts/{mine['post']}/comments", {"text": "hi", "reply_to": i})),
    "post another's photo": ("media", lambda i, mine: ("/api/v1/posts", {"media_ids": [i]})),
    "a story of another's photo": ("media", lambda i, mine: ("/api/v1/stories", {"media_id": i})),
    "a DM with another's photo": ("media", lambda i, mine: (f"/api/v1/threads/{mine['thread']}/messages", {"media_id": i})),
}


def body_id(world: World, kind: str, privacy: str) -> str:
    owned = world.owned[privacy]
    return {"post": owned.post["id"], "comment": owned.comment["id"], "message": owned.message["id"],
            "user": owned.owner.id, "media": owned.media["id"]}[kind]


async def own_things(world: World, role: str) -> dict:
    """A thread and a post of the caller's own, to name the object from."""
    user, client = world.users[role], world.client
    thread = (await client.post("/api/v1/threads", headers=user.headers, json={"usernames": ["requester"]})).json()
    posts = (await client.get(f"/api/v1/users/{role}/posts", headers=user.headers)).json()["items"]
    return {"thread": thread["id"], "post": posts[0]["id"] if posts else None}  # the follower has none


@pytest.mark.parametrize("privacy", PRIVACIES)
@pytest.mark.parametrize("role", ["follower", "stranger", "blocked"])
@pytest.mark.parametrize("what", list(BODY_IDS))
async def test_an_id_in_the_body_is_hidden_like_one_in_the_path(world, what, role, privacy):
    kind, build = BODY_IDS[what]
    if visible(kind, privacy, role):
        return  # they may know it exists: nothing to hide (the matrix covers what they may do)
    mine = await own_things(world, role)
    real = body_id(world, kind, privacy)
    answers = []
    for value in (real, missing_id(real)):
        path, body = build(value, mine)
        answers.append(await world.client.post(path, headers=world.users[role].headers, json=body))
    assert answers[0].status_code >= 400, (what, answers[0].text)
    assert comparable(answers[0], real) == comparable(answers[1], missing_id(real)), (what, answers[0].text, answers[1].text)
    assert not leaks(answers[0], real, world.secrets_for(privacy, role)), answers[0].text
