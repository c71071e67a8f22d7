"""The catalogue of events that modules fire after a commit.

The idea: modules do not call each other to say "this happened"; they emit an
event once the write is durable, and whoever cares listens (the feed, the
notifications, plugins through the `instamini_event` hook). Listeners run after
the response is on its way, on Litestar's in-process event emitter, so a slow
listener never slows the request. Work that must not be lost does not rely on an
event alone: it goes through a durable table (an outbox) in the same transaction.

Every event is named here, with the keys of its payload, so that a plugin author
can read one file to know what they can react to.
"""

from __future__ import annotations

EVENTS: dict[str, str] = {
    "account.registered": "user_id, username: a new account exists",
    "account.updated": "user_id, fields: the owner edited their profile (field names)",
    "session.created": "user_id: someone logged in or registered",
    "session.revoked": "user_id: a token was logged out",
    "graph.followed": "follower_id, followee_id: a follow edge now exists",
    "graph.unfollowed": "follower_id, followee_id: a follow edge was removed",
    "graph.follow_requested": "follower_id, followee_id: a private account got a request",
    "graph.request_approved": "follower_id, followee_id: a request became a follow",
    "graph.request_rejected": "follower_id, followee_id: a request was declined or withdrawn",
    "graph.blocked": "blocker_id, blocked_id: one user blocked another",
    "graph.unblocked": "blocker_id, blocked_id: a block was lifted",
    "media.ready": "media_id, owner_id, kind: an upload was processed and can be posted",
    "media.failed": "media_id, owner_id, reason: an upload could not be processed",
    "post.created": "post_id, author_id, kind, hashtags, mentioned_ids: a post or reel was published",
    "post.updated": "post_id, author_id, fields, hashtags, mentioned_ids: its author edited it (the field names; "
    "tags and mentions as they are now)",
    "post.deleted": "post_id, author_id: a post is gone, with its likes and comments",
    "post.liked": "post_id, author_id, user_id: user_id liked a post of author_id (only if not liked before)",
    "post.unliked": "post_id, author_id, user_id: a like was taken back",
    "post.saved": "post_id, author_id, user_id: user_id saved a post (only if not saved before)",
    "post.unsaved": "post_id, author_id, user_id: a save was taken back",
    "comment.created": "comment_id, post_id, post_author_id, author_id, reply_to, mentioned_ids: a comment "
    "(reply_to: the id of the comment it answers, or None)",
    "comment.deleted": "comment_id, post_id, post_author_id, author_id, removed: a comment was deleted "
    "(removed: how many went, its replies included)",
    "message.sent": "message_id, thread_id, sender_id, recipient_ids: a message is stored (recipient_ids: the "
    "participants it was delivered to, not the sender, nor anyone a block hides it from)",
    "message.read": "thread_id, user_id, message_id: user_id read the thread up to message_id (only when it moved)",
    "story.posted": "story_id, author_id: a story was shared (it expires after [stories] lifetime_hours)",
    "story.seen": "story_id, author_id, viewer_id: viewer_id saw a story for the first time",
}
