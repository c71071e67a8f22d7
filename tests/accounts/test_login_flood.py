"""Guessing one account from many addresses: the account's lock, the owner's way in, the hash queue.

The service is called with the client's address, as the login route calls it, so that
any number of addresses can be played without a network; the lock's clock is replaced
by a fake one where the window has to pass (no sleeping). One test checks that the
route really hands the service the client's address.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from instamini.accounts.plugin import sweep_rate_limits
from instamini.accounts.ratelimit import KnownAddresses
from instamini.accounts.routes import RATE_LIMIT_STORES
from instamini.app import create_app
from instamini.errors import NotAuthenticated, Overloaded, RateLimited, error_response
from tests.accounts.helpers import in_app, state_of
from tests.conftest import register

LIMIT = 3


def app_with(config, **accounts):
    accounts = {"login_attempts_per_account": LIMIT, **accounts}
    return create_app(msgspec.structs.replace(config, accounts=msgspec.structs.replace(config.accounts, **accounts)))


def attempt(client, username: str, password: str, address: str) -> str:
    """One login through the service on the app's loop: "ok", or the error's class name."""

    async def run() -> str:
        try:
            await state_of(client).accounts.login(username, password, address)
            return "ok"
        except (NotAuthenticated, RateLimited, Overloaded) as error:
            return type(error).__name__

    return in_app(client, run)


async def test_many_addresses_together_get_the_account_limit_and_the_owners_address_still_logs_in(config):
    async with AsyncTestClient(app_with(config)) as client:
        await register(client, "alice")
        assert attempt(client, "alice", "correct horse", "10.0.0.1") == "ok"  # the owner's usual address
        guesses = [attempt(client, "alice", f"guess {i}", f"10.9.0.{i}") for i in range(10)]
        assert guesses == ["NotAuthenticated"] * LIMIT + ["RateLimited"] * (10 - LIMIT)  # across addresses
        assert attempt(client, "alice", "correct horse", "10.9.0.200") == "RateLimited"  # a new address waits
        assert attempt(client, "alice", "correct horse", "10.0.0.1") == "ok"  # the known one does not


async def test_a_new_address_logs_in_once_the_failures_leave_the_window(config):
    async with AsyncTestClient(app_with(config, login_window_seconds=300)) as client:
        await register(client, "alice")
        now = [1000.0]
        state_of(client).accounts.login_failures.clock = lambda: now[0]
        for i in range(LIMIT):
            assert attempt(client, "alice", "wrong", f"10.9.0.{i}") == "NotAuthenticated"
        assert attempt(client, "alice", "correct horse", "10.0.0.7") == "RateLimited"
        now[0] += 299
        assert attempt(client, "alice", "correct horse", "10.0.0.7") == "RateLimited"
        now[0] += 1  # the oldest failure has left the window: one try is free
        assert attempt(client, "alice", "correct horse", "10.0.0.7") == "ok"


async def test_an_attacker_at_the_owners_address_gets_only_that_address_window(config):
    async with AsyncTestClient(app_with(config)) as client:
        await register(client, "alice")
        assert attempt(client, "alice", "correct horse", "10.0.0.1") == "ok"
        for _ in range(LIMIT):
            assert attempt(client, "alice", "wrong", "10.0.0.1") == "NotAuthenticated"
        assert attempt(client, "alice", "wrong", "10.0.0.1") == "RateLimited"
        assert attempt(client, "alice", "correct horse", "10.0.0.1") == "RateLimited"  # that window is shut too
        # The account's own window (every other address) was not touched by those failures.
        for i in range(LIMIT):
            assert attempt(client, "alice", "wrong", f"10.9.0.{i}") == "NotAuthenticated"
        assert attempt(client, "alice", "wrong", "10.9.0.99") == "RateLimited"


async def test_the_login_route_hands_the_client_address_to_the_lock(config):
    async with AsyncTestClient(app_with(config)) as client:
        await register(client, "alice")

        async def login_from(address: str) -> int:
            transport = httpx.ASGITransport(app=client.app, client=(address, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://testserver.local") as http:
                response = await http.post("/api/v1/sessions", json={"username": "alice", "password": "correct horse"})
                return response.status_code

        assert in_app(client, login_from, "10.1.2.3") == 201
        known = state_of(client).accounts.known_addresses
        assert known.knows("alice", "10.1.2.3") and not known.knows("alice", "10.1.2.4")


def test_known_addresses_expire_are_bounded_and_never_trust_an_unknown_caller():
    now = [0.0]
    known = KnownAddresses(60, clock=lambda: now[0], max_keys=3)
    known.remember("alice", "")
    assert not known.knows("alice", "") and known.failure_key("alice", "") == "alice"
    known.remember("alice", "a")
    assert known.knows("alice", "a") and known.failure_key("alice", "a") != "alice"
    now[0] += 60
    assert not known.knows("alice", "a")  # a month (here a minute) later, trust has to be earned again
    for address in "bcde":
        known.remember("alice", address)
    assert [known.knows("alice", address) for address in "bcde"] == [False, True, True, True]  # oldest dropped


async def test_a_full_hash_queue_refuses_at_once_and_counts_no_failure(config):
    async with AsyncTestClient(app_with(config, max_concurrent_hashes=1, max_waiting_hashes=1)) as client:
        await register(client, "alice")
        accounts = state_of(client).accounts

        async def three_at_once() -> list[str]:
            async def one(i: int) -> str:
                try:
                    await accounts.login("alice", f"guess {i}", f"10.9.0.{i}")
                except (NotAuthenticated, Overloaded) as error:
                    return type(error).__name__
                return "ok"

            # Each task runs up to its first await in turn: the admission count is taken before
            # it, so the third finds one hashing and one waiting whatever the machine's speed.
            return await asyncio.gather(one(0), one(1), one(2))

        assert in_app(client, three_at_once) == ["NotAuthenticated", "NotAuthenticated", "Overloaded"]
        assert accounts.passwords.admitted == 0 and accounts.passwords.refused == 1
        assert len(accounts.login_failures._events["alice"]) == 2  # the refused guess was not counted


def test_overloaded_is_a_503_with_retry_after():
    response = error_response(None, Overloaded("too many password checks at once", 1))
    assert response.status_code == 503 and response.headers["Retry-After"] == "1"


@pytest.mark.parametrize("store_name", RATE_LIMIT_STORES)
async def test_expired_per_address_counts_are_swept(config, store_name):
    async with AsyncTestClient(app_with(config)) as client:
        store = client.app.stores.get(store_name)

        async def sweep() -> tuple[bool, bool]:
            await store.set("gone", b"{}", expires_in=timedelta(seconds=-1))  # a minute that is over
            await store.set("live", b"{}", expires_in=60)
            await sweep_rate_limits(client.app)
            return await store.exists("gone"), await store.exists("live")

        assert in_app(client, sweep) == (False, True)
