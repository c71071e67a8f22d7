"""Who is told what about each event: events in, changes (store.py) out.

The rules, in one place:
- nobody is told of their own action, and nothing crosses a block (either way);
- what is about a post (a mention, a reply) reaches only people who may see the post;
- likes of a post, and follows, are grouped per recipient within the window;
  messages per thread while unread; each comment, mention or request stands alone
  (keyed, so the same event twice is one notification);
- reading a thread marks its message notification read (the next message starts a
  new one);
- taking something back (unlike, unfollow, withdrawn request) or deleting it (a
  post, a comment and its replies) deletes what was said about it; a block deletes
  what either said to the other.

A person gets one notification per comment, the most specific: a reply to them,
else a mention of them, else a comment on their post.

Cost: a few LMDB lookups per recipient (relationship, users, the post); a comment
reads its text (and the comment it answers) in one query on its post's shard.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from ..graph.service import GraphService
from ..ids import shard_of
from ..posts.comments import COMMENT_COLUMNS, CommentRecord
from ..posts.service import PostsService
from .store import Change, ForgetAbout, ForgetActor, ForgetKey, Notice, ReadThread
from .text import preview


# event -> the method of Rules that handles it; the module listens to exactly these.
HANDLERS = {
    "post.liked": "post_liked",
    "post.unliked": "post_unliked",
    "post.created": "post_mentions",
    "post.updated": "post_mentions",
    "post.deleted": "post_deleted",
    "comment.created": "comment_created",
    "comment.deleted": "comment_deleted",
    "graph.followed": "followed",
    "graph.unfollowed": "unfollowed",
    "graph.follow_requested": "follow_requested",
    "graph.request_approved": "request_approved",
    "graph.request_rejected": "request_rejected",
    "graph.blocked": "blocked",
    "message.sent": "message_sent",
    "message.read": "message_read",
}


class Rules:
    def __init__(self, graph: GraphService, posts: PostsService) -> None:
        self.graph, self.posts, self.meta = graph, posts, posts.meta

    async def changes(self, event: str, payload: dict[str, Any]) -> list[Change]:
        handler: Callable[..., Awaitable[list[Change]]] = getattr(self, HANDLERS[event])
        return await handler(**payload)

    # -- who may be told -----------------------------------------------------------------

    async def _may_tell(self, recipient_id: int, actor_id: int) -> bool:
        if recipient_id == actor_id:
            return False
        return not (await self.graph.relationship(recipient_id, actor_id)).hidden

    # -- posts and likes -----------------------------------------------------------------

    async def post_liked(self, post_id: int, author_id: int, user_id: int) -> list[Change]:
        if not await self._may_tell(author_id, user_id):
            return []
        return [Notice(author_id, "like", f"like:{post_id}", user_id, "group", post_id=post_id)]

    async def post_unliked(self, post_id: int, author_id: int, user_id: int) -> list[Change]:
        return [ForgetActor(author_id, user_id, kind="like", post_id=post_id)]

    async def post_mentions(
        self, post_id: int, author_id: int, mentioned_ids: list[int], fields: Sequence[str] = ("caption",), **_: Any
    ) -> list[Change]:
        """A new post, or an edited caption: who it mentions now. Keyed per post, so people
        already told about it (an edit that keeps them) are not told again."""
        if "caption" not in fields:
            return []
        record = (await self.posts.load_records([post_id])).get(post_id)
        if record is None:
            return []  # deleted since
        return [
            Notice(user_id, "mention", f"mention:{post_id}", author_id, "once", post_id=post_id, text_preview=preview(record.caption))
            for user_id in mentioned_ids
            if await self._may_tell(user_id, author_id) and await self.posts.sees(user_id, post_id)
        ]

    async def post_deleted(self, post_id: int, author_id: int) -> list[Change]:
        return [ForgetAbout(post_id)]

    # -- comments --------------------------------------------------------------------------

    async def comment_created(
        self, comment_id: int, post_id: int, post_author_id: int, author_id: int, reply_to: int | None, mentioned_ids: list[int]
    ) -> list[Change]:
        comments = await self._comments([comment_id] + ([reply_to] if reply_to is not None else []))
        comment = comments.get(comment_id)
        if comment is None:
            return []  # deleted since
        # The most specific reason first: a person hears once about a comment.
        reasons: dict[int, str] = {}
        if reply_to in comments:
            reasons[comments[reply_to].author_id] = "reply"
        for user_id in mentioned_ids:
            reasons.setdefault(user_id, "mention")
        reasons.setdefault(post_author_id, "comment")
        return [
            Notice(
                user_id, kind, f"comment:{comment_id}", author_id, "once", post_id=post_id, comment_id=comment_id,
                parent_comment_id=comment.parent_id, text_preview=preview(comment.text),
            )
            for user_id, kind in reasons.items()
            if await self._may_tell(user_id, author_id) and await self.posts.sees(user_id, post_id)
        ]

    async def _comments(self, comment_ids: list[int]) -> dict[int, CommentRecord]:
        # Read here: "comment.created" fires on the post's owner, whose shard holds its comments.
        marks = ",".join("?" * len(comment_ids))
        rows = await self.meta.read(
            shard_of(comment_ids[0]), f"SELECT {COMMENT_COLUMNS} FROM comments WHERE id IN ({marks})", comment_ids
        )
        return {row["id"]: CommentRecord(*row) for row in rows}

    async def comment_deleted(self, comment_id: int, post_id: int, **_: Any) -> list[Change]:
        return [ForgetAbout(post_id, comment_id)]

    # -- the graph -------------------------------------------------------------------------

    async def followed(self, follower_id: int, followee_id: int) -> list[Change]:
        if not await self._may_tell(followee_id, follower_id):
            return []
        return [Notice(followee_id, "follow", "follow", follower_id, "group")]

    async def unfollowed(self, follower_id: int, followee_id: int) -> list[Change]:
        return [ForgetActor(followee_id, follower_id, kind="follow"), ForgetKey(follower_id, f"accepted:{followee_id}")]

    async def follow_requested(self, follower_id: int, followee_id: int) -> list[Change]:
        if not await self._may_tell(followee_id, follower_id):
            return []
        return [Notice(followee_id, "follow_request", f"request:{follower_id}", follower_id, "once")]

    async def request_approved(self, follower_id: int, followee_id: int) -> list[Change]:
        # The request is answered: it leaves the approver's list; the requester hears of it.
        changes: list[Change] = [ForgetKey(followee_id, f"request:{follower_id}")]
        if await self._may_tell(follower_id, followee_id):
            changes.append(Notice(follower_id, "request_accepted", f"accepted:{followee_id}", followee_id, "once"))
        return changes

    async def request_rejected(self, follower_id: int, followee_id: int) -> list[Change]:
        return [ForgetKey(followee_id, f"request:{follower_id}")]

    async def blocked(self, blocker_id: int, blocked_id: int) -> list[Change]:
        return [ForgetActor(blocker_id, blocked_id), ForgetActor(blocked_id, blocker_id)]

    # -- messages --------------------------------------------------------------------------

    async def message_sent(
        self, message_id: int, thread_id: int, sender_id: int, recipient_ids: list[int], **_: Any
    ) -> list[Change]:
        return [
            Notice(user_id, "message", f"message:{thread_id}", sender_id, "while_unread", thread_id=thread_id, event_id=message_id)
            for user_id in recipient_ids
            if await self._may_tell(user_id, sender_id)
        ]

    async def message_read(self, thread_id: int, user_id: int, message_id: int) -> list[Change]:
        return [ReadThread(user_id, thread_id, message_id)]
