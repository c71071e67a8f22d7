"""background.py: `every` keeps going after a failed round; `sweep_expired` empties rate-limit stores of what is over."""

from __future__ import annotations

from datetime import timedelta

import anyio
import pytest
from litestar.testing import AsyncTestClient

from instamini.accounts.routes import RATE_LIMIT_STORES
from instamini.app import create_app
from instamini.background import every, sweep_expired
from instamini.media.routes import UPLOAD_RATE_LIMIT_STORE
from instamini.messages.routes import SEND_RATE_LIMIT_STORE
from tests.accounts.helpers import in_app

STORES = [*RATE_LIMIT_STORES, UPLOAD_RATE_LIMIT_STORE, SEND_RATE_LIMIT_STORE]


async def test_every_goes_on_after_a_failed_round():
    rounds = []

    async def step() -> None:
        rounds.append(len(rounds))
        if len(rounds) == 1:
            raise RuntimeError("the first round fails")
        if len(rounds) == 3:
            raise anyio.get_cancelled_exc_class()  # stop the loop from inside: no timing involved

    with pytest.raises(anyio.get_cancelled_exc_class()):
        await every(0, step, "a test step")
    assert rounds == [0, 1, 2]


async def test_every_modules_per_address_store_is_swept_of_its_expired_counts(config):
    async with AsyncTestClient(create_app(config)) as client:
        stores = [client.app.stores.get(name) for name in STORES]

        async def fill_then_sweep() -> list[tuple[bool, bool]]:
            for store in stores:
                await store.set("over", b"{}", expires_in=timedelta(seconds=-1))
                await store.set("live", b"{}", expires_in=60)
            await sweep_expired(client.app, STORES)
            return [(await store.exists("over"), await store.exists("live")) for store in stores]

        assert in_app(client, fill_then_sweep) == [(False, True)] * len(STORES)
