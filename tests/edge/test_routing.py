"""The edge sends a request to its sender's instance first: the shard its session token names."""

from __future__ import annotations

import httpx
import pytest

from instamini.cluster.errors import TopologyError
from instamini.edge.routing import owner_table, sender_shard
from tests.edge.helpers import FakeOrigin, edge_client, edge_settings, metric

A, B = "http://127.0.0.1:8001", "http://127.0.0.1:8002"


@pytest.mark.parametrize(
    ("authorization", "cookie", "shard"),
    [
        ("Bearer 3.abcdef", None, 3),
        ("bearer 12.x", None, 12),
        (None, "other=1; instamini_session=2.abc; instamini_csrf=z", 2),
        ("Bearer 1.abc", "instamini_session=2.abc", 1),  # the header wins, as in accounts/auth.py
        ("Bearer legacytokenwithoutadot", None, None),
        ("Bearer 99999.abc", None, None),  # more digits than a shard has
        ("Basic 1.abc", None, None),
        (None, "xinstamini_session=2.abc", None),
        (None, None, None),
    ],
)
def test_the_shard_is_read_off_the_tokens_prefix(authorization, cookie, shard):
    assert sender_shard(authorization, cookie) == shard


def test_the_table_maps_each_shard_to_its_origin_and_refuses_strangers():
    assert owner_table({A: "0-1", B + "/": "2,3"}, [A, B]) == {0: 0, 1: 0, 2: 1, 3: 1}
    with pytest.raises(ValueError, match="not one of the origins"):
        owner_table({"http://elsewhere:1": "0"}, [A, B])
    with pytest.raises(TopologyError, match="not a shard or a range"):
        owner_table({A: "zero"}, [A, B])


class OneDown(httpx.AsyncBaseTransport):
    """The fake origin behind both URLs, with `down` refusing connections."""

    def __init__(self, origin: FakeOrigin, down: str | None = None) -> None:
        self.origin, self.down = origin, down

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.down and str(request.url).startswith(self.down):
            raise httpx.ConnectError("refused", request=request)
        return await self.origin.transport.handle_async_request(request)


def asked(origin: FakeOrigin) -> list[str]:
    return [f"{r.url.scheme}://{r.url.host}:{r.url.port}" for r in origin.requests]


async def test_requests_go_to_their_senders_origin_first_and_fail_over(tmp_path):
    origin = FakeOrigin()
    settings = edge_settings(tmp_path / "edge", origins=[A, B], shard_owners={A: "0-1", B: "2-3"})
    async with edge_client(settings, OneDown(origin)) as edge:
        assert (await edge.get("/api/v1/feed", headers={"Authorization": "Bearer 3.token"})).status_code == 200
        assert (await edge.get("/api/v1/feed", headers={"Authorization": "Bearer 0.token"})).status_code == 200
        assert (await edge.get("/api/v1/me", headers={"Cookie": "instamini_session=2.token"})).status_code == 200
        assert (await edge.get("/api/v1/search?q=a")).status_code == 200  # no session: origins in turn
        assert asked(origin) == [B, A, B, A]
        assert metric((await edge.get("/metrics")).text, "instamini_edge_routed_to_owner_total") == 3
    origin.requests.clear()
    async with edge_client(settings, OneDown(origin, down=B)) as edge:  # the owner is down: the next one
        answer = await edge.get("/api/v1/feed", headers={"Authorization": "Bearer 2.token"})
        assert answer.status_code == 200 and asked(origin) == [A]
