"""Two-instance cluster configs, an in-process instance "a", and a client that calls it as instance "b"."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import msgspec
import pytest
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.cluster import RpcClient, Topology
from instamini.cluster.auth import Signer
from instamini.cluster.schemas import RpcRequest, WireCall
from tests.conftest import make_config

SECRET = "a shared secret for the tests"
URLS = {"a": "http://127.0.0.1:18001", "b": "http://127.0.0.1:18002"}  # never dialled: ASGI transports


def cluster_toml(local: str, shards: dict[str, str], *, urls: dict[str, str] = URLS, secret: str | None = SECRET) -> str:
    entries = ", ".join(f'{{name = "{name}", url = "{urls[name]}", shards = "{ranges}"}}' for name, ranges in shards.items())
    text = f'\n[cluster]\ninstance = "{local}"\ninstances = [{entries}]\n'
    return text + (f'secret = "{secret}"\n' if secret is not None else "")


TWO = {"a": "0-1", "b": "2-3"}  # the test config has 4 shards


def topology_of(local: str, shards: dict[str, str] = TWO, **options) -> Topology:
    config = make_config(Path("unused"), cluster_toml(local, shards, **options))
    return Topology.from_config(config.cluster, config.meta.shards)


def encode_batch(*calls: tuple[str, object]) -> bytes:
    return msgspec.msgpack.encode(
        RpcRequest([WireCall(name, msgspec.Raw(msgspec.msgpack.encode(args))) for name, args in calls])
    )


def signed(body: bytes, *, caller: str = "b", target: str = "a", secret: str = SECRET, **options) -> dict[str, str]:
    return Signer(secret.encode(), caller).headers(target, "POST", "/internal/rpc", body, **options)


@pytest.fixture
async def instance_a(tmp_path) -> AsyncIterator[AsyncTestClient]:
    """The app as instance "a" (shards 0-1) of a two-instance cluster."""
    config = make_config(tmp_path / "a", cluster_toml("a", TWO))
    async with AsyncTestClient(create_app(config)) as client:
        yield client


@pytest.fixture
async def client_b(instance_a) -> AsyncIterator[RpcClient]:
    """An RpcClient of instance "b" whose requests reach instance_a in-process."""
    client = RpcClient(topology_of("b"), SECRET, transport=httpx.ASGITransport(app=instance_a.app))
    yield client
    await client.aclose()
