"""Logistic regression over named features: the learned ranker's whole model.

The idea: the chance that a viewer interacts with a post (likes, comments, saves,
watches a story) is modelled as

    p = sigmoid(bias + Σ weight[name] · feature[name])

Ranking by p is ranking by the sum inside (the logit), and each term of that sum,
weight · value, is that feature's contribution: an explanation a person can read
("affinity with the author added 1.3, its age took away 2.1"). The model learns by
stochastic gradient descent, one example at a time, so it can be trained online as
impressions are labelled: w += rate · ((label - p) · x - l2 · w).

Before any data, PRIOR weights say what a sensible person would guess (newer is
better, people you interact with matter), so a fresh install ranks reasonably.

Cost: a few multiplications per feature per candidate; an update touches every
weight once.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import msgspec

# Guesses that a fresh install ranks with, before it has learned anything. Each
# feature is described in features.py.
PRIOR_WEIGHTS: dict[str, float] = {
    "age_log_hours": -0.8,
    "affinity": 0.9,
    "author_rate": 2.0,
    "velocity": 0.6,
    "popularity": 0.2,
    "kind_match": 1.0,
    "source_strength": 0.5,
    "own_post": -0.5,
}
PRIOR_BIAS = -2.0  # most things shown are not interacted with


def sigmoid(z: float) -> float:
    # Split so that exp never overflows for large |z|.
    if z >= 0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


class LogisticModel(msgspec.Struct):
    """Weights by feature name, a bias, and how many examples it has learned from."""

    weights: dict[str, float] = msgspec.field(default_factory=lambda: dict(PRIOR_WEIGHTS))
    bias: float = PRIOR_BIAS
    examples: int = 0

    def logit(self, features: Mapping[str, float]) -> float:
        weights = self.weights
        return self.bias + sum(weights.get(name, 0.0) * value for name, value in features.items())

    def probability(self, features: Mapping[str, float]) -> float:
        return sigmoid(self.logit(features))

    def contributions(self, features: Mapping[str, float]) -> dict[str, float]:
        """Each feature's share of the logit (weight x value), and the bias."""
        weights = self.weights
        shares = {name: weights.get(name, 0.0) * value for name, value in features.items()}
        shares["bias"] = self.bias
        return shares

    def learn(self, features: Mapping[str, float], label: int, rate: float, l2: float) -> float:
        """One step of gradient descent on the log loss; returns the prediction before it."""
        predicted = self.probability(features)
        error = label - predicted
        weights = self.weights
        for name, value in features.items():
            weight = weights.get(name, 0.0)
            weights[name] = weight + rate * (error * value - l2 * weight)
        self.bias += rate * error  # the bias is not decayed: it tracks the base rate
        self.examples += 1
        return predicted

    def copy(self) -> LogisticModel:
        return LogisticModel(dict(self.weights), self.bias, self.examples)


encode_model = msgspec.msgpack.Encoder().encode
decode_model = msgspec.msgpack.Decoder(LogisticModel).decode
