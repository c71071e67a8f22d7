"""The most-followed people are found by a short prefix even when the full-text pool is crowded."""

from __future__ import annotations

import time

from tests.accounts.helpers import in_app, state_of
from tests.feed.helpers import follow
from tests.search.helpers import register_named, usernames


async def test_notable_people_match_words_of_their_names_most_followed_first(client):
    star = await register_named(client, "zz_star", "Ada Lovelace")
    rising = await register_named(client, "zz_rising")
    fans = [await register_named(client, f"fan{i}") for i in range(3)]
    for fan in fans:
        await follow(client, fan, star)
    await follow(client, fans[0], rising)
    notable = state_of(client).search.notable
    assert notable.matching(["zz"]) == [], "loaded at start, before anyone followed"
    in_app(client, notable.refresh)
    assert notable.matching(["zz"]) == [int(star.id), int(rising.id)]
    assert notable.matching(["lovel", "ada"]) == [int(star.id)]
    assert notable.matching(["fan"]) == []  # nobody follows the fans


async def test_an_old_list_refreshes_itself_in_the_background(client):
    star = await register_named(client, "zz_star")
    fan = await register_named(client, "fan")
    await follow(client, fan, star)
    notable = state_of(client).search.notable
    notable.loaded_at = time.monotonic() - 3600

    async def search_then_wait():
        first = notable.matching(["zz"])  # answers with the old list, starts a refresh
        await notable._refreshing
        return first, notable.matching(["zz"])

    assert in_app(client, search_then_wait) == ([], [int(star.id)])


async def test_search_results_include_notable_and_exact_matches(client):
    star = await register_named(client, "qstar")
    await register_named(client, "qq")
    fans = [await register_named(client, f"fan{i}") for i in range(2)]
    for fan in fans:
        await follow(client, fan, star)
    in_app(client, state_of(client).search.notable.refresh)
    found = await usernames(client, "q")
    assert found[0] == "qstar"  # the most followed first, for a prefix that fits everyone
    assert (await usernames(client, "qq"))[0] == "qq"
