"""Fixtures of the notifications tests: a fourth user and the realtime hub."""

from __future__ import annotations

import pytest

from instamini.realtime.hub import Hub
from tests.accounts.helpers import state_of
from tests.conftest import User, register


@pytest.fixture
async def dave(client) -> User:
    return await register(client, "dave")


@pytest.fixture
def hub(client) -> Hub:
    """The hub notifications are pushed through: the realtime module's, or one put in its place."""
    state = state_of(client)
    if state.get("hub") is None:
        state.hub = Hub()
    return state.hub
