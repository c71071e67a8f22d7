"""A request that needs an instance which does not answer gets a 503 to retry, never a 500."""

from __future__ import annotations

import functools

import pytest

from instamini.cluster.errors import RpcUnavailable
from instamini.stores.meta import shard_for_text
from tests.accounts.helpers import in_app, register_on_shard, state_of
from tests.cluster.conftest import instance_a  # noqa: F401 (fixture)
from tests.cluster.harness import SHARDS
from tests.posts.helpers import make_post


async def test_a_profile_owned_by_a_down_instance_is_503_with_retry_after(instance_a):
    # Instance "b" (shards 2-3) is in the map but nothing listens on its port.
    name = next(f"bea{n}" for n in range(1000) if shard_for_text(f"bea{n}", SHARDS) >= 2)
    answer = await instance_a.get(f"/api/v1/users/{name}")
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert "unavailable" in answer.json()["detail"] and "'b'" in answer.json()["detail"]
    assert (await instance_a.get("/healthz")).status_code == 200  # and the instance itself is fine


async def test_a_page_leaves_out_the_posts_of_a_down_instance_and_a_lookup_does_not(instance_a):
    """Hydrating a page asks each owner for its posts (`owned_batch(partial=True)`): the posts
    of an owner that does not answer are left out and counted, and the rest is shown. A plain
    lookup of the same posts still fails with RpcUnavailable (a 503), never "no such post"."""
    amy = await register_on_shard(instance_a, 0, "amy")
    post = await make_post(instance_a, amy, "still here")
    state = state_of(instance_a)
    on_b = state.ids.next_id(2)  # a post id of b's shards (nothing listens for b)
    views = in_app(instance_a, state.posts.hydrate, int(amy.id), [on_b, int(post["id"])])
    assert [view.record.id for view in views] == [int(post["id"])]
    assert state.cluster.client.metrics.partial_results == 1
    with pytest.raises(RpcUnavailable):
        in_app(instance_a, functools.partial(state.posts.load_cards, [on_b, int(post["id"])]))
    metrics = (await instance_a.get("/metrics")).text
    assert "instamini_rpc_client_partial_results_total 1.0" in metrics
