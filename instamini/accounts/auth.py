"""Who is calling: an authentication middleware and the `logged_in` guard.

Litestar's way: a middleware reads the credentials once per request and puts the
caller on `request.user` (a `Viewer`, or None for anonymous callers); routes that
need a logged-in user carry `guards=[logged_in]`. The token comes from
`Authorization: Bearer <token>` and is checked against the session cache (about
a microsecond when hot), so authentication is nearly free on the hot path. A
malformed, unknown, revoked or expired token is a 401 even on public routes: a
client with a broken token should find out, not be silently treated as anonymous.

Browsers: the web app never sees the token. Registering or logging in also sets two
cookies: `instamini_session` (the token; HttpOnly, so no script can read it) and
`instamini_csrf` (readable, SameSite=Lax both). With no Authorization header the
session cookie authenticates. Because a browser attaches cookies to requests that
another site makes it send, a cookie-authenticated request that changes something
(POST, PUT, PATCH, DELETE) must also echo the CSRF token in `X-CSRF-Token`: a script
of another origin cannot read our cookie, so it cannot forge the header ("double
submit"). The CSRF token is derived from the session token (an HMAC under a fixed
label), so it costs no storage and dies with the session; it reveals nothing of the
token, which stays secret.

Why not Litestar's CSRFConfig: it checks every unsafe request whatever carries the
credentials, so bearer API clients (which no other site can make a browser send)
would have to fetch and echo a CSRF cookie too, and it keeps its own random token
cookie. Here the check applies exactly where the danger is, to requests
authenticated by the cookie, in the middleware that already knows which one it was.

Pages (`/`, `/system`, `/static/...`) and the login and registration routes skip
the middleware: a visitor whose cookie went stale must still get the page and be
able to log in again, which sets fresh cookies. Those two routes check the browser's
`Origin` instead (this server or `[server] allowed_origins`), so that another site
cannot log a visitor into the attacker's account (login CSRF).
"""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import urlsplit

import msgspec
from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler
from litestar.middleware import AbstractAuthenticationMiddleware, AuthenticationResult, DefineMiddleware

from ..errors import Forbidden, NotAuthenticated

MAX_TOKEN_LENGTH = 128
SESSION_COOKIE = "instamini_session"
CSRF_COOKIE = "instamini_csrf"
CSRF_HEADER = "X-CSRF-Token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_CSRF_LABEL = b"instamini csrf v1"
_CSRF_HEADER_RAW = CSRF_HEADER.lower().encode()


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


def csrf_token(session_token: str) -> str:
    """The CSRF token that goes with a session token: HMAC-SHA256 under a fixed label, in hex."""
    return hmac.new(_CSRF_LABEL, session_token.encode(), hashlib.sha256).hexdigest()


def cookie_token(connection: ASGIConnection) -> str | None:
    token = connection.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if len(token) > MAX_TOKEN_LENGTH:
        raise NotAuthenticated("the session cookie is not valid: log in again")
    return token


def check_csrf(connection: ASGIConnection, token: str) -> None:
    """A cookie-authenticated request that changes something must echo the CSRF token."""
    for name, value in connection.scope["headers"]:
        if name.lower() == _CSRF_HEADER_RAW:
            if hmac.compare_digest(value, csrf_token(token).encode()):
                return
            break
    raise Forbidden(
        f"missing or wrong {CSRF_HEADER} header: a request authenticated by the session cookie that changes "
        f"something must echo the {CSRF_COOKIE} cookie in it"
    )


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """No Origin (not a browser), this server's own host, or one listed in the config."""
    if origin is None:
        return True
    if origin in allowed:
        return True
    return host is not None and urlsplit(origin).netloc == host


def check_origin(connection: ASGIConnection) -> None:
    """Logging in or registering from another site's page is refused: that page could
    otherwise log a visitor into the attacker's account (login CSRF) and the cookies
    would follow. Browsers always send Origin on a cross-site POST."""
    headers = connection.headers
    if not origin_allowed(headers.get("origin"), headers.get("host"), connection.app.state.config.server.allowed_origins):
        raise Forbidden("this origin may not log in here: add it to [server] allowed_origins")


class SessionAuthentication(AbstractAuthenticationMiddleware):
    async def authenticate_request(self, connection: ASGIConnection) -> AuthenticationResult:
        token = bearer_token(connection)  # a Bearer header wins over any cookie
        by_cookie = token is None
        if by_cookie:
            token = cookie_token(connection)
            if token is None:
                return AuthenticationResult(user=None, auth=None)
        # A stale session is a 401 first (the app shows the login), before any CSRF verdict.
        user_id = await connection.app.state.accounts.authenticate(token)
        if by_cookie and connection.scope.get("method") in UNSAFE_METHODS:
            check_csrf(connection, token)
        return AuthenticationResult(user=Viewer(id=user_id, token=token), auth=token)


def viewer_id(connection: ASGIConnection) -> int | None:
    """The caller's user id, or None for an anonymous caller."""
    return connection.user.id if connection.user is not None else None


def authentication_middleware() -> DefineMiddleware:
    # Operations endpoints answer everyone and never look at credentials; nor do the web
    # app's pages and files, which a logged-out visitor with a stale cookie must still get.
    return DefineMiddleware(
        SessionAuthentication, exclude=["^/schema", "^/metrics", "^/healthz", "^/$", "^/system$", "^/static/"]
    )


async def logged_in(connection: ASGIConnection, _: BaseRouteHandler) -> None:
    """Guard: the route needs a logged-in user. (Async on purpose: Litestar would run a
    plain function guard in a worker thread, a thread hop on every request.)"""
    if connection.user is None:
        raise NotAuthenticated("log in first: send 'Authorization: Bearer <token>' or the session cookie")
