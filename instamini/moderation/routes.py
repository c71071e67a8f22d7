"""HTTP handlers of the moderation module and the `is_admin` guard."""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
from litestar import Request, Response, get, post
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.handlers.base import BaseRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.params import JSONBody, Parameter

from ..accounts.auth import Viewer, logged_in
from ..errors import Conflict, Forbidden, InvalidInput, NotAuthenticated, NotFound
from ..graph.routes import Cursor, Limit, Username
from ..ids import parse_id
from .service import Report


Status = Annotated[Literal["open", "resolved"], Parameter(description="open (the default) or resolved")]
ReportId = Annotated[str, Parameter(max_length=20, description="a report id")]


async def is_admin(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: anonymous callers get 401, ordinary users 403. (Async: no thread hop.)"""
    if connection.user is None:
        raise NotAuthenticated("log in first: send 'Authorization: Bearer <token>'")
    if not await connection.app.state.moderation.is_admin(connection.user.id):
        raise Forbidden("only admins may do this")


class ReportIn(msgspec.Struct, forbid_unknown_fields=True):
    kind: Literal["post", "comment", "account", "message"]
    target_id: Annotated[str, msgspec.Meta(max_length=20)]  # an id: 20 digits hold any 64-bit one
    reason: Annotated[str, msgspec.Meta(max_length=500)] = ""


class ResolveIn(msgspec.Struct, forbid_unknown_fields=True):
    action: Literal["dismiss", "remove", "suspend"]


def report_out(report: Report) -> dict:
    fields = msgspec.structs.asdict(report)
    for name in ("id", "reporter_id", "target_id", "target_user_id"):
        fields[name] = str(fields[name])
    return fields


@post("/api/v1/reports", guards=[logged_in], tags=["moderation"], summary="Report content or an account", raises=[NotFound],
      responses={200: ResponseSpec(dict, description="You had already reported it: your open report")})
async def create_report(data: JSONBody[ReportIn], request: Request[Viewer, str, State], state: State) -> Response:
    report, created = await state.moderation.report(request.user.id, data.kind, data.target_id, data.reason)
    return Response(report_out(report), status_code=201 if created else 200)


@get("/api/v1/admin/reports", guards=[is_admin], tags=["moderation"], summary="Reports, newest first", raises=[Forbidden])
async def list_reports(state: State, status: Status = "open", cursor: Cursor = None, limit: Limit = 20) -> dict:
    before = (1 << 63) - 1 if not cursor else parse_id(cursor)
    if before is None:
        raise InvalidInput("cursor is not one this server gave out")
    reports = await state.moderation.list_reports(status, before, limit)
    next_cursor = str(reports[-1].id) if len(reports) == limit else None
    return {"items": [report_out(report) for report in reports], "next_cursor": next_cursor}


@post("/api/v1/admin/reports/{report_id:str}/resolve", guards=[is_admin], tags=["moderation"], status_code=200,
      summary="Resolve a report", raises=[Forbidden, NotFound, Conflict])
async def resolve_report(
    report_id: ReportId, data: JSONBody[ResolveIn], request: Request[Viewer, str, State], state: State
) -> dict:
    parsed = parse_id(report_id)
    if parsed is None:
        raise InvalidInput("report id must be a number")
    return report_out(await state.moderation.resolve(request.user.id, parsed, data.action))


@post("/api/v1/admin/users/{username:str}/suspend", guards=[is_admin], tags=["moderation"], status_code=200,
      summary="Suspend an account", raises=[Forbidden, NotFound])
async def suspend_user(username: Username, state: State) -> dict:
    user = await state.accounts.by_username(username)
    await state.moderation.suspend(user.id)
    return {"username": user.username, "suspended": True}


@post("/api/v1/admin/users/{username:str}/unsuspend", guards=[is_admin], tags=["moderation"], status_code=200,
      summary="Lift a suspension", raises=[Forbidden, NotFound])
async def unsuspend_user(username: Username, state: State) -> dict:
    user = await state.accounts.by_username(username)
    await state.moderation.unsuspend(user.id)
    return {"username": user.username, "suspended": False}


ROUTES = [create_report, list_reports, resolve_report, suspend_user, unsuspend_user]
