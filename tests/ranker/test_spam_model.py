"""The spam model alone: tokens, learning, and the link and rate signals."""

from __future__ import annotations

import math

from instamini.ranker import spam_seed
from instamini.ranker.spam import (
    LINK_WEIGHT,
    NUMBER_TOKEN,
    SHOUT_TOKEN,
    URL_TOKEN,
    NaiveBayes,
    any_spam,
    count_links,
    sigmoid,
    spam_score,
    tokenize,
)


def seeded() -> NaiveBayes:
    model = NaiveBayes()
    for text in spam_seed.SPAM:
        model.learn(text, True)
    for text in spam_seed.HAM:
        model.learn(text, False)
    return model


def test_tokenizer_lowercases_and_collapses_links_and_numbers():
    assert tokenize("FREE followers!!! click http://x.example/win?a=1 now 10000") == [
        "free", "followers", SHOUT_TOKEN, "click", URL_TOKEN, "now", NUMBER_TOKEN
    ]
    assert tokenize("see www.example.com, ok") == ["see", URL_TOKEN, "ok"]
    assert tokenize("word " * 100, limit=5) == ["word"] * 5
    assert len(tokenize("word " * 100)) == 64


def test_tokenizer_is_unicode_aware():
    assert tokenize("Straße ÉTÉ Москва 東京 café_au_lait") == ["strasse", "été", "москва", "東京", "café", "au", "lait"]
    assert tokenize("") == [] and tokenize("  ... ?? ") == []


def test_empty_model_and_empty_text_are_even():
    assert NaiveBayes().log_odds("anything at all") == 0.0
    model = seeded()
    assert model.log_odds("") == 0.0  # as many spam as ordinary seed lines: an even prior
    assert spam_score(model, "", rate=1, rate_limit=10).probability == 0.5


def test_the_seed_separates_obvious_cases():
    model = seeded()
    assert model.log_odds("free followers, click here") > 3
    assert model.log_odds("lovely sunset, see you tomorrow") < -3
    assert model.log_odds("zxqv unheardof") == 0.0  # unknown words say nothing


def test_learning_moves_the_score():
    model = seeded()
    text = "amazing crypto airdrop for everyone"
    before = model.log_odds(text)
    for _ in range(3):
        counted = model.learn(text, True)
    assert counted == {"amazing": 1, "crypto": 1, "airdrop": 1, "for": 1, "everyone": 1}
    assert model.log_odds(text) > before + 2
    assert model.documents == [len(spam_seed.SPAM) + 3, len(spam_seed.HAM)]
    assert model.token_counts["airdrop"] == [3, 0]
    for _ in range(8):
        model.learn(text, False)
    assert model.log_odds(text) < before + 2


def test_links_and_rate_raise_the_probability():
    model = seeded()
    text = "have a look"
    plain = spam_score(model, text, rate=1, rate_limit=10)
    linked = spam_score(model, text + " https://a.example https://b.example", rate=1, rate_limit=10)
    assert count_links("https://a.example and www.b.example and c.example") == 2
    assert math.isclose(linked.links, 2 * LINK_WEIGHT) and linked.probability > plain.probability
    assert plain.rate == 0.0 and spam_score(model, text, rate=10, rate_limit=10).rate == 0.0  # at the limit: nothing
    fast = spam_score(model, text, rate=40, rate_limit=10)
    assert fast.rate > 0 and fast.probability > 0.9 > plain.probability
    # The parts add up to the probability: a decision can be explained.
    assert math.isclose(fast.probability, sigmoid(fast.text + fast.links + fast.rate))


def test_sigmoid_never_overflows():
    assert sigmoid(10_000) == 1.0 and sigmoid(-10_000) == 0.0 and sigmoid(0) == 0.5


async def test_any_spam_asks_every_check():
    asked = []

    async def check(verdict, author_id, text):
        asked.append(verdict)
        return verdict

    checks = [lambda a, t: check(True, a, t), lambda a, t: check(False, a, t)]
    assert await any_spam(checks, 1, "x") is True and asked == [True, False]
    assert await any_spam([], 1, "x") is False
