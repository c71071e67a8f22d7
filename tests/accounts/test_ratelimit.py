"""Failed-login lockout per account, and the per-address limits on login and registration."""

from __future__ import annotations

import msgspec
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from tests.accounts.helpers import assert_error, concurrently, count_rows, snapshot
from tests.conftest import register


def with_accounts(config, **changes):
    return msgspec.structs.replace(config, accounts=msgspec.structs.replace(config.accounts, **changes))


async def login(client, username: str, password: str):
    return await client.post("/api/v1/sessions", json={"username": username, "password": password})


async def test_account_locks_after_max_failures_even_for_the_right_password(config):
    async with AsyncTestClient(create_app(with_accounts(config, login_attempts_per_account=3))) as client:
        alice = await register(client, "alice")
        bob = await register(client, "bob")
        for _ in range(3):
            assert_error(await login(client, "alice", "wrong password"), 401, "wrong username or password")
        before = await snapshot(client)
        locked = await login(client, "alice", "correct horse")
        assert_error(locked, 429, "too many failed logins", "alice")
        retry_after = int(locked.headers["retry-after"])
        assert 1 <= retry_after <= config.accounts.login_window_seconds
        assert await snapshot(client) == before  # no session was made
        # The lock is on the account name, whatever its case.
        assert_error(await login(client, "ALICE", "correct horse"), 429, "too many failed logins")
        # Other accounts, and alice's existing sessions, are not affected.
        assert (await login(client, "bob", "correct horse")).status_code == 201
        assert (await client.get("/api/v1/me", headers=alice.headers)).status_code == 200
        assert (await client.get("/api/v1/me", headers=bob.headers)).status_code == 200


async def test_a_correct_password_resets_the_failure_count(config):
    async with AsyncTestClient(create_app(with_accounts(config, login_attempts_per_account=3))) as client:
        await register(client, "alice")
        for _ in range(2):
            assert (await login(client, "alice", "wrong password")).status_code == 401
        assert (await login(client, "alice", "correct horse")).status_code == 201
        for _ in range(2):
            assert (await login(client, "alice", "wrong password")).status_code == 401
        assert (await login(client, "alice", "correct horse")).status_code == 201


async def test_unknown_accounts_lock_the_same_way(config):
    async with AsyncTestClient(create_app(with_accounts(config, login_attempts_per_account=2))) as client:
        for _ in range(2):
            assert (await login(client, "ghost", "whatever1")).status_code == 401
        assert_error(await login(client, "ghost", "whatever1"), 429, "too many failed logins")


async def test_logins_per_address_are_limited(config):
    async with AsyncTestClient(create_app(with_accounts(config, logins_per_address_per_minute=3))) as client:
        await register(client, "alice")
        assert (await login(client, "alice", "correct horse")).status_code == 201
        assert (await login(client, "alice", "wrong password")).status_code == 401
        assert (await login(client, "alice", "correct horse")).status_code == 201
        sessions = await count_rows(client, "SELECT count(*) FROM sessions")
        limited = await login(client, "alice", "correct horse")
        assert_error(limited, 429, "too many requests")
        assert await count_rows(client, "SELECT count(*) FROM sessions") == sessions
        # Only logins are limited: the rest of the API still answers.
        assert (await client.post("/api/v1/accounts", json={"username": "bob", "password": "correct horse"})).status_code == 201


async def test_registrations_per_address_are_limited(config):
    async with AsyncTestClient(create_app(with_accounts(config, registrations_per_address_per_minute=2))) as client:
        await register(client, "alice")
        await register(client, "bob")
        limited = await client.post("/api/v1/accounts", json={"username": "carol", "password": "correct horse"})
        assert_error(limited, 429, "too many requests")
        assert await count_rows(client, "SELECT count(*) FROM users") == 2
        assert await count_rows(client, "SELECT count(*) FROM usernames WHERE username = 'carol'") == 0
        assert (await login(client, "alice", "correct horse")).status_code == 201


async def test_parallel_guesses_cannot_slip_past_the_account_limit(config):
    """Guesses sent at once must not all pass the check before any failure is counted."""
    async with AsyncTestClient(create_app(with_accounts(config, login_attempts_per_account=3))) as client:
        await register(client, "alice")
        guess = lambda http: http.post("/api/v1/sessions", json={"username": "alice", "password": "wrong password"})  # noqa: E731
        responses = concurrently(client, *([guess] * 12))
        statuses = sorted(r.status_code for r in responses)
        assert statuses == [401] * 3 + [429] * 9, statuses
        for response in responses:
            if response.status_code == 429:
                assert_error(response, 429, "too many failed logins")
                assert int(response.headers["retry-after"]) >= 1
        assert_error(await login(client, "alice", "correct horse"), 429, "too many failed logins")
        assert await count_rows(client, "SELECT count(*) FROM sessions") == 1  # only the registration's
