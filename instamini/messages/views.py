"""Turning the service's views of threads and messages into what the API and the hub send.

`message_out` is the one shape of a message, for HTTP answers and `message` frames alike.
"""

from __future__ import annotations

import msgspec

from ..graph.routes import user_summary
from ..ids import created_at_iso
from ..media.schemas import media_out
from ..posts.views import optional_id
from ..realtime import frames
from .reading import MessagePage, MessageView, PostPreview, ThreadPage, ThreadView
from .schemas import MessageList, MessageOut, PostPreviewOut, ReadReceipt, ThreadList, ThreadOut


def _preview_out(preview: PostPreview | None) -> PostPreviewOut | None:
    if preview is None:
        return None
    media = None if preview.media is None else media_out(preview.media)
    return PostPreviewOut(str(preview.id), user_summary(preview.author), preview.kind, preview.caption, media)


def message_out(view: MessageView) -> MessageOut:
    record = view.record
    return MessageOut(
        id=str(record.id),
        thread_id=str(record.thread_id),
        sender=user_summary(view.sender),
        text=record.text,
        media=None if record.media is None else media_out(record.media),
        post_id=optional_id(record.post_id),
        post=_preview_out(view.post),
        created_at=created_at_iso(record.id),
    )


def message_frame(thread_id: int, view: MessageView) -> bytes:
    """The `message` frame the hub pushes: encoded once for all its sockets."""
    return frames.encode("message", thread_id=str(thread_id), message=msgspec.to_builtins(message_out(view)))


def message_list(page: MessagePage) -> MessageList:
    return MessageList(items=[message_out(view) for view in page.messages], next_cursor=page.next_cursor)


def thread_out(view: ThreadView) -> ThreadOut:
    card, last = view.card, view.last_message
    return ThreadOut(
        id=str(card.id),
        kind=card.kind,
        participants=[user_summary(user) for user in view.people],
        reads=[ReadReceipt(str(member), optional_id(read or None)) for member, read in view.read_up_to.items()],
        folder=view.folder,
        unread_count=view.unread,
        last_message=None if last is None else message_out(last),
        created_at=created_at_iso(card.id),
        last_activity_at=created_at_iso(card.id if last is None else last.record.id),
    )


def thread_list(page: ThreadPage) -> ThreadList:
    return ThreadList(items=[thread_out(view) for view in page.threads], next_cursor=page.next_cursor)
