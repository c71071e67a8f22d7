"""The logistic model, its training and the offline metrics, without the app."""

from __future__ import annotations

import math
import random

from instamini.ranker.evaluation import auc, mean_ndcg, ndcg
from instamini.ranker.model import PRIOR_WEIGHTS, LogisticModel, decode_model, encode_model, sigmoid
from instamini.ranker.training import fit


def test_sigmoid_is_stable_at_the_extremes():
    assert sigmoid(0) == 0.5
    assert sigmoid(1000) == 1.0 and sigmoid(-1000) == 0.0
    assert abs(sigmoid(2) + sigmoid(-2) - 1) < 1e-12


def test_contributions_add_up_to_the_logit():
    model = LogisticModel()
    features = {"affinity": 1.5, "age_log_hours": 2.0, "unknown_feature": 3.0}
    shares = model.contributions(features)
    assert abs(sum(shares.values()) - model.logit(features)) < 1e-12
    assert shares["affinity"] == PRIOR_WEIGHTS["affinity"] * 1.5 and shares["unknown_feature"] == 0.0


def test_learning_moves_the_prediction_towards_the_label():
    model = LogisticModel()
    features = {"affinity": 1.0}
    before = model.probability(features)
    for _ in range(20):
        model.learn(features, 1, rate=0.1, l2=0.0)
    assert model.probability(features) > before + 0.2 and model.examples == 20
    for _ in range(200):
        model.learn(features, 0, rate=0.1, l2=0.0)
    assert model.probability(features) < before


def test_the_model_round_trips_through_msgpack():
    model = LogisticModel()
    model.learn({"velocity": 0.7}, 1, 0.05, 0.001)
    assert decode_model(encode_model(model)) == model


def synthetic(n: int, seed: int) -> list[tuple[dict[str, float], int]]:
    """Examples whose true click chance rises with affinity and falls with age."""
    rng = random.Random(seed)
    rows = []
    for _ in range(n):
        features = {"affinity": rng.expovariate(1.0), "age_log_hours": rng.uniform(0, 5), "popularity": rng.uniform(0, 3)}
        chance = sigmoid(-1 + 2.5 * features["affinity"] - 1.2 * features["age_log_hours"])
        rows.append((features, int(rng.random() < chance)))
    return rows


def test_fit_learns_the_signs_and_ranks_held_out_data_well():
    train, test = synthetic(4000, 1), synthetic(2000, 2)
    model = fit(train, rate=0.05, l2=0.0001)
    assert model.weights["affinity"] > 1.0 and model.weights["age_log_hours"] < -0.5
    assert abs(model.weights["popularity"]) < 0.5  # it carries no signal here
    assert auc([model.logit(f) for f, _ in test], [label for _, label in test]) > 0.85


def test_auc_and_ndcg_on_known_orders():
    assert auc([0.1, 0.2, 0.3, 0.4], [0, 0, 1, 1]) == 1.0
    assert auc([0.4, 0.3, 0.2, 0.1], [0, 0, 1, 1]) == 0.0
    assert auc([1, 1, 1, 1], [0, 1, 0, 1]) == 0.5  # ties are a coin
    assert math.isnan(auc([1, 2], [1, 1]))
    assert ndcg([3, 2, 1], [1, 0, 0]) == 1.0
    assert abs(ndcg([3, 2, 1], [0, 0, 1]) - 1 / math.log2(4)) < 1e-12
    assert ndcg([1, 2], [0, 0]) is None
    assert mean_ndcg([([3, 2, 1], [1, 0, 0]), ([1, 2], [0, 0]), ([1, 2], [1, 0])]) == (1.0 + 1 / math.log2(3)) / 2
