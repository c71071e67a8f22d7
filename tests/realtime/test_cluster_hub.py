"""The hub across instances: frames and closes reach sockets held by another instance.

Instance "a" runs in-process (tests/cluster/conftest.py); a ClusterHub playing instance
"b" reaches it through an RpcClient over an ASGI transport. Instance "b" itself is never
started, so what "a" forwards to it shows how a down instance is handled.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from instamini.cluster import RpcRegistry
from instamini.realtime.cluster_hub import ClusterHub
from instamini.realtime.hub import Hub
from tests.messages.helpers import FakeSocket
from tests.cluster.conftest import client_b, instance_a, topology_of  # noqa: F401 (fixtures)


def Socket(user_id: int, digest: bytes = b"token") -> FakeSocket:
    """A connection of user `user_id` opened with the session whose digest is `digest`."""
    return FakeSocket(SimpleNamespace(id=str(user_id), token=digest.decode()))


def hub_of_b(client, **options) -> ClusterHub:
    node = SimpleNamespace(topology=topology_of("b"), client=client, procedures=RpcRegistry())
    return ClusterHub(node, background=False, **options)


async def test_a_cluster_instance_gets_a_cluster_hub(instance_a):
    assert isinstance(instance_a.app.state.hub, ClusterHub)


async def test_a_single_instance_keeps_the_plain_hub(client):  # one app per test: metrics are global
    assert type(client.app.state.hub) is Hub


async def test_a_frame_published_on_b_reaches_the_socket_held_by_a(instance_a, client_b):
    on_a = Socket(user_id=7)
    instance_a.app.state.hub.add(on_a)
    hub_b = hub_of_b(client_b)
    assert hub_b.publish([7, 8], b'{"type":"ping"}') == 0  # nobody is connected to b itself
    assert await hub_b.run_once("a") == 1
    assert on_a.queue.get_nowait() == b'{"type":"ping"}'
    assert hub_b.forwarded == 1 and instance_a.app.state.hub.received == 1


async def test_logging_out_and_suspending_close_the_sockets_on_the_other_instance(instance_a, client_b):
    phone, laptop = Socket(7, b"phone"), Socket(7, b"laptop")
    for socket in (phone, laptop):
        instance_a.app.state.hub.add(socket)
    hub_b = hub_of_b(client_b)
    hub_b.close_session(b"phone", 4401, "logged out")
    await hub_b.run_once("a")
    assert phone.closed == (4401, "logged out") and laptop.closed is None
    hub_b.close_user(7, 4403, "suspended")
    await hub_b.run_once("a")
    assert laptop.closed == (4403, "suspended")


async def test_many_frames_go_in_one_request_per_round_trip(instance_a, client_b):
    on_a = Socket(user_id=7)
    instance_a.app.state.hub.add(on_a)
    hub_b = hub_of_b(client_b, max_batch=4)
    for n in range(6):
        hub_b.publish([7], str(n).encode())
    assert [await hub_b.run_once("a"), await hub_b.run_once("a"), await hub_b.run_once("a")] == [4, 2, 0]
    assert [on_a.queue.get_nowait() for _ in range(6)] == [str(n).encode() for n in range(6)]


async def test_a_down_instance_loses_frames_not_the_publisher_and_its_queue_is_bounded(instance_a):
    # Instance "a" forwarding to "b", which is not running: nothing listens on b's port.
    node_a = instance_a.app.state.cluster
    hub = ClusterHub(node_a, background=False, max_queued=3)
    local = Socket(user_id=7)
    hub.add(local)
    for n in range(5):
        assert hub.publish([7], str(n).encode()) == 1  # delivered here at once, whatever b does
    assert hub.dropped_queue_full == 2
    assert await hub.run_once("b") == 3
    assert hub.forward_failed == 3 and hub.forwarded == 0
    assert local.queue.qsize() == 5


@pytest.mark.parametrize("item", [[["publish", "not ids", b"x"]], [["bogus", 1]], "not a list"])
async def test_malformed_deliveries_are_refused_before_touching_a_socket(instance_a, client_b, item):
    from instamini.cluster import RpcCallFailed

    on_a = Socket(user_id=7)
    instance_a.app.state.hub.add(on_a)
    with pytest.raises(RpcCallFailed) as error:
        await client_b.call("a", "realtime.deliver", item)
    assert error.value.code == "bad_args"
    assert on_a.queue.empty()
