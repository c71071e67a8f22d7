"""POST /internal/rpc lets in only requests signed with the cluster secret, once, and recently."""

from __future__ import annotations

import time

import msgspec
import pytest
from litestar.testing import AsyncTestClient

from instamini.app import create_app
from instamini.cluster.auth import CALLER, NONCE, SIGNATURE, TIMESTAMP, NonceCache
from instamini.cluster.schemas import RpcResponse
from tests.conftest import make_config

from .conftest import encode_batch, signed

PING = encode_batch(("cluster.ping", None))


async def post(client: AsyncTestClient, body: bytes, headers: dict[str, str]):
    return await client.post("/internal/rpc", content=body, headers={"content-type": "application/msgpack", **headers})


async def test_a_signed_request_runs(instance_a):
    response = await post(instance_a, PING, signed(PING))
    assert response.status_code == 200 and response.headers["content-type"] == "application/msgpack"
    (result,) = msgspec.msgpack.decode(response.content, type=RpcResponse).results
    ping = msgspec.msgpack.decode(result.value)
    assert ping["instance"] == "a" and ping["shards"] == [0, 1] and abs(ping["time"] - time.time()) < 60


async def test_wrong_secret_is_refused(instance_a):
    response = await post(instance_a, PING, signed(PING, secret="another secret of the same length"))
    assert response.status_code == 401 and "bad signature" in response.json()["detail"]


async def test_tampered_body_is_refused(instance_a):
    other = encode_batch(("meta.read", {"shard": 0, "sql": "SELECT 1"}))
    response = await post(instance_a, other, signed(PING))
    assert response.status_code == 401 and "bad signature" in response.json()["detail"]


async def test_request_meant_for_another_instance_is_refused(instance_a):
    response = await post(instance_a, PING, signed(PING, target="b"))
    assert response.status_code == 401


@pytest.mark.parametrize("offset_seconds", [-31, +31])
async def test_stale_or_future_timestamp_is_refused(instance_a, offset_seconds):
    when = int((time.time() + offset_seconds) * 1000)
    response = await post(instance_a, PING, signed(PING, timestamp_ms=when))
    assert response.status_code == 401 and "stale request" in response.json()["detail"]


async def test_replayed_nonce_is_refused(instance_a):
    headers = signed(PING)
    assert (await post(instance_a, PING, headers)).status_code == 200
    again = await post(instance_a, PING, headers)
    assert again.status_code == 401 and "replayed" in again.json()["detail"]


@pytest.mark.parametrize("missing", [CALLER, TIMESTAMP, NONCE, SIGNATURE])
async def test_missing_header_is_refused(instance_a, missing):
    headers = {name: value for name, value in signed(PING).items() if name != missing}
    response = await post(instance_a, PING, headers)
    assert response.status_code == 401 and f"missing {missing}" in response.json()["detail"]


async def test_malformed_headers_are_refused(instance_a):
    for name, value in [(TIMESTAMP, "yesterday"), (NONCE, "not hex!"), (SIGNATURE, "00"), (CALLER, "Bad Name")]:
        response = await post(instance_a, PING, {**signed(PING), name: value})
        assert response.status_code == 401, (name, response.text)


async def test_unknown_caller_is_forbidden(instance_a):
    response = await post(instance_a, PING, signed(PING, caller="zed"))
    assert response.status_code == 403 and "'zed' is not an instance" in response.json()["detail"]


@pytest.mark.parametrize(
    "body", [b"\xc1 not msgpack", msgspec.msgpack.encode({"calls": "ping"}), msgspec.msgpack.encode({"calls": []}),
             msgspec.msgpack.encode({"calls": [[1, None]]}), msgspec.msgpack.encode([1, 2]), b""],
)
async def test_malformed_body_is_a_400(instance_a, body):
    response = await post(instance_a, body, signed(body))
    assert response.status_code == 400 and "not a msgpack RPC batch" in response.json()["detail"]


async def test_without_a_secret_every_call_is_refused(tmp_path):
    # The single-instance default: no secret, so nothing can be signed and nothing runs.
    async with AsyncTestClient(create_app(make_config(tmp_path / "data"))) as client:
        for headers in ({}, signed(PING, target="main", caller="main")):
            response = await post(client, PING, headers)
            assert response.status_code == 403 and "internal RPC is off" in response.json()["detail"]


async def test_route_is_outside_the_public_schema_and_session_auth(instance_a):
    schema = (await instance_a.get("/schema/openapi.json")).json()
    assert "/internal/rpc" not in schema["paths"]
    # A session token (valid or not) means nothing here: the RPC has its own authentication.
    response = await post(instance_a, PING, {**signed(PING), "Authorization": "Bearer not-a-session"})
    assert response.status_code == 200


def test_seen_nonces_are_forgotten_once_out_of_the_window():
    nonces = NonceCache()
    for index in range(1000):
        assert nonces.add(f"n{index}", expires_at=100.0 + index / 100, now=100.0)
    assert not nonces.add("n5", expires_at=200.0, now=100.0)
    assert len(nonces) == 1000
    assert nonces.add("fresh", expires_at=200.0, now=105.0)  # everything else expired by 110
    assert len(nonces) == 1 + 1000 - 500
    assert nonces.add("later", expires_at=300.0, now=150.0) and len(nonces) == 2
