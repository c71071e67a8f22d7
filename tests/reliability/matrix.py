"""The authorization matrix: every route that names an object in its path, and what each viewer gets.

One row per (method, route). Its two strings give the outcome for the five viewers of
world.py, in the order owner, follower, stranger, blocked, anonymous: first when the
object is the public owner's, then the private owner's. The outcomes:

    200 201 204    allowed, with that status
    hid            404, byte-identical (status, body, headers) to the answer for a missing
                   object of the same kind: whoever asks cannot tell the two apart
    same           identical to the answer for a missing object, whatever it is (a tag page
                   of nothing visible is an empty 200 page, as for a tag nobody used)
    401            not logged in
    400 403 409    refused for a reason the viewer may know, because they can see the object

`check_cell` runs one cell and checks, besides the status: a refused write changes
nothing in the owner's view (read back as the owner); every refusal to a viewer who may
not see the object is identical to the answer for a missing one; and no answer carries
a string that world.secrets_for says this viewer must not receive. Allowed writes are
undone afterwards (or made on a spare object) so that cells do not depend on each other.
Cost: one to three requests per cell, plus about fifteen reads of the owner's view
around each refused write; the whole matrix (360 cells) takes a few seconds.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from tests.accounts.helpers import in_app, state_of
from tests.posts.helpers import make_post
from tests.reliability.world import PRIVACIES, VIEWERS, World, missing_id, missing_name, sees_content

SAME_FOR_ALL = "{all}"  # shorthand: the private string equals the public one


@dataclass(frozen=True)
class Row:
    method: str
    path: str  # as app.routes has it, without the ":str" converters
    kind: str  # what the path parameter names; see `target` and `visible`
    public: str
    private: str = SAME_FOR_ALL
    body: Callable[[object], dict] | None = None  # owned -> JSON body
    undo: str | None = None  # how an allowed write is taken back: see `undo_write`
    spare: str | None = None  # allowed cells act on a fresh object of this kind instead
    blocked_knows: bool = False  # the blocked one may act on the blocker by name (block back)

    def expected(self, privacy: str, role: str) -> str:
        text = self.public if privacy == "public" or self.private == SAME_FOR_ALL else self.private
        return text.split()[VIEWERS.index(role)]

    @property
    def label(self) -> str:
        return f"{self.method} {self.path}"


ROWS = [
    # method       path                                           kind         public: O F S B A      private: O F S B A
    Row("GET",    "/api/v1/users/{username}",                    "user",      "200 200 200 hid 200"),
    Row("GET",    "/api/v1/users/{username}/posts",              "user",      "200 200 200 hid 200", "200 200 403 hid 403"),
    Row("GET",    "/api/v1/users/{username}/followers",          "user",      "200 200 200 hid 200", "200 200 403 hid 403"),
    Row("GET",    "/api/v1/users/{username}/following",          "user",      "200 200 200 hid 200", "200 200 403 hid 403"),
    Row("POST",   "/api/v1/users/{username}/follow",             "user",      "400 409 200 hid 401", undo="graph"),
    Row("DELETE", "/api/v1/users/{username}/follow",             "user",      "400 200 409 hid 401", undo="graph"),
    # The blocked one may block back (tests/graph/test_block.py): a mutual block outlives one unblock.
    Row("POST",   "/api/v1/users/{username}/block",              "user",      "400 200 200 200 401", undo="graph", blocked_knows=True),
    Row("DELETE", "/api/v1/users/{username}/block",              "user",      "400 409 409 409 401", blocked_knows=True),
    Row("POST",   "/api/v1/follow-requests/{username}/approve",  "request",   "hid hid hid hid 401", "200 hid hid hid 401", undo="graph"),
    Row("POST",   "/api/v1/follow-requests/{username}/reject",   "request",   "hid hid hid hid 401", "200 hid hid hid 401", undo="graph"),
    Row("GET",    "/api/v1/media/{media_id}",                    "media",     "200 hid hid hid 401"),
    # Content-addressed bytes: the sha256 in the name is the capability (never shown to those who may not see).
    Row("GET",    "/media/{name}",                               "file",      "200 200 200 200 200"),
    Row("GET",    "/api/v1/posts/{post_id}",                     "post",      "200 200 200 hid 200", "200 200 hid hid hid"),
    Row("PATCH",  "/api/v1/posts/{post_id}",                     "post",      "200 403 403 hid 401", "200 403 hid hid 401",
        body=lambda owned: {"caption": "CHANGED by someone"}, undo="caption"),
    Row("DELETE", "/api/v1/posts/{post_id}",                     "post",      "204 403 403 hid 401", "204 403 hid hid 401", spare="post"),
    Row("POST",   "/api/v1/posts/{post_id}/like",                "post",      "200 200 200 hid 401", "200 200 hid hid 401", undo="liked"),
    Row("DELETE", "/api/v1/posts/{post_id}/like",                "post",      "200 200 200 hid 401", "200 200 hid hid 401", undo="liked"),
    Row("POST",   "/api/v1/posts/{post_id}/save",                "post",      "200 200 200 hid 401", "200 200 hid hid 401", undo="saved"),
    Row("DELETE", "/api/v1/posts/{post_id}/save",                "post",      "200 200 200 hid 401", "200 200 hid hid 401", undo="saved"),
    Row("GET",    "/api/v1/posts/{post_id}/comments",            "post",      "200 200 200 hid 200", "200 200 hid hid hid"),
    Row("POST",   "/api/v1/posts/{post_id}/comments",            "post",      "201 201 201 hid 401", "201 201 hid hid 401",
        body=lambda owned: {"text": "matrix comment"}, undo="comment"),
    Row("DELETE", "/api/v1/comments/{comment_id}",               "comment",   "204 403 403 hid 401", "204 403 hid hid 401", spare="comment"),
    Row("GET",    "/api/v1/comments/{comment_id}/replies",       "comment",   "200 200 200 hid 200", "200 200 hid hid hid"),
    Row("GET",    "/api/v1/feed/explain/{post_id}",              "post",      "200 200 200 hid 401", "200 200 hid hid 401"),
    Row("POST",   "/api/v1/stories/{story_id}/seen",             "story",     "200 200 200 hid 401", "200 200 hid hid 401"),
    Row("GET",    "/api/v1/stories/{story_id}/viewers",          "story",     "200 hid hid hid 401"),
    Row("GET",    "/api/v1/threads/{thread_id}",                 "thread",    "200 200 hid hid 401"),
    Row("GET",    "/api/v1/threads/{thread_id}/messages",        "thread",    "200 200 hid hid 401"),
    Row("POST",   "/api/v1/threads/{thread_id}/messages",        "thread",    "201 201 hid hid 401",
        body=lambda owned: {"text": "matrix message"}),
    Row("POST",   "/api/v1/threads/{thread_id}/read",            "thread",    "200 200 hid hid 401",
        body=lambda owned: {"message_id": owned.message["id"]}),
    Row("POST",   "/api/v1/threads/{thread_id}/accept",          "thread",    "200 200 hid hid 401"),
    Row("GET",    "/api/v1/tags/{tag}/posts",                    "tag",       "200 200 200 same 200", "200 200 same same same"),
    # Admin routes: none of the five is an admin; the guard answers before any lookup.
    Row("POST",   "/api/v1/admin/reports/{report_id}/resolve",   "report",    "403 403 403 403 401",
        body=lambda owned: {"action": "dismiss"}),
    Row("POST",   "/api/v1/admin/users/{username}/suspend",      "user",      "403 403 403 403 401"),
    Row("POST",   "/api/v1/admin/users/{username}/unsuspend",    "user",      "403 403 403 403 401"),
    Row("DELETE", "/api/v1/admin/blocklist/{entry_id}",          "blocklist", "403 403 403 403 401"),
]

# Routes with a path parameter that names nobody's object, and why they are not in ROWS.
NOT_OBJECTS = {
    "GET /static/{file_path}": "the web app's own files, the same for everyone",
    "GET /schema/{path}": "Litestar's OpenAPI renderers",
}


def route_labels(app) -> set[str]:
    """'METHOD /path' for every HTTP route of the app with a path parameter."""
    labels = set()
    for route in app.routes:
        if not getattr(route, "path_parameters", None) or not hasattr(route, "route_handler_map"):
            continue
        path = re.sub(r"\{(\w+):\w+\}", r"{\1}", route.path)
        labels |= {f"{method} {path}" for method in route.methods - {"OPTIONS", "HEAD"}}
    return labels


# -- one cell ---------------------------------------------------------------------------


def visible(kind: str, privacy: str, role: str, blocked_knows: bool = False) -> bool:
    """Whether the viewer may know that the object exists."""
    if kind == "user":
        return role != "blocked" or blocked_knows
    if kind in ("post", "comment", "story"):
        return sees_content(privacy, role)
    if kind in ("thread", "message"):
        return role in ("owner", "follower")
    if kind == "request":
        return role == "owner" and privacy == "private"
    if kind == "media":
        return role == "owner"
    return kind in ("file", "tag")  # report, blocklist: admins only


def target(world: World, kind: str, privacy: str) -> str:
    """The value of the path parameter naming the owner's object of this kind."""
    owned = world.owned[privacy]
    values = {
        "user": owned.owner.username, "request": world.users["requester"].username, "post": owned.post["id"],
        "comment": owned.comment["id"], "story": owned.story["id"], "thread": owned.thread["id"],
        "media": owned.media["id"], "file": owned.media["variants"][0]["url"].rsplit("/", 1)[1], "tag": owned.tag,
        "report": owned.report_id, "blocklist": world.blocklist_entry_id,
    }
    return values[kind]


def missing(kind: str, real: str) -> str:
    return missing_name(real) if kind in ("user", "request", "tag") else missing_id(real)


async def request(world: World, row: Row, value: str, privacy: str, role: str):
    user = world.viewer(privacy, role)
    path = re.sub(r"\{\w+\}", value, row.path)
    body = row.body(world.owned[privacy]) if row.body else None
    return await world.client.request(row.method, path, headers=user.headers if user else None, json=body)


async def owner_view(world: World, privacy: str, role: str) -> list:
    """What the owner (and the admin, for reports) sees of everything a write could touch,
    plus the viewer's own saved posts."""
    owned, client = world.owned[privacy], world.client
    post, name = f"/api/v1/posts/{owned.post['id']}", owned.owner.username
    as_owner = [
        post, f"{post}/comments?limit=100", f"/api/v1/comments/{owned.comment['id']}/replies", f"/api/v1/users/{name}",
        f"/api/v1/users/{name}/posts", f"/api/v1/users/{name}/followers", f"/api/v1/users/{name}/following",
        "/api/v1/follow-requests", f"/api/v1/stories/{owned.story['id']}/viewers", "/api/v1/stories",
        f"/api/v1/threads/{owned.thread['id']}/messages", f"/api/v1/threads/{owned.thread['id']}",
    ]
    views = [(path, (await client.get(path, headers=owned.owner.headers)).json()) for path in as_owner]
    for path in ("/api/v1/admin/reports", "/api/v1/admin/blocklist"):
        views.append((path, (await client.get(path, headers=world.users["moderator"].headers)).json()))
    viewer = world.viewer(privacy, role)
    if viewer is not None:
        views.append(("saved", (await client.get("/api/v1/me/saved", headers=viewer.headers)).json()))
    return views


# Headers that count the caller's requests (rate limits) or tell the time: they differ between
# any two answers, whatever was asked for.
PER_CALLER_HEADERS = {"date", "ratelimit-remaining", "ratelimit-reset"}


def comparable(response, value: str) -> tuple:
    """Status, headers and body with the requested name or id replaced by a placeholder."""
    headers = sorted((k, v) for k, v in response.headers.items() if k not in PER_CALLER_HEADERS)
    return response.status_code, headers, response.text.replace(value, "{target}")


def leaks(response, value: str, secrets: list[str]) -> list[str]:
    if not response.headers.get("content-type", "").startswith("application/json"):
        return []  # media bytes (the "file" row): nothing in them is text we hand out
    text = response.text.replace(value, "{target}")  # a refusal may name what was asked for
    return [secret for secret in secrets if secret and secret in text]


async def check_cell(world: World, row: Row, privacy: str, role: str) -> None:
    expected = row.expected(privacy, role)
    allowed = expected[0] == "2"
    value = target(world, row.kind, privacy)
    if allowed and row.spare:
        value = await make_spare(world, row.spare, privacy)
    before = await owner_view(world, privacy, role) if row.method != "GET" and not allowed else None
    undo_state = await undo_before(world, row, privacy, role, value) if allowed else None

    response = await request(world, row, value, privacy, role)
    status = 404 if expected == "hid" else None if expected == "same" else int(expected)
    if status is not None:
        assert response.status_code == status, (row.label, privacy, role, response.text)
    assert not leaks(response, value, world.secrets_for(privacy, role)), (row.label, privacy, role, response.text)
    if before is not None:
        assert await owner_view(world, privacy, role) == before, f"{row.label} by {role} changed the {privacy} owner's view"
    if expected in ("hid", "same") or (not allowed and not visible(row.kind, privacy, role, row.blocked_knows)):
        answer_for_missing = await request(world, row, missing(row.kind, value), privacy, role)
        assert comparable(response, value) == comparable(answer_for_missing, missing(row.kind, value)), (
            f"{row.label} as {role}: the {privacy} owner's {row.kind} is told apart from a missing one"
        )
    if allowed:
        await undo_write(world, row, privacy, role, value, response, undo_state)


# -- spares and undoing -----------------------------------------------------------------


async def make_spare(world: World, kind: str, privacy: str) -> str:
    owned, client = world.owned[privacy], world.client
    if kind == "post":
        return (await make_post(client, owned.owner, "spare"))["id"]
    url = f"/api/v1/posts/{owned.post['id']}/comments"
    return (await client.post(url, headers=owned.owner.headers, json={"text": "spare"})).json()["id"]


def pair(world: World, row: Row, privacy: str, role: str):
    """(actor, other) of a graph change: the viewer and the user in the path, or, for the
    answer to a request, the requester (in the path) and the viewer."""
    viewer, named = world.viewer(privacy, role), world.owned[privacy].owner
    if row.kind == "request":
        return world.users["requester"], viewer
    return viewer, named


def relationship(world: World, actor, other):
    return in_app(world.client, state_of(world.client).graph.relationship, int(actor.id), int(other.id))


async def undo_before(world: World, row: Row, privacy: str, role: str, value: str):
    """What undoing an allowed write needs to know from before it."""
    if row.undo == "graph":
        return relationship(world, *pair(world, row, privacy, role))
    if row.undo in ("liked", "saved"):  # the viewer's flag on the post, which they can see
        viewer = world.viewer(privacy, role)
        return (await world.client.get(f"/api/v1/posts/{value}", headers=viewer.headers)).json()[row.undo]
    return None


async def undo_write(world: World, row: Row, privacy: str, role: str, value: str, response, state) -> None:
    client, owned, viewer = world.client, world.owned[privacy], world.viewer(privacy, role)
    if row.undo == "caption":
        await client.patch(f"/api/v1/posts/{value}", headers=viewer.headers, json={"caption": owned.post["caption"]})
    elif row.undo == "comment":
        await client.delete(f"/api/v1/comments/{response.json()['id']}", headers=viewer.headers)
    elif row.undo in ("liked", "saved"):
        switch = "like" if row.undo == "liked" else "save"
        await client.request("POST" if state else "DELETE", f"/api/v1/posts/{value}/{switch}", headers=viewer.headers)
    elif row.undo == "graph":
        await restore_pair(world, *pair(world, row, privacy, role), state)


async def restore_pair(world: World, actor, other, before) -> None:
    """Undo a follow, unfollow, block or answer between actor and other."""
    client = world.client
    users = f"/api/v1/users/{other.username}"
    now = relationship(world, actor, other)
    if now.blocking != before.blocking:
        await client.request("DELETE" if now.blocking else "POST", f"{users}/block", headers=actor.headers)
        now = relationship(world, actor, other)
    if (now.following, now.requested) != (before.following, before.requested):
        if now.following or now.requested:
            await client.delete(f"{users}/follow", headers=actor.headers)
        if before.following or before.requested:
            await client.post(f"{users}/follow", headers=actor.headers)
            if before.following and relationship(world, actor, other).requested:
                await client.post(f"/api/v1/follow-requests/{actor.username}/approve", headers=other.headers)
    assert relationship(world, actor, other) == before, (actor.username, other.username)


CELLS = [(row, privacy, role) for row in ROWS for privacy in PRIVACIES for role in VIEWERS]
