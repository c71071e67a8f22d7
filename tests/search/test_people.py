"""Searching people: prefixes of usernames and display-name words, ranking, blocks, syntax."""

from __future__ import annotations

from tests.accounts.helpers import assert_error
from tests.search.helpers import SEARCH, register_named, search, usernames
from tests.search.test_query import HOSTILE


async def test_prefix_of_username_and_of_display_name_words(client):
    await register_named(client, "alice", "Alice Liddell")
    await register_named(client, "bob", "Robert Alison")
    await register_named(client, "carol")
    assert await usernames(client, "ali") == ["alice", "bob"]  # username match first
    assert await usernames(client, "lidd") == ["alice"]
    assert await usernames(client, "rob ali") == ["bob"]
    assert await usernames(client, "car") == ["carol"]
    assert await usernames(client, "zed") == []


async def test_exact_username_comes_first(client):
    await register_named(client, "annabel")
    await register_named(client, "ann")
    await register_named(client, "zed", "Ann Other")
    assert (await usernames(client, "ann"))[0] == "ann"
    assert (await usernames(client, "@ANN"))[0] == "ann"


async def test_case_and_diacritics_do_not_matter(client):
    await register_named(client, "zoe1", "Zoë Ångström")
    assert await usernames(client, "ZOE") == ["zoe1"]
    assert await usernames(client, "angs") == ["zoe1"]
    assert await usernames(client, "Ångs") == ["zoe1"]


async def test_one_typo_at_the_end_still_matches(client):
    await register_named(client, "alice")
    assert await usernames(client, "alicr") == ["alice"]
    assert await usernames(client, "alx") == []  # short words are not loosened


async def test_rename_is_indexed(client):
    user = await register_named(client, "dave", "Dave")
    response = await client.patch("/api/v1/me", headers=user.headers, json={"display_name": "Captain Nemo"})
    assert response.status_code == 200, response.text
    assert await usernames(client, "nemo") == ["dave"]
    assert await usernames(client, "dave") == ["dave"]  # the username still matches


async def test_blocked_users_are_left_out_both_ways(client, alice, bob, carol):
    response = await client.post(f"/api/v1/users/{bob.username}/block", headers=alice.headers)
    assert response.status_code == 200, response.text
    assert await usernames(client, "bob", alice) == []
    assert await usernames(client, "alice", bob) == []
    assert await usernames(client, "bob", carol) == ["bob"]
    assert await usernames(client, "bob") == ["bob"]  # logged out


async def test_results_are_capped(client):
    for i in range(12):
        await register_named(client, f"sam{i}")
    assert len(await usernames(client, "sam")) == 10


async def test_query_syntax_is_text(client, alice, bob):
    for q in HOSTILE + ["bob OR alice", 'bo"b', "NEAR(bob alice)", "b*", "(bob)", "-bob", "^bob", "bob:", "a" * 64]:
        body = await search(client, q)
        assert set(body) == {"users", "hashtags"}, q


async def test_or_is_a_word_not_an_operator(client, alice, bob):
    assert await usernames(client, "bob OR alice") == []
    assert await usernames(client, "-bob") == ["bob"]
    assert await usernames(client, "bob*") == ["bob"]


async def test_empty_and_punctuation_queries_are_empty(client, alice):
    for q in ["", "   ", "***", '"', "🙂"]:
        assert await search(client, q) == {"users": [], "hashtags": []}
    response = await client.get(SEARCH)
    assert response.json() == {"users": [], "hashtags": []}


async def test_over_long_query_is_refused(client):
    assert_error(await client.get(SEARCH, params={"q": "a" * 65}), 400, "64")
    assert (await client.get(SEARCH, params={"q": "a" * 64})).status_code == 200
    # Past the ceiling of the setting (200), the parameter itself refuses it, as the OpenAPI says.
    assert_error(await client.get(SEARCH, params={"q": "a" * 201}), 400, "q", "length <= 200")
