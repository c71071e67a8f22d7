"""The posts module: posts, carousels and reels, likes, comments, saves, the profile grid.

It builds three services on `app.state`: `posts` (PostsService), `comments` and
`reactions` (likes and saves). Modules that start later and must write in a new
post's own transaction append to `state.posts.in_create_transaction`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..module import Module
from .comments import Comments
from .migrations import MIGRATIONS
from .reactions import Reactions
from .routes import ROUTES
from .service import PostsService


class PostsModule(Module):
    name = "posts"
    migrations = MIGRATIONS
    cache_tables = ("posts", "reactions")
    routes = ROUTES

    @asynccontextmanager
    async def lifespan(self, app: Litestar) -> AsyncIterator[None]:
        state = app.state
        state.posts = PostsService(
            state.meta,
            state.cache,
            state.ids,
            state.accounts,
            state.graph,
            state.counters,
            state.blobs,
            self.config.posts,
            app.emit,
        )
        state.comments = Comments(state.posts, app.emit)
        state.reactions = Reactions(state.posts, app.emit)
        yield
