"""The posts module: posts, carousels and reels, likes, comments, saves, the profile grid.

It builds three services on `app.state`: `posts` (PostsService), `comments` and
`reactions` (likes and saves). Modules that start later and must write in a new
post's own transaction append to `state.posts.in_create_transaction`. In a cluster,
each of the three, and the viewers' flags (`state.posts.flags`), forwards to its
owner whatever is another instance's.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from litestar import Litestar

from ..cluster.forward import join_cluster
from ..module import Module
from .comments import Comments
from .migrations import MIGRATIONS
from .reactions import CACHE_TABLES as REACTION_TABLES, Reactions
from .routes import ROUTES
from .service import PostsService


class PostsModule(Module):
    name = "posts"
    migrations = MIGRATIONS
    cache_tables = ("posts", *REACTION_TABLES)
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
        # In a cluster each runs its owned methods on the owner of their shard (docs/cluster.md).
        for service in (state.posts, state.posts.flags, state.comments, state.reactions):
            join_cluster(state, service)
        yield
