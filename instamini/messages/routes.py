"""HTTP handlers of the messages module: thin, they parse ids, call the service and shape the answer."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import State
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter

from ..accounts.auth import Viewer, logged_in
from ..errors import Forbidden, NotFound, RateLimited
from ..graph.routes import Cursor, Limit
from ..posts.routes import PathId, body_ids
from ..posts.views import id_in_path
from .schemas import MessageIn, MessageList, MessageOut, ReadIn, ReadState, ThreadIn, ThreadList, ThreadOut
from .views import message_list, message_out, thread_list, thread_out

LoggedIn = Request[Viewer, str, State]
Folder = Annotated[Literal["inbox", "requests"], Parameter(description="inbox (default) or requests")]

# Sends per client address per minute: a flood from one address gets 429 (a constant
# until [messages] has a setting for it).
SENDS_PER_ADDRESS_PER_MINUTE = 120
SEND_RATE_LIMIT_STORE = "messages_rate_limit"  # swept by the plugin (background.sweep_expired)
send_limit = RateLimitConfig(rate_limit=("minute", SENDS_PER_ADDRESS_PER_MINUTE), store=SEND_RATE_LIMIT_STORE)


def optional_body_id(text: str | None, field: str) -> int | None:
    return None if text is None else body_ids([text], field)[0]


class ThreadsController(Controller):
    path = "/api/v1/threads"
    tags = ["messages"]
    guards = [logged_in]

    @get("/", summary="Your threads in a folder, most recent activity first")
    async def threads(
        self, request: LoggedIn, state: State, folder: Folder = "inbox", cursor: Cursor = None, limit: Limit = 20
    ) -> ThreadList:
        return thread_list(await state.messages.threads(request.user.id, folder, cursor, limit))

    @post(
        "/",
        summary="Start a thread: one name for a direct thread (201 new, 200 if you already have one), several for a group",
        responses={200: ResponseSpec(ThreadOut, description="You already had a direct thread with them: that one")},
        raises=[NotFound],
    )
    async def start(self, data: JSONBody[ThreadIn], request: LoggedIn, state: State) -> Response[ThreadOut]:
        view, created = await state.messages.start_thread(request.user.id, data.usernames)
        return Response(thread_out(view), status_code=201 if created else 200)

    @get("/{thread_id:str}", summary="One of your threads", raises=[NotFound])
    async def thread(self, thread_id: PathId, request: LoggedIn, state: State) -> ThreadOut:
        return thread_out(await state.messages.thread(request.user.id, id_in_path(thread_id, "thread")))

    @get("/{thread_id:str}/messages", summary="A thread's messages, newest first", raises=[NotFound])
    async def history(
        self, thread_id: PathId, request: LoggedIn, state: State, cursor: Cursor = None, limit: Limit = 20
    ) -> MessageList:
        page = await state.messages.history(request.user.id, id_in_path(thread_id, "thread"), cursor, limit)
        return message_list(page)

    @post(
        "/{thread_id:str}/messages",
        summary="Send text, one of your ready photos (media_id) and/or a post you can see (post_id)",
        middleware=[send_limit.middleware],
        raises=[NotFound, Forbidden, RateLimited],
    )
    async def send(self, thread_id: PathId, data: JSONBody[MessageIn], request: LoggedIn, state: State) -> MessageOut:
        view = await state.messages.send(
            request.user.id,
            id_in_path(thread_id, "thread"),
            data.text,
            optional_body_id(data.media_id, "media_id"),
            optional_body_id(data.post_id, "post_id"),
        )
        return message_out(view)

    @post(
        "/{thread_id:str}/read", summary="Mark the thread read up to a message (your read receipt)", status_code=200,
        raises=[NotFound],
    )
    async def read(self, thread_id: PathId, data: JSONBody[ReadIn], request: LoggedIn, state: State) -> ReadState:
        thread = id_in_path(thread_id, "thread")
        message_id = body_ids([data.message_id], "message_id")[0]
        await state.messages.mark_read(request.user.id, thread, message_id)
        view = await state.messages.thread(request.user.id, thread)
        return ReadState(str(thread), str(view.read_up_to[request.user.id]), view.unread)

    @post("/{thread_id:str}/accept", summary="Move a message request to your inbox", status_code=200, raises=[NotFound])
    async def accept(self, thread_id: PathId, request: LoggedIn, state: State) -> ThreadOut:
        return thread_out(await state.messages.accept(request.user.id, id_in_path(thread_id, "thread")))


ROUTES = [ThreadsController]
