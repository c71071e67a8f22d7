"""HTTP handlers of the posts module: thin, they parse ids, call the services and shape the answer."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Annotated

from litestar import Controller, Request, delete, get, patch, post
from litestar.datastructures import State
from litestar.params import HeaderParameter, JSONBody, Parameter
from msgspec import UNSET

from ..accounts.auth import Viewer, logged_in, viewer_id
from ..errors import Conflict, Forbidden, InvalidInput, NotFound
from ..graph.routes import Cursor, Limit, Username
from ..ids import parse_id
from .schemas import CommentIn, CommentList, CommentOut, LikeState, PostIn, PostList, PostOut, PostPatch, SaveState
from .views import comment_list, comment_out, id_in_path, post_list, post_out

Anyone = Request[Viewer | None, str, State]
LoggedIn = Request[Viewer, str, State]
# 20 digits hold any 64-bit id; a longer one is refused (400) before any lookup.
PathId = Annotated[str, Parameter(max_length=20, description="an id, as a string")]
IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", min_length=1, max_length=128, description="retry safely: same key, same post"),
]


def body_ids(texts: Iterable[str], field: str) -> list[int]:
    ids = []
    for text in texts:
        object_id = parse_id(text)
        if object_id is None:
            raise InvalidInput(f"{field}: '{text}' is not an id")
        ids.append(object_id)
    return ids


def alt_texts_by_id(alt_texts: dict[str, str]) -> dict[int, str]:
    return dict(zip(body_ids(alt_texts, "alt_texts"), alt_texts.values()))


class PostsController(Controller):
    path = "/api/v1/posts"
    tags = ["posts"]

    @post("/", summary="Post photos and videos (a carousel of up to 10), or a reel (one video)", guards=[logged_in],
          raises=[Conflict])
    async def create(
        self, data: JSONBody[PostIn], request: LoggedIn, state: State, idempotency_key: IdempotencyKey = None
    ) -> PostOut:
        media_ids = body_ids(data.media_ids, "media_ids")
        view = await state.posts.create(
            request.user.id, data.caption, media_ids, data.kind, alt_texts_by_id(data.alt_texts), idempotency_key
        )
        return post_out(view, status_code=201)

    @get("/{post_id:str}", summary="A post", raises=[NotFound])
    async def read(self, post_id: PathId, request: Anyone, state: State) -> PostOut:
        return post_out(await state.posts.get(viewer_id(request), id_in_path(post_id, "post")))

    @patch("/{post_id:str}", summary="Edit the caption and alt texts of your post", guards=[logged_in], raises=[NotFound, Forbidden])
    async def edit(self, post_id: PathId, data: JSONBody[PostPatch], request: LoggedIn, state: State) -> PostOut:
        caption = None if data.caption is UNSET else data.caption
        alt_texts = None if data.alt_texts is UNSET else alt_texts_by_id(data.alt_texts)
        return post_out(await state.posts.edit(request.user.id, id_in_path(post_id, "post"), caption, alt_texts))

    @delete("/{post_id:str}", summary="Delete your post", guards=[logged_in], raises=[NotFound, Forbidden])
    async def remove(self, post_id: PathId, request: LoggedIn, state: State) -> None:
        await state.posts.delete(request.user.id, id_in_path(post_id, "post"))

    @post("/{post_id:str}/like", summary="Like (idempotent)", status_code=200, guards=[logged_in], raises=[NotFound])
    async def like(self, post_id: PathId, request: LoggedIn, state: State) -> LikeState:
        count = await state.reactions.set_like(request.user.id, id_in_path(post_id, "post"), True)
        return LikeState(liked=True, like_count=count)

    @delete("/{post_id:str}/like", summary="Unlike (idempotent)", status_code=200, guards=[logged_in], raises=[NotFound])
    async def unlike(self, post_id: PathId, request: LoggedIn, state: State) -> LikeState:
        count = await state.reactions.set_like(request.user.id, id_in_path(post_id, "post"), False)
        return LikeState(liked=False, like_count=count)

    @post("/{post_id:str}/save", summary="Save to your bookmarks (idempotent)", status_code=200, guards=[logged_in], raises=[NotFound])
    async def save(self, post_id: PathId, request: LoggedIn, state: State) -> SaveState:
        await state.reactions.set_saved(request.user.id, id_in_path(post_id, "post"), True)
        return SaveState(saved=True)

    @delete(
        "/{post_id:str}/save", summary="Remove from your bookmarks (idempotent)", status_code=200, guards=[logged_in],
        raises=[NotFound],
    )
    async def unsave(self, post_id: PathId, request: LoggedIn, state: State) -> SaveState:
        await state.reactions.set_saved(request.user.id, id_in_path(post_id, "post"), False)
        return SaveState(saved=False)

    @get(
        "/{post_id:str}/comments",
        summary="Top-level comments, oldest first, each with its reply count and first replies",
        raises=[NotFound],
    )
    async def comments(
        self, post_id: PathId, request: Anyone, state: State, cursor: Cursor = None, limit: Limit = 20
    ) -> CommentList:
        page = await state.comments.of_post(viewer_id(request), id_in_path(post_id, "post"), cursor, limit)
        return comment_list(page)

    @post("/{post_id:str}/comments", summary="Comment, or reply to a comment", guards=[logged_in], raises=[NotFound])
    async def comment(self, post_id: PathId, data: JSONBody[CommentIn], request: LoggedIn, state: State) -> CommentOut:
        reply_to = None if data.reply_to is None else body_ids([data.reply_to], "reply_to")[0]
        view = await state.comments.add(request.user.id, id_in_path(post_id, "post"), data.text, reply_to)
        return comment_out(view)


class CommentsController(Controller):
    path = "/api/v1/comments"
    tags = ["posts"]

    @delete(
        "/{comment_id:str}", summary="Delete a comment (its author or the post's author)", guards=[logged_in],
        raises=[NotFound, Forbidden],
    )
    async def remove(self, comment_id: PathId, request: LoggedIn, state: State) -> None:
        await state.comments.delete(request.user.id, id_in_path(comment_id, "comment"))

    @get("/{comment_id:str}/replies", summary="The replies to a top-level comment, oldest first", raises=[NotFound])
    async def replies(
        self, comment_id: PathId, request: Anyone, state: State, cursor: Cursor = None, limit: Limit = 20
    ) -> CommentList:
        page = await state.comments.replies(viewer_id(request), id_in_path(comment_id, "comment"), cursor, limit)
        return comment_list(page)


class ProfilePostsController(Controller):
    # Beside the graph's PeopleController, which owns /api/v1/users/{username} itself.
    path = "/api/v1/users/{username:str}/posts"
    tags = ["posts"]

    @get("/", summary="Someone's posts, newest first (the profile grid)", raises=[NotFound, Forbidden])
    async def grid(
        self, username: Username, request: Anyone, state: State, cursor: Cursor = None, limit: Limit = 20
    ) -> PostList:
        return post_list(await state.posts.profile_grid(viewer_id(request), username, cursor, limit))


class SavedController(Controller):
    path = "/api/v1/me/saved"
    tags = ["posts"]
    guards = [logged_in]

    @get("/", summary="Your saved posts, newest saved first")
    async def saved(self, request: LoggedIn, state: State, cursor: Cursor = None, limit: Limit = 20) -> PostList:
        return post_list(await state.reactions.saved(request.user.id, cursor, limit))


ROUTES = [PostsController, CommentsController, ProfilePostsController, SavedController]
