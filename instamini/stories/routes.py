"""HTTP handlers of the stories module: thin, they parse ids, call the service and shape the answer."""

from __future__ import annotations

from litestar import Controller, Request, get, post
from litestar.datastructures import State
from litestar.params import JSONBody

from ..accounts.auth import Viewer, logged_in
from ..errors import Conflict, NotFound
from ..graph.routes import user_summary
from ..ids import iso_from_ms
from ..media.schemas import media_out
from ..posts.routes import PathId, body_ids
from ..posts.views import id_in_path
from .records import StoryRecord
from .schemas import SeenOut, StoryIn, StoryOut, Tray, TrayEntryOut, ViewerList, ViewerOut
from .service import TrayEntry

LoggedIn = Request[Viewer, str, State]


def story_out(story: StoryRecord, seen: bool) -> StoryOut:
    return StoryOut(
        id=str(story.id),
        media=media_out(story.media),
        created_at=iso_from_ms(story.created_ms),
        expires_at=iso_from_ms(story.expires_ms),
        seen=seen,
    )


def entry_out(entry: TrayEntry) -> TrayEntryOut:
    stories = [story_out(view.record, view.seen) for view in entry.stories]
    return TrayEntryOut(user=user_summary(entry.user), stories=stories, has_unseen=entry.has_unseen)


class StoriesController(Controller):
    path = "/api/v1/stories"
    tags = ["stories"]
    guards = [logged_in]

    @post("/", summary="Share a ready photo or video of yours as a story (it expires)", raises=[Conflict])
    async def create(self, data: JSONBody[StoryIn], request: LoggedIn, state: State) -> StoryOut:
        (media_id,) = body_ids([data.media_id], "media_id")
        return story_out(await state.stories.post(request.user.id, media_id), seen=True)

    @get("/", summary="The tray: whom you follow with live stories, unseen first, then newest")
    async def tray(self, request: LoggedIn, state: State) -> Tray:
        return Tray(items=[entry_out(entry) for entry in await state.stories.tray(request.user.id)])

    @post("/{story_id:str}/seen", summary="Mark a story seen (idempotent)", status_code=200, raises=[NotFound])
    async def seen(self, story_id: PathId, request: LoggedIn, state: State) -> SeenOut:
        await state.stories.mark_seen(request.user.id, id_in_path(story_id, "story"))
        return SeenOut(id=story_id, seen=True)

    @get("/{story_id:str}/viewers", summary="Who has seen your story, newest first", raises=[NotFound])
    async def viewers(self, story_id: PathId, request: LoggedIn, state: State) -> ViewerList:
        found = await state.stories.viewers(request.user.id, id_in_path(story_id, "story"))
        return ViewerList(items=[ViewerOut(user=user_summary(v.user), seen_at=iso_from_ms(v.seen_ms)) for v in found])


ROUTES = [StoriesController]
