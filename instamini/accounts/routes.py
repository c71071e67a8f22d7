"""HTTP handlers of the accounts module: thin, they parse, call the service and shape the answer.

Registering and logging in answer the token in the body (API clients) and also set the
session and CSRF cookies (browsers; see auth.py); logging out clears both.
"""

from __future__ import annotations

import msgspec
from litestar import Request, Response, delete, get, patch, post
from litestar.datastructures import Cookie, State
from litestar.middleware.rate_limit import RateLimitConfig
from litestar.params import JSONBody

from ..errors import Conflict, Forbidden, NotAuthenticated, Overloaded, RateLimited
from .auth import CSRF_COOKIE, SESSION_COOKIE, Viewer, check_origin, csrf_token, logged_in
from .schemas import Me, MePatch, RegisterIn, LoginIn, SessionOut
from .views import account_fields, account_out, counts_out


RATE_LIMIT_STORES = ("register_rate_limit", "login_rate_limit")  # swept by the plugin


def build_handlers(registrations_per_minute: int, logins_per_minute: int) -> list:
    """The handlers, with per-client-address rate limits from the config."""
    register_limit = RateLimitConfig(rate_limit=("minute", registrations_per_minute), store=RATE_LIMIT_STORES[0])
    login_limit = RateLimitConfig(rate_limit=("minute", logins_per_minute), store=RATE_LIMIT_STORES[1])

    # Registering and logging in authenticate by password: a stale session cookie must not stop them.
    @post("/api/v1/accounts", middleware=[register_limit.middleware], tags=["accounts"], summary="Register",
          opt={"exclude_from_auth": True}, status_code=201, raises=[Forbidden, Conflict, RateLimited, Overloaded])
    async def register(data: JSONBody[RegisterIn], request: Request, state: State) -> Response[SessionOut]:
        check_origin(request)
        user, token = await state.accounts.register(data.username, data.password, data.display_name)
        return with_session_cookies(SessionOut(account=account_out(user), token=token), request, state)

    @post("/api/v1/sessions", middleware=[login_limit.middleware], tags=["accounts"], summary="Log in",
          opt={"exclude_from_auth": True}, status_code=201, raises=[NotAuthenticated, Forbidden, RateLimited, Overloaded])
    async def login(data: JSONBody[LoginIn], request: Request, state: State) -> Response[SessionOut]:
        check_origin(request)
        user, token = await state.accounts.login(data.username, data.password, request.client.host if request.client else "")
        return with_session_cookies(SessionOut(account=account_out(user), token=token), request, state)

    # The cookies are cleared by static Set-Cookie headers, so the 204 is documented with no body.
    @delete("/api/v1/sessions/current", tags=["accounts"], summary="Log out", status_code=204, guards=[logged_in],
            response_cookies=[Cookie(key=name, path="/", expires=0, max_age=0) for name in (SESSION_COOKIE, CSRF_COOKIE)])
    async def logout(request: Request[Viewer, str, State], state: State) -> None:
        await state.accounts.logout(request.user.token)

    @get("/api/v1/me", tags=["accounts"], summary="Your own account", guards=[logged_in])
    async def read_me(request: Request[Viewer, str, State], state: State) -> Me:
        user = await state.accounts.get_user(request.user.id)
        return Me(*account_fields(user), counts=counts_out(await state.counters.get(request.user.id)))

    @patch("/api/v1/me", tags=["accounts"], summary="Edit your profile", guards=[logged_in])
    async def edit_me(data: JSONBody[MePatch], request: Request[Viewer, str, State], state: State) -> Me:
        changes = {k: v for k, v in msgspec.structs.asdict(data).items() if v is not msgspec.UNSET}
        if changes.get("avatar_media_id") is not None:
            changes["avatar_media_id"] = int(changes["avatar_media_id"])
        user = await state.accounts.update(request.user.id, changes)
        if changes.get("private") is False and state.get("graph") is not None:
            # Going public lets everyone who asked in, as people expect.
            await state.graph.approve_all_requests(request.user.id)
        return Me(*account_fields(user), counts=counts_out(await state.counters.get(request.user.id)))

    return [register, login, logout, read_me, edit_me]


def with_session_cookies(body: SessionOut, request: Request, state: State) -> Response[SessionOut]:
    """The answer with the session cookie (HttpOnly) and its CSRF token (readable by the page)."""
    secure = request.url.scheme == "https" or state.config.server.secure_cookies
    max_age = state.config.accounts.session_days * 86_400
    response = Response(body, status_code=201)
    response.set_cookie(SESSION_COOKIE, body.token, max_age=max_age, path="/", secure=secure, httponly=True, samesite="lax")
    response.set_cookie(CSRF_COOKIE, csrf_token(body.token), max_age=max_age, path="/", secure=secure, httponly=False,
                        samesite="lax")
    return response
