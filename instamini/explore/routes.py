"""HTTP handler of the explore module: recommended posts from people you do not follow."""

from __future__ import annotations

from litestar import Request, get
from litestar.datastructures import State

from ..accounts.auth import Viewer, logged_in
from ..feed.routes import Cursor
from ..graph.routes import Limit
from ..posts.schemas import PostList
from ..posts.views import post_list


@get("/api/v1/explore", tags=["feed"], summary="Posts you may like, from people you do not follow", guards=[logged_in])
async def explore(request: Request[Viewer, str, State], state: State, cursor: Cursor = None, limit: Limit = 20) -> PostList:
    return post_list(await state.explore.page(request.user.id, cursor, limit))


ROUTES = [explore]
