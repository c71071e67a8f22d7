"""Who is calling: the `viewer` and `maybe_viewer` dependencies.

Every handler that needs a logged-in user takes `viewer: Viewer`; one that also
serves anonymous callers takes `maybe_viewer: Viewer | None`. The token comes
from `Authorization: Bearer <token>` and is checked against the session cache
(a microsecond when hot), so authentication is nearly free on the hot path.
"""

from __future__ import annotations

import msgspec
from litestar import Request
from litestar.datastructures import State

from ..errors import NotAuthenticated

MAX_TOKEN_LENGTH = 128


class Viewer(msgspec.Struct, frozen=True):
    id: int
    token: str


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header is None:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotAuthenticated("Authorization header must be 'Bearer <token>'")
    return token


async def provide_viewer(request: Request, state: State) -> Viewer:
    token = bearer_token(request)
    if token is None:
        raise NotAuthenticated("log in first: send 'Authorization: Bearer <token>'")
    return Viewer(id=await state.accounts.authenticate(token), token=token)


async def provide_maybe_viewer(request: Request, state: State) -> Viewer | None:
    token = bearer_token(request)
    if token is None:
        return None
    return Viewer(id=await state.accounts.authenticate(token), token=token)
