"""HTTP handlers of the graph module: profiles, follows, requests, blocks, lists."""

from __future__ import annotations

from typing import Annotated

from litestar import Controller, Request, delete, get, post
from litestar.datastructures import State
from litestar.params import Parameter

from ..accounts.auth import Viewer, logged_in, viewer_id
from ..accounts.service import UserRecord
from ..accounts.views import account_fields, counts_out
from ..errors import Conflict, Forbidden, NotFound
from .schemas import BlockState, FollowState, Profile, RelationshipOut, UserList, UserSummary
from .service import Page

Limit = Annotated[int, Parameter(ge=1, le=100, description="page size, 1 to 100")]
Cursor = Annotated[str | None, Parameter(max_length=24, description="next_cursor from the previous page")]
Username = Annotated[str, Parameter(max_length=64)]


def user_summary(user: UserRecord) -> UserSummary:
    avatar = None if user.avatar_media_id is None else str(user.avatar_media_id)
    return UserSummary(
        id=str(user.id), username=user.username, display_name=user.display_name, avatar_media_id=avatar,
        avatar_url=user.avatar_url,
    )


def user_list(page: Page) -> UserList:
    return UserList(items=[user_summary(user) for user in page.users], next_cursor=page.next_cursor)


class PeopleController(Controller):
    path = "/api/v1/users/{username:str}"
    tags = ["people"]

    @get("/", summary="A profile: counts and the relationship to you", raises=[NotFound])
    async def profile(self, username: Username, request: Request[Viewer | None, str, State], state: State) -> Profile:
        user, counters, r = await state.graph.profile(viewer_id(request), username)
        relationship = None
        if r is not None:
            relationship = RelationshipOut(following=r.following, requested=r.requested, followed_by=r.follower, blocking=r.blocking)
        return Profile(*account_fields(user), counts=counts_out(counters), relationship=relationship)

    @get("/followers", summary="Who follows them, newest first", raises=[NotFound, Forbidden])
    async def followers(
        self, username: Username, request: Request[Viewer | None, str, State], state: State, cursor: Cursor = None, limit: Limit = 20
    ) -> UserList:
        return user_list(await state.graph.list_people(viewer_id(request), username, "follower", cursor, limit))

    @get("/following", summary="Whom they follow, newest first", raises=[NotFound, Forbidden])
    async def following(
        self, username: Username, request: Request[Viewer | None, str, State], state: State, cursor: Cursor = None, limit: Limit = 20
    ) -> UserList:
        return user_list(await state.graph.list_people(viewer_id(request), username, "following", cursor, limit))

    @post("/follow", summary="Follow (or ask to, if private)", status_code=200, guards=[logged_in], raises=[NotFound, Conflict])
    async def follow(self, username: Username, request: Request[Viewer, str, State], state: State) -> FollowState:
        return FollowState(state=await state.graph.follow(request.user.id, username))

    @delete("/follow", summary="Unfollow, or withdraw a request", status_code=200, guards=[logged_in], raises=[NotFound, Conflict])
    async def unfollow(self, username: Username, request: Request[Viewer, str, State], state: State) -> FollowState:
        await state.graph.unfollow(request.user.id, username)
        return FollowState(state="none")

    @post(
        "/block", summary="Block: removes follows both ways and hides each from the other", status_code=200, guards=[logged_in],
        raises=[NotFound, Conflict],
    )
    async def block(self, username: Username, request: Request[Viewer, str, State], state: State) -> BlockState:
        await state.graph.block(request.user.id, username)
        return BlockState(blocking=True)

    @delete("/block", summary="Unblock", status_code=200, guards=[logged_in], raises=[NotFound, Conflict])
    async def unblock(self, username: Username, request: Request[Viewer, str, State], state: State) -> BlockState:
        await state.graph.unblock(request.user.id, username)
        return BlockState(blocking=False)


class FollowRequestsController(Controller):
    path = "/api/v1/follow-requests"
    tags = ["people"]
    guards = [logged_in]

    @get("/", summary="Requests waiting for you, newest first")
    async def waiting(self, request: Request[Viewer, str, State], state: State, cursor: Cursor = None, limit: Limit = 20) -> UserList:
        return user_list(await state.graph.list_edges(request.user.id, "request_from", request.user.id, cursor, limit))

    @post("/{username:str}/approve", status_code=200, summary="Approve a request", raises=[NotFound])
    async def approve(self, username: Username, request: Request[Viewer, str, State], state: State) -> FollowState:
        await state.graph.answer_request(request.user.id, username, approve=True)
        return FollowState(state="following")

    @post("/{username:str}/reject", status_code=200, summary="Reject a request", raises=[NotFound])
    async def reject(self, username: Username, request: Request[Viewer, str, State], state: State) -> FollowState:
        await state.graph.answer_request(request.user.id, username, approve=False)
        return FollowState(state="none")
