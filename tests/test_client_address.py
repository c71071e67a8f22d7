"""`[server] trusted_proxies`: X-Forwarded-For names the client only when a trusted proxy sent it."""

from __future__ import annotations

import httpx
import pytest

from instamini.bench.server import ServerProcess
from instamini.client_address import client_behind, parse_networks
from instamini.config import ConfigError, decode_config

PROXIES = parse_networks(["127.0.0.1", "10.0.0.0/8"])


@pytest.mark.parametrize(
    ("peer", "header", "client"),
    [
        ("127.0.0.1", "203.0.113.7", "203.0.113.7"),  # nginx on the same host
        ("127.0.0.1", "198.51.100.1, 203.0.113.7, 10.1.2.3", "203.0.113.7"),  # a spoofed hop left of the real one
        ("127.0.0.1", "10.9.9.9, 10.1.2.3", "10.9.9.9"),  # every hop ours: the first
        ("127.0.0.1", "not-an-address", "127.0.0.1"),  # nothing believable
        ("127.0.0.1", None, "127.0.0.1"),
        ("203.0.113.9", "198.51.100.1", "203.0.113.9"),  # not a proxy of ours: its header means nothing
        ("127.0.0.1", "2001:db8::1", "2001:db8::1"),
    ],
)
def test_the_client_is_the_first_untrusted_hop_from_the_right(peer, header, client):
    assert client_behind(peer, header, PROXIES) == client


def test_a_bad_proxy_entry_is_refused_with_its_name():
    with pytest.raises(ConfigError, match="trusted_proxies: '10.0.0.300' is not an address or a network"):
        decode_config('[server]\ntrusted_proxies = ["10.0.0.300"]\n')


def test_behind_a_trusted_proxy_each_person_has_their_own_sign_up_budget(tmp_path):
    """A real server with a sign-up limit of 2 a minute per address and 127.0.0.1 trusted:
    two people behind it are limited apart; a third request naming no one shares the proxy's."""
    config = tmp_path / "proxy.toml"
    config.write_text(
        '[server]\ntrusted_proxies = ["127.0.0.1"]\n[accounts]\nargon2_time_cost = 1\nargon2_memory_kib = 64\n'
        "registrations_per_address_per_minute = 2\n"
    )

    def sign_up(client: httpx.Client, name: str, forwarded: str | None) -> int:
        headers = {"X-Forwarded-For": forwarded} if forwarded else {}
        body = {"username": name, "password": "long enough pw"}
        return client.post("/api/v1/accounts", json=body, headers=headers).status_code

    with ServerProcess(config, tmp_path / "data") as server, httpx.Client(base_url=server.url, timeout=30) as client:
        assert [sign_up(client, f"ann{n}", "203.0.113.1") for n in range(3)] == [201, 201, 429]
        assert [sign_up(client, f"bob{n}", "203.0.113.2") for n in range(3)] == [201, 201, 429]
        assert [sign_up(client, f"cat{n}", None) for n in range(3)] == [201, 201, 429]  # the proxy's own
