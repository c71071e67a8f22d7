"""Shared fixtures. Async tests need no marker: `anyio_mode = "auto"` in pyproject.toml."""

from __future__ import annotations

import pytest


@pytest.fixture
def anyio_backend() -> str:
    # The server runs on asyncio only (granian's loop), so the tests do too.
    return "asyncio"


# -- an app on real stores in a temporary directory ----------------------------------

from collections.abc import AsyncIterator  # noqa: E402
from pathlib import Path  # noqa: E402

from litestar.testing import AsyncTestClient  # noqa: E402

from instamini.app import create_app  # noqa: E402
from instamini.config import Config, decode_config  # noqa: E402

REPO = Path(__file__).resolve().parent.parent

# Cheap argon2 parameters: the tests exercise the flow, not the cost (the default
# OWASP parameters are asserted in tests/accounts/test_passwords.py). Rate limits
# are raised because every test client comes from one address.
FAST_TOML = """
[server]
data_dir = "{data_dir}"
[meta]
shards = 4
[accounts]
argon2_time_cost = 1
argon2_memory_kib = 64
logins_per_address_per_minute = 10000
registrations_per_address_per_minute = 10000
[media]
background_jobs = false     # tests step the job loop with state.media.run_once()
uploads_per_address_per_minute = 10000
[feed]
background_jobs = false     # tests step fan-out with state.feed.run_once()
[ranker]
background_jobs = false     # tests step labelling and training with state.ranker_trainer.run_once()
[plugins]
dirs = ["{plugins}"]
"""


def make_config(data_dir: Path, extra: str = "") -> Config:
    text = FAST_TOML.format(data_dir=data_dir, plugins=REPO / "plugins") + extra
    return decode_config(text, source="test config")


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return make_config(tmp_path / "data")


@pytest.fixture
async def client(config: Config) -> AsyncIterator[AsyncTestClient]:
    async with AsyncTestClient(create_app(config)) as test_client:
        api_client_without_cookies(test_client)
        yield test_client


def api_client_without_cookies(test_client: AsyncTestClient) -> AsyncTestClient:
    """Make the client an API client: it keeps no cookies, so a request without the bearer
    header is anonymous even after a registration or login set the browser's session
    cookies (tests/web tests those with clients that keep them)."""
    from http.cookiejar import DefaultCookiePolicy

    test_client.cookies.jar.set_policy(DefaultCookiePolicy(allowed_domains=[]))
    return test_client


class User:
    """A registered test user: `user.headers` authenticates as them."""

    def __init__(self, username: str, token: str, account: dict) -> None:
        self.username, self.token, self.account = username, token, account
        self.id = account["id"]
        self.headers = {"Authorization": f"Bearer {token}"}


async def register(client: AsyncTestClient, username: str, password: str = "correct horse") -> User:
    response = await client.post("/api/v1/accounts", json={"username": username, "password": password})
    assert response.status_code == 201, response.text
    body = response.json()
    client.cookies.clear()  # the session cookies are the browser's; these tests are API clients
    return User(username, body["token"], body["account"])


@pytest.fixture
async def alice(client: AsyncTestClient) -> User:
    return await register(client, "alice")


@pytest.fixture
async def bob(client: AsyncTestClient) -> User:
    return await register(client, "bob")


@pytest.fixture
async def carol(client: AsyncTestClient) -> User:
    return await register(client, "carol")
