"""An example plugin: greets new accounts and counts them.

It shows the three things most plugins do:
- react to an event (`instamini_event`): count `account.registered`;
- add a route (`instamini_routes`): `GET /api/v1/plugins/welcome` answers a
  greeting for the logged-in user and how many people joined since the start;
- keep state on the app at start-up (`instamini_startup`).

Copy this file, rename the functions' bodies, and restart (or run with --reload).
Its test is tests/plugins/test_welcome.py.
"""

from __future__ import annotations

from litestar import Request, get
from litestar.datastructures import State

from instamini.accounts.auth import Viewer, logged_in
from instamini.hookspecs import hookimpl


@get("/api/v1/plugins/welcome", tags=["plugins"], summary="A greeting from the example plugin", guards=[logged_in])
async def welcome(request: Request[Viewer, str, State], state: State) -> dict[str, object]:
    user = await state.accounts.get_user(request.user.id)
    return {"message": f"Welcome, {user.display_name or user.username}!", "joined_since_start": state.welcome_joined}


@hookimpl
def instamini_routes():
    return [welcome]


@hookimpl
def instamini_startup(app):
    app.state.welcome_joined = 0


@hookimpl
def instamini_event(name, app):
    # A hook implementation names only the arguments it uses (here not `payload`).
    if name == "account.registered":
        app.state.welcome_joined += 1
