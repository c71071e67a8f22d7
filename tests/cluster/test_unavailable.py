"""A request that needs an instance which does not answer gets a 503 to retry, never a 500."""

from __future__ import annotations

from tests.cluster.conftest import instance_a  # noqa: F401 (fixture)
from tests.cluster.harness import SHARDS
from instamini.stores.meta import shard_for_text


async def test_a_profile_owned_by_a_down_instance_is_503_with_retry_after(instance_a):
    # Instance "b" (shards 2-3) is in the map but nothing listens on its port.
    name = next(f"bea{n}" for n in range(1000) if shard_for_text(f"bea{n}", SHARDS) >= 2)
    answer = await instance_a.get(f"/api/v1/users/{name}")
    assert answer.status_code == 503, answer.text
    assert answer.headers["retry-after"] == "2"
    assert "unavailable" in answer.json()["detail"] and "'b'" in answer.json()["detail"]
    assert (await instance_a.get("/healthz")).status_code == 200  # and the instance itself is fine
