"""HTTP handlers of the search module: search people and hashtags, and a hashtag's posts."""

from __future__ import annotations

from typing import Annotated, Literal

from litestar import Controller, Request, get
from litestar.datastructures import State
from litestar.params import Parameter

from ..accounts.auth import Viewer, viewer_id
from ..errors import NotFound
from ..graph.routes import Cursor, Limit, user_summary
from ..posts.schemas import PostList
from ..posts.views import post_list
from .schemas import HashtagOut, SearchResults

Anyone = Request[Viewer | None, str, State]
# 200 is the ceiling of [search] max_query_chars; the service refuses more than the configured number.
Query = Annotated[str, Parameter(max_length=200, description="what was typed; text, never query syntax")]
TagName = Annotated[str, Parameter(max_length=128, description="a hashtag, without the #")]
Order = Annotated[Literal["recent", "top"], Parameter(description="recent: newest first; top: most liked and commented")]


class SearchController(Controller):
    path = "/api/v1/search"
    tags = ["search"]

    @get("/", summary="People and hashtags matching what was typed (prefixes of their words)")
    async def search(self, request: Anyone, state: State, q: Query = "") -> SearchResults:
        users, hashtags = await state.search.search(viewer_id(request), q)
        return SearchResults(
            users=[user_summary(user) for user in users], hashtags=[HashtagOut(tag, posts) for tag, posts in hashtags]
        )


class TagPostsController(Controller):
    path = "/api/v1/tags/{tag:str}/posts"
    tags = ["search"]

    @get("/", summary="Posts with a hashtag: the newest, or the top among the newest", raises=[NotFound])
    async def posts(
        self, tag: TagName, request: Anyone, state: State, order: Order = "recent", cursor: Cursor = None, limit: Limit = 20
    ) -> PostList:
        return post_list(await state.search.tag_posts(viewer_id(request), tag, order, cursor, limit))


ROUTES = [SearchController, TagPostsController]
