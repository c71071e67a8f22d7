"""Soak, the CI version: half a minute of the bench mix on the real server, the same checks.

benchmarks/soak.py runs for 10 minutes and records the figures; this runs its very
functions (seeding, sampling, the checks) for about 25 s at a low rate, sampling every
2.5 s, so that a leak fast enough to matter in CI (a descriptor per request, a WAL that is
never checkpointed, an outbox that never drains) fails here. The bounds are the script's
defaults, generous on purpose: the machine is shared, and slow growth needs the long run.
"""

from __future__ import annotations

from benchmarks.soak import Limits, check, soak, summary

SECONDS = 25


def test_half_a_minute_of_the_bench_mix_stays_bounded(tmp_path):
    report = soak(tmp_path, users=200, rate=60, seconds=SECONDS, interval=2.5)
    load = report["open_loop"]
    assert load["completed"] == load["sent"] > SECONDS * 60 * 0.8, load
    assert {"home_feed 200", "user_timeline 200", "compose 201"} <= set(load["statuses"]), load["statuses"]
    assert len(report["samples"]) >= 8
    assert all(sample["deliveries"] > 0 for sample in report["samples"][1:]), report["samples"]  # fan-out kept going
    assert check(report, Limits()) == [], (check(report, Limits()), summary(report))


def _report(**changes) -> dict:
    """A made-up bounded run of 40 s, one sample every 5 s, with `changes` applied to the last sample."""
    samples = [{"t": 5.0 * i, "rss_mb": 100.0, "anon_mb": 60.0, "data_mb": 50.0, "fds": 100, "wal_mb": 4.0, "outbox": 0.0, "ranker_pending": 0.0,
                "fanout_p99_ms": 50.0, "loop_p99_ms": 5.0, "deliveries": 10} for i in range(1, 9)]
    samples[-1].update(changes)
    load = {"errors": 0, "unfinished": 0}
    return {"samples": samples, "seconds": 40.0, "before": {"fds": 60}, "after": {**samples[-1], "fds": 60, "outbox": 0.0},
            "open_loop": load}


def test_each_check_catches_what_it_is_for():
    limits = Limits()
    assert check(_report(), limits) == []
    assert "resident memory grew" in check(_report(rss_mb=100 + limits.max_rss_growth_mb + 1), limits)[0]
    # Pages of data files that grew by as much are the data a write load adds, not a leak.
    grown = 100 + limits.max_rss_growth_mb + 80
    assert check(_report(rss_mb=grown, data_mb=50.0 + 80), limits) == []
    assert "anonymous memory grew" in check(_report(anon_mb=60 + limits.max_anon_growth_mb + 1), limits)[0]
    assert "WAL files reached" in check(_report(wal_mb=limits.max_wal_mb + 1), limits)[0]
    assert "fan-out lag" in check(_report(fanout_p99_ms=limits.max_fanout_lag_s * 1000 + 1), limits)[0]
    leaky = _report()
    leaky["after"]["fds"] = 60 + limits.fd_slack + 1
    assert "open descriptors" in check(leaky, limits)[0]
    stuck = _report()
    stuck["after"]["outbox"] = 3.0
    assert "outbox still held" in check(stuck, limits)[0]
    assert summary(_report(rss_mb=130.0))["rss_mb"]["max"] == 130.0
