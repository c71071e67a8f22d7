"""Is this comment or message spam? A naive Bayes text model plus two behaviour signals.

The idea: spam has a vocabulary ("free", "followers", "click", a link) and a rhythm (many
texts a minute). The text part is a multinomial naive Bayes model: for every word, how
often it was seen in spam and in ordinary text; a text's log-odds of being spam is the
sum, over its words, of log P(word | spam) - log P(word | ordinary), plus the prior
log-odds of the two classes. It learns one text at a time (a report that an admin
resolves is a label), so it is trained online and can be explained word by word. Links
and the author's rate are added as two more terms of the same log-odds, and a sigmoid
turns the sum into a probability:

    p = sigmoid(text_log_odds + LINK_WEIGHT * links + RATE_WEIGHT * max(0, rate - limit) / limit)

Cost: scoring is a dictionary lookup per word (at most MAX_TOKENS words); the model is
one pair of counts per distinct word ever learned, held in memory. Pure: no I/O here
(the moderation module's SpamService loads, stores and trains it).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence

import msgspec

MAX_TOKENS = 64  # a long text says nothing more about spam than its first words, and costs more
URL_TOKEN, NUMBER_TOKEN, SHOUT_TOKEN = "<url>", "<num>", "<!!>"
# Log-odds added per link, and when the author writes at twice the allowed rate.
LINK_WEIGHT = 1.5
RATE_WEIGHT = 2.0

# Alternatives in order of precedence: a link (whatever its characters), a run of digits,
# a run of letters in any script ([^\W\d_] is "a word character but not a digit or _"),
# and repeated exclamation marks, a classic of spam.
_TOKEN = re.compile(r"(?P<url>https?://\S+|www\.\S+)|(?P<num>\d+)|(?P<word>[^\W\d_]+)|(?P<shout>!{2,})", re.IGNORECASE)
_URL = re.compile(r"https?://\S+|www\.\S+", re.IGNORECASE)


def tokenize(text: str, limit: int = MAX_TOKENS) -> list[str]:
    """Lowercase words, with every link as URL_TOKEN and every number as NUMBER_TOKEN
    (their exact values are noise: each spam link is new), at most `limit` of them."""
    tokens = []
    for match in _TOKEN.finditer(text):
        if len(tokens) >= limit:
            break
        kind = match.lastgroup
        if kind == "url":
            tokens.append(URL_TOKEN)
        elif kind == "num":
            tokens.append(NUMBER_TOKEN)
        elif kind == "shout":
            tokens.append(SHOUT_TOKEN)
        else:
            tokens.append(match.group().casefold())
    return tokens


def count_links(text: str) -> int:
    return len(_URL.findall(text))


def sigmoid(x: float) -> float:
    # Two branches, so that exp never overflows however large the log-odds.
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


class NaiveBayes:
    """Token counts per class and document counts: the whole state of the text model."""

    def __init__(self) -> None:
        self.token_counts: dict[str, list[int]] = {}  # token -> [in spam, in ordinary text]
        self.documents = [0, 0]  # spam, ordinary texts learned
        self.token_totals = [0, 0]  # tokens learned in each class, repeats included

    @property
    def empty(self) -> bool:
        return self.documents == [0, 0]

    def add_counts(self, token: str, spam: int, ham: int) -> None:
        """Add stored counts (when loading the model)."""
        counts = self.token_counts.setdefault(token, [0, 0])
        counts[0] += spam
        counts[1] += ham
        self.token_totals[0] += spam
        self.token_totals[1] += ham

    def learn(self, text: str, spam: bool) -> Counter[str]:
        """Count a labelled text; returns its token counts (what the caller stores)."""
        label = 0 if spam else 1
        counted = Counter(tokenize(text))
        for token, n in counted.items():
            self.token_counts.setdefault(token, [0, 0])[label] += n
            self.token_totals[label] += n
        self.documents[label] += 1
        return counted

    def log_odds(self, text: str) -> float:
        """log P(spam | text) - log P(ordinary | text), with Laplace (add-one) smoothing."""
        spam_docs, ham_docs = self.documents
        odds = math.log((spam_docs + 1) / (ham_docs + 1))
        vocabulary = len(self.token_counts)
        spam_total, ham_total = self.token_totals
        for token in tokenize(text):
            counts = self.token_counts.get(token)
            if counts is None:
                # A word never seen says nothing about either class; counting it with the
                # smoothing alone would only reward the class with fewer tokens learned.
                continue
            odds += math.log((counts[0] + 1) / (spam_total + vocabulary))
            odds -= math.log((counts[1] + 1) / (ham_total + vocabulary))
        return odds


class SpamScore(msgspec.Struct, frozen=True):
    """A probability and the log-odds it was made of, so that a decision can be explained."""

    probability: float
    text: float  # the naive Bayes log-odds of the words
    links: float  # LINK_WEIGHT per link
    rate: float  # what writing faster than the limit added


def spam_score(model: NaiveBayes, text: str, rate: int, rate_limit: int) -> SpamScore:
    """Score a text written by an author who wrote `rate` texts in the last minute (this one included)."""
    text_part = model.log_odds(text)
    links_part = LINK_WEIGHT * count_links(text)
    rate_part = RATE_WEIGHT * max(0, rate - rate_limit) / rate_limit
    return SpamScore(sigmoid(text_part + links_part + rate_part), text_part, links_part, rate_part)


SpamCheck = Callable[[int, str], Awaitable[bool]]  # (author id, text) -> is it spam?


async def any_spam(checks: Sequence[SpamCheck], author_id: int, text: str) -> bool:
    """Ask every check (the seams of comments and messages hold a list of them). None is
    skipped once another said spam: a check may count the text, as a rate window does."""
    verdicts = [await check(author_id, text) for check in checks]
    return any(verdicts)
