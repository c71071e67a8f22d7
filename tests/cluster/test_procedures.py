"""Procedures answer typed results and typed errors, never an HTTP 500, through the real route."""

from __future__ import annotations

import msgspec
import pytest

from instamini.cluster import NotMyShard, ProcedureError, RpcCall, RpcCallFailed
from instamini.cluster.procedures import PingResult
from instamini.errors import NotFound


class Pair(msgspec.Struct):
    left: int
    right: int


@pytest.fixture
def procedures(instance_a):
    registry = instance_a.app.state.cluster.procedures

    @registry.procedure("test.add")
    async def add(pair: Pair) -> int:
        return pair.left + pair.right

    @registry.procedure("test.crash")
    async def crash() -> None:
        raise ValueError("a bug in a handler")

    @registry.procedure("test.typed")
    async def typed(code: str) -> None:
        raise ProcedureError(code, "the handler chose this", {"why": code})

    @registry.procedure("test.missing")
    async def missing() -> None:
        raise NotFound("no such post")

    @registry.procedure("test.unencodable")
    async def unencodable() -> object:
        return object()

    return registry


async def test_ping_and_meta_read(client_b):
    ping = await client_b.call("a", "cluster.ping", result_type=PingResult, idempotent=True)
    assert ping.instance == "a" and ping.shards == [0, 1] and ping.map_version == 1
    rows = await client_b.call("a", "meta.read", {"shard": 1, "sql": "SELECT ? + 1, ?, ?", "params": [41, "x", b"\x00"]})
    assert rows == [[42, "x", b"\x00"]]
    tables = await client_b.call("a", "meta.read", {"shard": 0, "sql": "SELECT module FROM schema_versions"})
    assert ["counters"] in tables


async def test_meta_read_of_a_shard_owned_elsewhere_names_the_owner(client_b):
    with pytest.raises(RpcCallFailed) as error:
        await client_b.call("a", "meta.read", {"shard": 3, "sql": "SELECT 1"})
    assert error.value.code == "not_my_shard" and error.value.data == {"shard": 3, "owner": "b"}
    assert "instance 'b' owns it" in error.value.detail


@pytest.mark.parametrize(
    ("args", "code"),
    [
        ({"shard": 0, "sql": "SELEKT 1"}, "sql_error"),
        ({"shard": 0, "sql": "DELETE FROM schema_versions"}, "sql_error"),  # the reader is read-only
        ({"shard": 0, "sql": "SELECT ?", "params": [[1, 2]]}, "sql_error"),
        ({"shard": 9, "sql": "SELECT 1"}, "bad_args"),
        ({"shard": "zero", "sql": "SELECT 1"}, "bad_args"),
        ({"shard": 0}, "bad_args"),
        ({"shard": 0, "sql": "SELECT 1", "extra": 1}, "bad_args"),
        (None, "bad_args"),
    ],
)
async def test_meta_read_refuses_bad_input_with_a_code(client_b, args, code):
    with pytest.raises(RpcCallFailed) as error:
        await client_b.call("a", "meta.read", args)
    assert error.value.code == code


async def test_handler_errors_come_back_typed(client_b, procedures):
    assert await client_b.call("a", "test.add", Pair(2, 3)) == 5
    cases = [
        ("nope", None, "unknown_procedure", "no procedure 'nope'"),
        ("test.add", {"left": 1}, "bad_args", "right"),
        ("test.crash", None, "internal", "ValueError: a bug in a handler"),
        ("test.typed", "quota", "quota", "the handler chose this"),
        ("test.missing", None, "not_found", "no such post"),
        ("test.unencodable", None, "internal", "msgpack cannot carry"),
    ]
    for procedure, args, code, words in cases:
        with pytest.raises(RpcCallFailed) as error:
            await client_b.call("a", procedure, args)
        assert error.value.code == code and words in error.value.detail, (procedure, error.value)
    with pytest.raises(RpcCallFailed) as error:
        await client_b.call("a", "test.typed", "quota")
    assert error.value.data == {"why": "quota"}
    served = procedures.outcomes
    assert served[("test.crash", "internal")] == 1 and served[("(unknown)", "unknown_procedure")] == 1


async def test_a_failing_call_fails_alone_in_its_batch(client_b, procedures):
    results = await client_b.batch("a", [RpcCall("test.add", Pair(1, 1)), RpcCall("test.crash"),
                                         RpcCall("test.add", Pair(2, 2))], return_errors=True)
    assert results[0] == 2 and results[2] == 4
    assert isinstance(results[1], RpcCallFailed) and results[1].code == "internal"
    with pytest.raises(RpcCallFailed, match="test.crash"):
        await client_b.batch("a", [RpcCall("test.add", Pair(1, 1)), RpcCall("test.crash")])


async def test_result_of_the_wrong_type_is_a_typed_error(client_b):
    with pytest.raises(RpcCallFailed) as error:
        await client_b.call("a", "cluster.ping", result_type=int)
    assert error.value.code == "bad_result"


async def test_registering_twice_or_a_plain_function_is_refused(procedures):
    with pytest.raises(ValueError, match="already registered"):
        procedures.register("test.add", lambda: None)
    with pytest.raises(TypeError, match="async"):
        procedures.register("test.sync", lambda: None)


async def test_not_my_shard_is_a_procedure_error():
    error = NotMyShard(3, "b")
    assert isinstance(error, ProcedureError) and error.code == "not_my_shard"


async def test_metrics_count_calls_on_both_sides(instance_a, client_b):
    await client_b.call("a", "cluster.ping")
    with pytest.raises(RpcCallFailed):
        await client_b.call("a", "nope")
    assert client_b.metrics.requests["a"] == 2 and client_b.metrics.calls["a"] == 2
    assert client_b.metrics.errors[("a", "procedure")] == 1
    text = (await instance_a.get("/metrics")).text
    assert 'instamini_rpc_server_calls_total{outcome="ok",procedure="cluster.ping"} 1.0' in text
    assert 'instamini_rpc_server_calls_total{outcome="unknown_procedure",procedure="(unknown)"} 1.0' in text
