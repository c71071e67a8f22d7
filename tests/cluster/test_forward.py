"""Forwarding a service method to the owner of its shard (cluster/forward.py).

A toy service keeps a note per id. Instance "a" (shards 0-1) runs in-process and serves
its decorated methods; a second copy of the service plays instance "b" (shards 2-3) and
reaches "a" through an RpcClient over an ASGI transport that counts its requests.
"""

from __future__ import annotations

from types import SimpleNamespace

import httpx
import pytest

from instamini.cluster import RpcClient, RpcRegistry
from instamini.cluster.forward import owned, owned_batch, serve_owned
from instamini.errors import Conflict, InvalidInput
from instamini.ids import IdGenerator, shard_of
from tests.cluster.conftest import SECRET, instance_a, topology_of  # noqa: F401 (fixture)

ids = IdGenerator()
ON_A = [ids.next_id(0), ids.next_id(1), ids.next_id(1)]
ON_B = [ids.next_id(2), ids.next_id(3)]


class Notes:
    """A service whose data lives with the shard of each note's id."""

    def __init__(self, cluster, name: str) -> None:
        self.cluster, self.name = cluster, name
        self.notes: dict[int, str] = {}

    @owned(lambda self, note_id, text, *, overwrite=False: shard_of(note_id))
    async def write(self, note_id: int, text: str, *, overwrite: bool = False) -> tuple[str, int]:
        if not text:
            raise InvalidInput("a note needs text")
        if note_id in self.notes and not overwrite:
            raise Conflict(f"note {note_id} exists")
        self.notes[note_id] = text
        return self.name, note_id

    @owned_batch
    async def read(self, note_ids: list[int], prefix: str = "") -> dict[int, str]:
        return {i: prefix + self.notes[i] for i in note_ids if i in self.notes}


class CountingTransport(httpx.ASGITransport):
    requests = 0

    async def handle_async_request(self, request):
        self.requests += 1
        return await super().handle_async_request(request)


@pytest.fixture
async def pair(instance_a):
    """(notes served by a, notes of b, b's transport), a's copy registered as a's procedures."""
    node_a = instance_a.app.state.cluster
    on_a = Notes(node_a, "a")
    assert len(serve_owned(node_a, on_a)) == 2
    transport = CountingTransport(app=instance_a.app)
    client = RpcClient(topology_of("b"), SECRET, transport=transport)
    on_b = Notes(SimpleNamespace(topology=topology_of("b"), client=client, procedures=RpcRegistry()), "b")
    yield on_a, on_b, transport
    await client.aclose()


async def test_a_call_for_another_owners_shard_runs_there_and_one_for_ours_here(pair):
    on_a, on_b, transport = pair
    assert await on_b.write(ON_A[0], "hello") == ("a", ON_A[0])
    assert await on_b.write(ON_B[0], "local") == ("b", ON_B[0])
    assert on_a.notes == {ON_A[0]: "hello"} and on_b.notes == {ON_B[0]: "local"}
    assert transport.requests == 1


async def test_keyword_arguments_and_defaults_travel_too(pair):
    on_a, on_b, _ = pair
    await on_b.write(ON_A[0], "first")
    assert await on_b.write(ON_A[0], "second", overwrite=True) == ("a", ON_A[0])
    assert on_a.notes[ON_A[0]] == "second"


async def test_the_owners_error_is_raised_again_with_its_class_and_detail(pair):
    on_a, on_b, _ = pair
    with pytest.raises(InvalidInput, match="a note needs text"):
        await on_b.write(ON_A[0], "")
    await on_b.write(ON_A[1], "x")
    with pytest.raises(Conflict, match=f"note {ON_A[1]} exists"):
        await on_b.write(ON_A[1], "y")
    assert on_a.notes == {ON_A[1]: "x"}


async def test_a_batch_costs_one_request_per_other_owner_and_merges_in_the_local_share(pair):
    on_a, on_b, transport = pair
    on_a.notes.update({ON_A[0]: "a0", ON_A[1]: "a1", ON_A[2]: "a2"})
    on_b.notes.update({ON_B[0]: "b0", ON_B[1]: "b1"})
    transport.requests = 0
    found = await on_b.read([ON_A[0], ON_B[0], ON_A[1], ON_A[2], ON_B[1], 12345], "> ")
    assert found == {ON_A[0]: "> a0", ON_A[1]: "> a1", ON_A[2]: "> a2", ON_B[0]: "> b0", ON_B[1]: "> b1"}
    assert transport.requests == 1
    assert await on_b.read([ON_B[1]]) == {ON_B[1]: "b1"} and transport.requests == 1  # all local: no request


async def test_on_a_single_instance_the_methods_are_called_directly():
    alone = Notes(None, "alone")
    assert await alone.write(ON_B[0], "x") == ("alone", ON_B[0])
    assert await alone.read([ON_B[0]]) == {ON_B[0]: "x"}
