"""HTTP handlers of the feed module: the home feed, the reels feed, and why a post is ranked where it is."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Request, get
from litestar.datastructures import State
from litestar.params import Parameter

from ..accounts.auth import Viewer, logged_in
from ..errors import NotFound
from ..graph.routes import Limit
from ..posts.routes import PathId
from ..posts.schemas import PostList
from ..posts.views import id_in_path, post_list

Order = Annotated[Literal["ranked", "chronological"], Parameter(description="ranked (the default) or chronological")]
Cursor = Annotated[str | None, Parameter(max_length=24, description="next_cursor from the previous page")]


@get("/api/v1/feed", tags=["feed"], summary="Your home feed: posts of the people you follow, and yours", guards=[logged_in])
async def home_feed(
    request: Request[Viewer, str, State], state: State, order: Order = "ranked", cursor: Cursor = None, limit: Limit = 20
) -> PostList:
    return post_list(await state.feed.page(request.user.id, reels=False, order=order, cursor=cursor, limit=limit))


@get("/api/v1/reels", tags=["feed"], summary="Reels of the people you follow, and yours", guards=[logged_in])
async def reels_feed(
    request: Request[Viewer, str, State], state: State, order: Order = "ranked", cursor: Cursor = None, limit: Limit = 20
) -> PostList:
    return post_list(await state.feed.page(request.user.id, reels=True, order=order, cursor=cursor, limit=limit))


@get(
    "/api/v1/feed/explain/{post_id:str}", tags=["feed"], summary="Why the ranker placed a post where it did in your feed",
    guards=[logged_in], raises=[NotFound],
)
async def explain(request: Request[Viewer, str, State], state: State, post_id: PathId) -> dict:
    return await state.feed.explain(request.user.id, id_in_path(post_id, "post"))


ROUTES = [home_feed, reels_feed, explain]
