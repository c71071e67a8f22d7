"""The feed benchmark: its Prometheus arithmetic, its request mix, and one short real run."""

from __future__ import annotations

import importlib.util
import math
import pickle
import random
import subprocess
import sys

import msgspec
import pytest

from instamini.bench.feed import FeedMix, MIX
from instamini.bench.prometheus import histogram_buckets, histogram_quantile, metric_value, observed_range

SCRAPE = """# HELP instamini_feed_fanout_lag_seconds Post committed to delivered to every follower
# TYPE instamini_feed_fanout_lag_seconds histogram
instamini_feed_fanout_lag_seconds_bucket{le="0.01"} %s
instamini_feed_fanout_lag_seconds_bucket{le="0.1"} %s
instamini_feed_fanout_lag_seconds_bucket{le="1.0"} %s
instamini_feed_fanout_lag_seconds_bucket{le="+Inf"} %s
instamini_feed_fanout_lag_seconds_count %s
instamini_feed_fanout_lag_seconds_sum 1.5
# TYPE instamini_feed_outbox_depth gauge
instamini_feed_outbox_depth 3.0
instamini_cache_hit_ratio 0.75
instamini_cache_hits_total{table="posts"} 10.0
"""
NAME = "instamini_feed_fanout_lag_seconds"


def scrape(*cumulative: int) -> dict[float, float]:
    return histogram_buckets(SCRAPE % (*cumulative, cumulative[-1]), NAME)


def test_buckets_are_read_by_upper_bound():
    assert scrape(1, 2, 3, 4) == {0.01: 1.0, 0.1: 2.0, 1.0: 3.0, math.inf: 4.0}
    labelled = 'x_bucket{shard="0",le="0.5"} 2\nx_bucket{shard="1",le="0.5"} 3\nx_bucket{le="+Inf",shard="1"} 7\n'
    assert histogram_buckets(labelled, "x") == {0.5: 5.0, math.inf: 7.0}  # other labels are summed over


def test_quantiles_interpolate_inside_the_bucket_of_the_increase():
    before = scrape(10, 10, 10, 10)  # what was there before the measured phase does not count
    after = scrape(10, 60, 110, 110)  # 50 new in (0.01, 0.1], 50 new in (0.1, 1]
    assert histogram_quantile(0.5, before, after) == pytest.approx(0.1)
    assert histogram_quantile(0.25, before, after) == pytest.approx(0.01 + 0.09 * 0.5)
    assert histogram_quantile(0.99, before, after) == pytest.approx(0.1 + 0.9 * 0.98)
    assert histogram_quantile(0.5, {}, scrape(4, 4, 4, 4)) == pytest.approx(0.005)  # first bucket: from 0
    assert observed_range(before, after) == (0.01, 1.0)


def test_a_rank_in_the_inf_bucket_gives_the_largest_finite_bound_and_nothing_gives_none():
    assert histogram_quantile(0.99, {}, scrape(0, 0, 1, 10)) == 1.0
    assert histogram_quantile(0.5, scrape(1, 2, 3, 4), scrape(1, 2, 3, 4)) is None
    assert histogram_quantile(0.5, {}, {}) is None
    assert observed_range(scrape(1, 2, 3, 4), scrape(1, 2, 3, 4)) is None


def test_gauges_are_read_and_missing_ones_are_none():
    text = SCRAPE % (1, 1, 1, 1, 1)
    assert metric_value(text, "instamini_feed_outbox_depth") == 3.0
    assert metric_value(text, "instamini_cache_hit_ratio") == 0.75
    assert metric_value(text, "instamini_cache_hits_total") is None  # labelled: not a plain gauge
    assert metric_value(text, "instamini_nothing") is None


def test_the_mix_pages_with_cursors_it_saw_and_posts_each_media_once():
    tokens = {"ann": "t1", "bob": "t2"}
    mix = FeedMix(tokens, ["bob"], [("ann", "11"), ("bob", "12")], MIX)
    mix = pickle.loads(pickle.dumps(mix))  # it crosses into the generator's process
    rng = random.Random(5)
    operations = {op.name: op for op in mix.operations()}
    assert {name: op.weight for name, op in operations.items()} == MIX
    request, user = mix.home_feed(rng)
    assert request.startswith(b"GET /api/v1/feed?limit=10&order=chronological HTTP/1.1\r\n")
    assert f"Authorization: Bearer {tokens[user]}\r\n".encode() in request
    mix.saw_page("ann", 200, msgspec.json.encode({"items": [], "next_cursor": "12/34"}))
    paths = {mix.home_feed(random.Random(seed))[0].split(b" ")[1] for seed in range(40)}
    assert b"/api/v1/feed?limit=10&order=chronological&cursor=12%2F34" in paths  # a later window, sometimes
    assert all(mix.user_timeline(rng)[0].startswith(b"GET /api/v1/users/bob/posts?limit=10 ") for _ in range(5))
    first, second = mix.compose(rng)[0], mix.compose(rng)[0]
    assert b"Bearer t1" in first and b'"media_ids":["11"]' in first and b"#bench" in first
    assert b"Bearer t2" in second and b'"media_ids":["12"]' in second
    assert "compose" not in {op.name for op in FeedMix({"ann": "t1"}, [], [], MIX).operations()}  # no media: reads only


def _missing_pieces() -> list[str]:
    pieces = {"instamini.demo": "the demo command (python -m instamini demo)", "instamini.feed": "the feed module"}
    return [what for module, what in pieces.items() if importlib.util.find_spec(module) is None]


@pytest.mark.skipif(bool(_missing_pieces()), reason=f"needs {' and '.join(_missing_pieces())}")
def test_a_short_run_measures_every_operation_without_errors(tmp_path):
    out = tmp_path / "feed.json"
    command = [
        sys.executable, "-m", "instamini", "bench", "feed", "--users", "150", "--seconds", "2", "--rate", "100",
        "--strategy", "push", "--warmup", "0.5", "--closed-seconds", "1", "--out", str(out),
    ]
    subprocess.run(command, check=True, timeout=120, stdout=subprocess.DEVNULL)
    report = msgspec.json.decode(out.read_bytes())
    assert report["command"].startswith("python -m instamini bench feed") and report["parameters"]["rate"] == 100
    push = report["strategies"]["push"]
    run = push["open_loop"]
    assert run["errors"] == 0 and run["unfinished"] == 0 and run["completed"] == run["sent"] > 100
    for name in ("home_feed", "user_timeline", "compose"):
        operation = run["operations"][name]
        assert operation["count"] > 0 and operation["errors"] == 0, name
        assert 0 < operation["p50_ms"] <= operation["p99_ms"] <= operation["p999_ms"] <= operation["max_ms"]
    assert push["fanout_lag"]["deliveries"] >= run["operations"]["compose"]["count"]  # every post fanned out
    assert push["fanout_lag"]["p50_ms"] <= push["fanout_lag"]["p99_ms"]
    assert 0 <= push["cache_hit_ratio"] <= 1 and push["outbox_depth_at_end"] >= 0
    assert 0 < push["closed_loop"]["feed_to_healthz_ratio"] < 2
    celebrity = push["celebrity"]
    assert celebrity["followers"] == report["network"]["most_followed"][0][1] > 0
    assert all(seen["not_seen_within_30_s"] == 0 for seen in celebrity["visible_in_sampled_feeds_ms"])
    assert all(lag["deliveries"] == 1 for lag in celebrity["fanout_lag"])  # push fans out even a celebrity
