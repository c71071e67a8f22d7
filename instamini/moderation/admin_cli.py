"""`python -m instamini admin create`: register an account offline and make it admin.

It opens the data directory itself (create_app + lifespan, as demo does), so the
server must be stopped while it runs.
"""

from __future__ import annotations

import asyncio
import sys

import msgspec

from ..accounts.schemas import RegisterIn
from ..config import Config
from ..errors import InstaminiError


async def create_admin(config: Config, username: str, password: str) -> int:
    """Register `username` and make them admin; the exit status (0, or 1 with a message)."""
    from ..app import create_app

    try:  # the same rules as registering over HTTP
        msgspec.convert({"username": username, "password": password}, RegisterIn)
    except msgspec.ValidationError as error:
        print(f"instamini: {error}", file=sys.stderr)
        return 1
    app = create_app(config)
    async with app.lifespan():
        try:
            user, _ = await app.state.accounts.register(username, password)
        except InstaminiError as error:
            print(f"instamini: {error.detail}", file=sys.stderr)
            return 1
        await app.state.moderation.make_admin(user.id)
    print(f"admin '{user.username}' created (id {user.id})")
    return 0


def run_admin(config: Config, username: str, password: str) -> int:
    if not config.modules.moderation:
        print("instamini: modules.moderation is off", file=sys.stderr)
        return 2
    return asyncio.run(create_admin(config, username, password))
