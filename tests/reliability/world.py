"""The world the authorization matrix runs in: two owners, what they own, and who looks.

Two owners, one public (`pubown`) and one private (`privown`), each with a photo post
and a story (real uploads through the media pipeline), two comments, a reel (its video
made without the pipeline: tests/posts/helpers.py), a DM thread, a follow request (the
private one) and a report against their post. Then the viewers,
each with a history that could leave a trace:

- owner      the owner themself;
- follower   follows both (approved by the private one), saved their posts, is in
             their DM threads;
- stranger   followed both, liked, saved and commented on their posts, saw their
             stories, then unfollowed: whatever it cached then must not show now;
- blocked    did all the stranger did, then both owners blocked them;
- anonymous  no token.

After the unfollow and the block, each owner comments again, mentioning @stranger and
@blocked, and replies to the stranger's comment: notifications that must not reach
someone who may no longer see the post. `secrets_for` says which strings of an owner's
a viewer must never receive. Cost: about 100 requests and six photo uploads, under a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from instamini.ids import SEQUENCE_BITS, SHARD_BITS
from tests.accounts.helpers import in_app, state_of
from tests.conftest import User, register
from tests.feed.helpers import fan_out
from tests.media.helpers import jpeg_bytes, upload_ready
from tests.posts.helpers import make_post

VIEWERS = ("owner", "follower", "stranger", "blocked", "anonymous")
PRIVACIES = ("public", "private")
SHARED_TAG = "matrixtag"
HOUR_MS = 3_600_000


def missing_id(real: str) -> str:
    """An id of the same shard and length as `real` that names nothing: made an hour
    before the data directory existed."""
    forged = str(int(real) - (HOUR_MS << (SHARD_BITS + SEQUENCE_BITS)))
    assert len(forged) == len(real)
    return forged


def missing_name(real: str) -> str:
    """A name as long as `real` that nobody has (so the two answers have equal lengths)."""
    return "zz" + real[2:]


@dataclass
class Owned:
    """One owner's things, as the API gave them out."""

    owner: User
    post: dict
    comment: dict  # top-level, by the owner, after the unfollow and the block
    reply: dict  # the owner's answer to the stranger's comment
    story: dict
    thread: dict
    message: dict
    tag: str  # on this owner's post only
    report_id: str
    reel: dict  # made after the unfollow, with the shared tag: what Explore finds for the stranger

    @property
    def media(self) -> dict:
        return self.post["media"][0]

    def urls(self) -> list[str]:
        return [v["url"] for item in (self.media, self.story["media"]) for v in item["variants"]]

    def content_secrets(self) -> list[str]:
        """What only those who may see the owner's content may receive."""
        texts = [self.post["caption"].split(" #")[0], self.comment["text"].split(" @")[0], self.reply["text"]]
        texts.append(self.reel["caption"].split(" #")[0])
        ids = [self.post["id"], self.media["id"], self.comment["id"], self.reply["id"], self.story["id"], self.reel["id"]]
        return texts + ids + self.urls()

    def dm_secrets(self) -> list[str]:
        return [self.thread["id"], self.message["text"]]


@dataclass
class World:
    client: object
    users: dict[str, User]
    owned: dict[str, Owned] = field(default_factory=dict)
    blocklist_entry_id: str = ""

    def viewer(self, privacy: str, role: str) -> User | None:
        if role == "anonymous":
            return None
        return self.owned[privacy].owner if role == "owner" else self.users[role]

    def secrets_for(self, privacy: str, role: str) -> list[str]:
        """The owner's strings that this viewer must not receive."""
        owned = self.owned[privacy]
        secrets = [] if role == "owner" else [owned.owner.token]
        if not sees_content(privacy, role):
            secrets += owned.content_secrets()
            if privacy == "private":  # a public tag is public: anyone could have used it
                secrets.append(owned.tag)
        if role not in ("owner", "follower"):
            secrets += owned.dm_secrets()
        return secrets


def sees_content(privacy: str, role: str) -> bool:
    """Whether the viewer may see the owner's posts, comments and stories."""
    if role in ("owner", "follower"):
        return True
    return privacy == "public" and role in ("stranger", "anonymous")


async def call(client, method: str, path: str, user: User | None, json=None, expect: int = 200) -> dict:
    headers = user.headers if user else None
    response = await client.request(method, path, headers=headers, json=json)
    assert response.status_code == expect, (method, path, response.text)
    return response.json() if response.content else {}


async def photo_post(client, owner: User, caption: str, color: tuple[int, int, int]) -> dict:
    media = await upload_ready(client, owner, jpeg_bytes(color=color))
    return await call(client, "POST", "/api/v1/posts", owner, {"caption": caption, "media_ids": [media["id"]]}, 201)


async def build_world(client) -> World:
    names = ("pubown", "privown", "follower", "stranger", "blocked", "requester", "moderator")
    users = {name: await register(client, name) for name in names}
    world = World(client, users)
    owners = {"public": users["pubown"], "private": users["privown"]}
    await call(client, "PATCH", "/api/v1/me", owners["private"], {"private": True})
    for role in ("follower", "stranger", "blocked"):
        for owner in owners.values():
            await call(client, "POST", f"/api/v1/users/{owner.username}/follow", users[role])
        await call(client, "POST", f"/api/v1/follow-requests/{role}/approve", owners["private"])

    posts, stories, traces = {}, {}, {}
    for n, (privacy, owner) in enumerate(owners.items()):
        caption = f"CAPTION-{privacy}-secret #{SHARED_TAG} #only{privacy}tag @follower"
        posts[privacy] = await photo_post(client, owner, caption, (200, 40 * n, 30))
        story_media = await upload_ready(client, owner, jpeg_bytes(color=(30, 40 * n, 200)))
        stories[privacy] = await call(client, "POST", "/api/v1/stories", owner, {"media_id": story_media["id"]}, 201)
    fan_out(client)  # into the timelines of all three followers, stranger and blocked included
    for privacy, post in posts.items():
        await call(client, "POST", f"/api/v1/posts/{post['id']}/save", users["follower"])
        for role in ("stranger", "blocked"):
            traces[privacy, role] = await leave_traces(client, users[role], post, stories[privacy])

    for owner in owners.values():
        await call(client, "DELETE", f"/api/v1/users/{owner.username}/follow", users["stranger"])
        await call(client, "POST", "/api/v1/users/blocked/block", owner)
    await call(client, "POST", "/api/v1/users/privown/follow", users["requester"])
    for privacy, owner in owners.items():
        world.owned[privacy] = await carry_on(client, users, privacy, posts[privacy], stories[privacy], traces)

    # What the explore and tag pages of the stranger and the blocked one could pull the owners' posts in by.
    for role in ("stranger", "blocked"):
        await photo_post(client, users[role], f"mine #{SHARED_TAG}", (90, 90, 90))
    fan_out(client)
    world.blocklist_entry_id = await blocklist_entry(client, users["moderator"])
    in_app(client, state_of(client).notifications.settle)
    return world


async def leave_traces(client, user: User, post: dict, story: dict) -> dict:
    """Like, save, comment and see the story, as a follower; returns the comment."""
    url = f"/api/v1/posts/{post['id']}"
    await call(client, "POST", f"{url}/like", user)
    await call(client, "POST", f"{url}/save", user)
    await call(client, "POST", f"/api/v1/stories/{story['id']}/seen", user)
    return await call(client, "POST", f"{url}/comments", user, {"text": f"{user.username} was here"}, 201)


async def carry_on(client, users: dict[str, User], privacy: str, post: dict, story: dict, traces: dict) -> Owned:
    """After the unfollow and the block: the owner comments, answers, writes to the follower,
    posts a reel; the follower reports the post."""
    owner, follower = (users["pubown"] if privacy == "public" else users["privown"]), users["follower"]
    url = f"/api/v1/posts/{post['id']}/comments"
    comment = await call(client, "POST", url, owner, {"text": f"COMMENT-{privacy}-secret @stranger @blocked"}, 201)
    answer = {"text": f"REPLY-{privacy}-secret", "reply_to": traces[privacy, "stranger"]["id"]}
    reply = await call(client, "POST", url, owner, answer, 201)
    await call(client, "POST", url, follower, {"text": "follower reply", "reply_to": comment["id"]}, 201)
    thread = await call(client, "POST", "/api/v1/threads", owner, {"usernames": ["follower"]}, 201)
    messages = f"/api/v1/threads/{thread['id']}/messages"
    message = await call(client, "POST", messages, owner, {"text": f"DM-{privacy}-secret"}, 201)
    await call(client, "POST", messages, follower, {"text": "got it"}, 201)
    report = await call(client, "POST", "/api/v1/reports", follower, {"kind": "post", "target_id": post["id"]}, 201)
    reel = await make_post(client, owner, f"REEL-{privacy}-secret #{SHARED_TAG}", kind="reel", media="video")
    return Owned(owner, post, comment, reply, story, thread, message, f"only{privacy}tag", report["id"], reel)


async def blocklist_entry(client, moderator: User) -> str:
    """An entry of the media blocklist, added by an admin (after every real upload above)."""
    in_app(client, state_of(client).moderation.make_admin, int(moderator.id))
    media = await upload_ready(client, moderator, jpeg_bytes(color=(10, 200, 10)))
    added = await call(client, "POST", "/api/v1/admin/blocklist", moderator, {"media_id": media["id"], "note": "matrix"}, 201)
    return added["items"][0]["id"]
