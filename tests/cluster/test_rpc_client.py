"""RpcClient: batches in order, one request per instance, retries only where they are safe.

The other instances are RpcServers (the real authentication and dispatch, without
Litestar) behind an httpx.MockTransport that counts requests and can fail on cue.
"""

from __future__ import annotations

import asyncio
from collections import Counter

import httpx
import pytest

from instamini.cluster import (
    RpcCall, RpcCallFailed, RpcClient, RpcError, RpcProtocolError, RpcRefused, RpcRegistry, RpcUnavailable,
    TopologyError,
)
from instamini.cluster.auth import Verifier
from instamini.cluster.rpc_server import RpcServer

from .conftest import SECRET, topology_of

THREE = {"a": "0", "b": "1-2", "c": "3"}
URLS = {"a": "http://127.0.0.1:18001", "b": "http://127.0.0.1:18002", "c": "http://127.0.0.1:18003"}


def echo_registry(name: str) -> RpcRegistry:
    registry = RpcRegistry()
    registry.runs = Counter()

    @registry.procedure("echo")
    async def echo(value: object) -> list:
        registry.runs["echo"] += 1
        return [name, value]

    return registry


class FakeCluster:
    """Instances b and c, reached through one mock transport; `fail[name]` lists what the next requests meet."""

    def __init__(self) -> None:
        self.registries = {name: echo_registry(name) for name in ("b", "c")}
        self.servers = {
            name: RpcServer(topology_of(name, THREE, urls=URLS), registry, Verifier(SECRET.encode(), 30))
            for name, registry in self.registries.items()
        }
        self.requests: Counter[str] = Counter()
        self.fail: dict[str, list] = {"b": [], "c": []}
        self.by_port = {int(url.rsplit(":", 1)[1]): name for name, url in URLS.items()}

    async def handle(self, request: httpx.Request) -> httpx.Response:
        name = self.by_port[request.url.port]
        self.requests[name] += 1
        trouble = self.fail[name].pop(0) if self.fail[name] else None
        if trouble == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if trouble == "read_timeout":
            raise httpx.ReadTimeout("no answer", request=request)
        if trouble == 503:
            return httpx.Response(503, json={"status_code": 503, "detail": "starting up"})
        if trouble == "garbage":
            return httpx.Response(200, content=b"\x01\x02")
        status, content, media_type = await self.servers[name].handle(
            "POST", request.url.path, request.headers, request.content
        )
        if trouble == "answer_lost":  # it ran; a proxy on the way failed
            return httpx.Response(502, text="bad gateway")
        return httpx.Response(status, content=content, headers={"content-type": media_type})


@pytest.fixture
def fake() -> FakeCluster:
    return FakeCluster()


@pytest.fixture
async def client(fake):
    slept: list[float] = []

    async def sleep(seconds: float) -> None:  # backoff is recorded, not waited for
        slept.append(seconds)

    client = RpcClient(topology_of("a", THREE, urls=URLS), SECRET, retries=3, backoff=0.1, local=echo_registry("a"),
                       transport=httpx.MockTransport(fake.handle), sleep=sleep, jitter=lambda: 0.0)
    client.slept = slept
    yield client
    await client.aclose()


async def test_batch_is_one_request_with_results_in_order(client, fake):
    results = await client.batch("b", [RpcCall("echo", n) for n in range(20)])
    assert results == [["b", n] for n in range(20)]
    assert fake.requests == {"b": 1} and client.metrics.requests["b"] == 1 and client.metrics.calls["b"] == 20


async def test_fan_out_sends_one_request_per_instance_and_keeps_the_order(client, fake):
    owners = ["a", "b", "c", "b", "a", "c", "c", "b"] * 4
    results = await client.fan_out([(owner, RpcCall("echo", index)) for index, owner in enumerate(owners)])
    assert results == [[owner, index] for index, owner in enumerate(owners)]
    assert fake.requests == {"b": 1, "c": 1}  # and this instance's own calls ran in-process, over no HTTP
    assert client.metrics.requests["a"] == 0 and client.local.runs["echo"] == 8
    assert await client.fan_out([]) == []


async def test_fan_out_asks_every_instance_at_once(client, fake):
    arrived = {"b": asyncio.Event(), "c": asyncio.Event()}
    for name, other in (("b", "c"), ("c", "b")):
        registry = fake.registries[name]

        async def meet(_: object, name=name, other=other) -> str:
            arrived[name].set()
            await asyncio.wait_for(arrived[other].wait(), 5)  # one after the other would never meet
            return name

        registry.register("meet", meet)
    assert await client.fan_out([("b", RpcCall("meet")), ("c", RpcCall("meet"))]) == ["b", "c"]


async def test_an_unreachable_instance_fails_only_its_own_calls(client, fake):
    fake.fail["c"] = ["connect"] * 4
    results = await client.fan_out([("b", RpcCall("echo", 1)), ("c", RpcCall("echo", 2)), ("b", RpcCall("echo", 3))],
                                   return_errors=True)
    assert results[0] == ["b", 1] and results[2] == ["b", 3] and isinstance(results[1], RpcUnavailable)
    fake.fail["c"] = ["connect"] * 4
    with pytest.raises(RpcUnavailable, match="'c'"):
        await client.fan_out([("b", RpcCall("echo", 1)), ("c", RpcCall("echo", 2))])


async def test_idempotent_call_is_retried_after_5xx_with_exponential_backoff(client, fake):
    fake.fail["b"] = [503, 503]
    assert await client.call("b", "echo", "x", idempotent=True) == ["b", "x"]
    assert fake.requests["b"] == 3 and client.metrics.retries["b"] == 2
    assert client.slept == [0.05, 0.1]  # 0.1 * 2**n, times 0.5 + jitter/2 with jitter 0


async def test_retries_stop_after_the_configured_number(client, fake):
    fake.fail["b"] = [503] * 10
    with pytest.raises(RpcUnavailable, match="answered 503: starting up"):
        await client.call("b", "echo", "x", idempotent=True)
    assert fake.requests["b"] == 4 and client.slept == [0.05, 0.1, 0.2]
    assert client.metrics.errors[("b", "unavailable")] == 1


async def test_non_idempotent_call_is_not_retried_after_5xx_or_timeout(client, fake):
    fake.fail["b"] = [503, "read_timeout"]
    with pytest.raises(RpcUnavailable):
        await client.call("b", "echo", "x")
    with pytest.raises(RpcUnavailable, match="no answer within"):
        await client.call("b", "echo", "x")
    assert fake.requests["b"] == 2 and client.slept == []


async def test_timeout_is_retried_for_an_idempotent_call(client, fake):
    fake.fail["b"] = ["read_timeout"]
    assert await client.call("b", "echo", 1, idempotent=True) == ["b", 1]
    assert fake.requests["b"] == 2


async def test_a_connection_never_opened_is_retried_for_any_call(client, fake):
    fake.fail["b"] = ["connect", "connect"]
    assert await client.call("b", "echo", 1) == ["b", 1]  # nothing was sent, so nothing ran twice
    assert fake.requests["b"] == 3 and fake.registries["b"].runs["echo"] == 1


async def test_a_retry_is_signed_afresh(client, fake):
    # The first attempt ran and its answer was lost: the retry must not look like a replay.
    fake.fail["b"] = ["answer_lost"]
    assert await client.call("b", "echo", 1, idempotent=True) == ["b", 1]
    assert fake.registries["b"].runs["echo"] == 2  # ran twice: why only idempotent calls are retried


async def test_4xx_and_procedure_errors_are_never_retried(client, fake):
    wrong = RpcClient(client.topology, "another secret of the same length", transport=httpx.MockTransport(fake.handle))
    with pytest.raises(RpcRefused) as refused:
        await wrong.call("b", "echo", 1, idempotent=True)
    assert refused.value.status_code == 401 and "bad signature" in refused.value.detail
    assert fake.requests["b"] == 1
    with pytest.raises(RpcCallFailed, match="unknown_procedure"):
        await client.call("b", "nope", idempotent=True)
    assert fake.requests["b"] == 2 and client.slept == []
    await wrong.aclose()


async def test_a_bad_answer_is_a_protocol_error(client, fake):
    fake.fail["b"] = ["garbage"]
    with pytest.raises(RpcProtocolError):
        await client.call("b", "echo", 1)


async def test_batches_have_a_size_limit(client, fake):
    assert await client.batch("b", []) == [] and fake.requests == {}
    with pytest.raises(ValueError, match="at most 1000"):
        await client.batch("b", [RpcCall("echo", 1)] * 1001)


async def test_without_a_secret_only_local_calls_work():
    local = echo_registry("a")
    client = RpcClient(topology_of("a", THREE, urls=URLS), None, local=local)
    assert await client.call("a", "echo", 1) == ["a", 1]
    with pytest.raises(RpcError, match="no \\[cluster\\] secret"):
        await client.call("b", "echo", 1)
    assert client._http is None


async def test_an_unknown_instance_fails_before_anything_is_sent(client, fake):
    with pytest.raises(TopologyError, match="no instance is named 'zed'"):
        await client.fan_out([("b", RpcCall("echo", 1)), ("zed", RpcCall("echo", 2))])
    with pytest.raises(TopologyError):
        await client.call("zed", "echo")
    assert fake.requests == {}
