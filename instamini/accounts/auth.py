"""Who is calling: an authentication middleware and the `logged_in` guard.

Litestar's way: a middleware reads the credentials once per request and puts the
caller on `request.user` (a `Viewer`, or None for anonymous callers); routes that
need a logged-in user carry `guards=[logged_in]`. The token comes from
`Authorization: Bearer <token>` and is checked against the session cache (about
a microsecond when hot), so authentication is nearly free on the hot path. A
malformed, unknown, revoked or expired token is a 401 even on public routes: a
client with a broken token should find out, not be silently treated as anonymous.
"""

from __future__ import annotations

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from ..errors import NotAuthenticated

MAX_TOKEN_LENGTH = 128


class Viewer(msgspec.Struct, frozen=True):
    id: int
    token: str


def bearer_token(connection: ASGIConnection) -> str | None:
    # Scanning the raw header list is several microseconds cheaper than building
    # Litestar's Headers mapping, and this runs on every request.
    for name, value in connection.scope["headers"]:
        if name == b"authorization" or name.lower() == b"authorization":
            header = value.decode("latin-1")
            break
    else:
        return None
    scheme, _, token = header.partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or len(token) > MAX_TOKEN_LENGTH:
        raise NotAuthenticated("Authorization header must be 'Bearer <token>'")
    return token


class SessionAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = bearer_token(connection)
        if token is None:
            return AuthenticationResult(user=None, auth=None)
        user_id = await connection.app.state.accounts.authenticate(token)
        return AuthenticationResult(user=Viewer(id=user_id, token=token), auth=token)


def viewer_id(connection: ASGIConnection) -> int | None:
    """The caller's user id, or None for an anonymous caller."""
    return connection.user.id if connection.user is not None else None


def authentication_middleware() -> DefineMiddleware:
    # Operations endpoints answer everyone and never look at credentials.
    return DefineMiddleware(SessionAuthentication, exclude=["^/schema", "^/metrics", "^/healthz"])


async def logged_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: the route needs a logged-in user. (Async on purpose: Litestar would run a
    plain function guard in a worker thread, a thread hop on every request.)"""
    if connection.user is None:
        raise NotAuthenticated("log in first: send 'Authorization: Bearer <token>'")
