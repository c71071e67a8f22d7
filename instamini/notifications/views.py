"""Turning stored notifications into what the API sends (and the websocket pushes)."""

from __future__ import annotations

from collections.abc import Mapping

from ..accounts.service import UserRecord
from ..graph.routes import user_summary
from ..ids import iso_from_ms
from ..posts.views import optional_id
from .schemas import NotificationOut
from .store import Row
from .text import summary


def notification_out(row: Row, users: Mapping[int, UserRecord]) -> NotificationOut:
    actors = [users[actor_id] for actor_id in row.actor_ids if actor_id in users]
    names = [actor.username for actor in actors]
    return NotificationOut(
        id=str(row.id),
        kind=row.kind,
        summary=summary(row.kind, names, row.actor_count, row.event_count, row.text_preview, row.comment_id is not None),
        actors=[user_summary(actor) for actor in actors],
        actor_count=row.actor_count,
        count=row.event_count,
        post_id=optional_id(row.post_id),
        comment_id=optional_id(row.comment_id),
        thread_id=optional_id(row.thread_id),
        text_preview=row.text_preview,
        read=row.read,
        created_at=iso_from_ms(row.created_ms),
        updated_at=iso_from_ms(row.updated_ms),
        cursor=str(row.seq),
    )
