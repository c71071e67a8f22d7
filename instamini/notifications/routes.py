"""HTTP handlers of the notifications module: the list, the badge, marking read."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from ..accounts.auth import Viewer, logged_in
from ..graph.routes import Cursor, Limit
from .schemas import NotificationList, ReadIn, UnreadOut
from .views import notification_out

LoggedIn = Request[Viewer, str, State]


class NotificationsController(Controller):
    path = "/api/v1/notifications"
    tags = ["notifications"]
    guards = [logged_in]

    @get("/", summary="Your notifications, most recently changed first, with the unread count")
    async def list(self, request: LoggedIn, state: State, cursor: Cursor = None, limit: Limit = 20) -> NotificationList:
        page = await state.notifications.page(request.user.id, cursor, limit)
        items = [notification_out(row, page.users) for row in page.rows]
        return NotificationList(items=items, next_cursor=page.next_cursor, unread=page.unread)

    @get("/unread", summary="How many notifications are unread (the badge)")
    async def unread(self, request: LoggedIn, state: State) -> UnreadOut:
        return UnreadOut(unread=await state.notifications.unread(request.user.id))

    @post("/read", status_code=200, summary="Mark read up to a cursor (an item's `cursor`): it and everything older")
    async def read(self, data: JSONBody[ReadIn], request: LoggedIn, state: State) -> UnreadOut:
        return UnreadOut(unread=await state.notifications.mark_read(request.user.id, data.cursor))
