"""Suspended accounts are left out of people search and their posts out of hashtag pages."""

from __future__ import annotations

from tests.conftest import register
from tests.moderation.test_moderation import ADMIN, admin_client, login
from tests.posts.helpers import ids_of, make_post
from tests.search.helpers import register_named, usernames

TAG = "/api/v1/tags/{}/posts"


async def tag_page(client, viewer, order: str) -> list[str]:
    page, _ = await ids_of(client, TAG.format("sunset"), viewer, order=order)
    return page


async def test_suspended_users_vanish_from_search_and_tag_pages_until_unsuspended(config):
    async with await admin_client(config) as client:
        root = await login(client, "root")
        alice = await register_named(client, "alice", "Alice Sunset")
        bob = await register(client, "bob")
        alices = await make_post(client, alice, "#sunset at the beach")
        bobs = await make_post(client, bob, "#sunset again")
        both = [bobs["id"], alices["id"]]

        async def visible(expected_users: list[str], expected_posts: list[str]) -> None:
            for viewer in (bob, None):
                assert await usernames(client, "alice", viewer) == expected_users
                assert await tag_page(client, viewer, "recent") == expected_posts
                assert sorted(await tag_page(client, viewer, "top")) == sorted(expected_posts)

        await visible(["alice"], both)  # the caches are warm before the suspension
        response = await client.post(f"{ADMIN}/users/alice/suspend", headers=root.headers)
        assert response.status_code == 200, response.text
        await visible([], [bobs["id"]])
        assert await usernames(client, "sunset", bob) == []  # nor by display name
        response = await client.post(f"{ADMIN}/users/alice/unsuspend", headers=root.headers)
        assert response.status_code == 200, response.text
        await visible(["alice"], both)
        assert await usernames(client, "sunset", bob) == ["alice"]
