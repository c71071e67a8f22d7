"""Snowflake-style ids: unique, ordered, and they carry their shard and creation time."""

from __future__ import annotations

import threading

import pytest

from instamini.ids import EPOCH_MS, MAX_SHARDS, IdGenerator, created_ms, parse_id, shard_of

NOW_MS = EPOCH_MS + 86_400_000 * 400  # some fixed wall-clock time after the epoch


def strictly_increasing(values: list[int]) -> bool:
    return all(a < b for a, b in zip(values, values[1:]))


def test_unique_across_threads() -> None:
    generator = IdGenerator()
    threads_count, per_thread = 8, 20_000
    results: list[list[int]] = [[] for _ in range(threads_count)]
    start = threading.Barrier(threads_count)

    def work(index: int) -> None:
        start.wait()
        out = results[index]
        for _ in range(per_thread):
            out.append(generator.next_id(index))

    threads = [threading.Thread(target=work, args=(i,)) for i in range(threads_count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    every = [object_id for ids in results for object_id in ids]
    assert len(every) == threads_count * per_thread
    assert len(set(every)) == len(every)
    for index, ids in enumerate(results):
        assert strictly_increasing(ids)  # each caller sees its own ids in order
        assert {shard_of(object_id) for object_id in ids} == {index}


def test_monotonic_within_one_generator() -> None:
    generator = IdGenerator()
    ids = [generator.next_id(3) for _ in range(50_000)]
    assert strictly_increasing(ids)


def test_monotonic_across_shards_by_time() -> None:
    # Different shards in different milliseconds still sort by time.
    clock = iter(range(NOW_MS, NOW_MS + 10))
    generator = IdGenerator(clock_ms=lambda: next(clock))
    ids = [generator.next_id(shard) for shard in (8191, 0, 5, 4000, 1)]
    assert strictly_increasing(ids)


@pytest.mark.parametrize("shard", [0, 5, 8191])
def test_fields_read_back(shard: int) -> None:
    generator = IdGenerator(clock_ms=lambda: NOW_MS)
    object_id = generator.next_id(shard)
    assert shard_of(object_id) == shard
    assert created_ms(object_id) == NOW_MS
    assert 0 < object_id < 1 << 63


def test_real_clock_created_ms_is_close_to_now() -> None:
    import time

    before = time.time_ns() // 1_000_000
    object_id = IdGenerator().next_id(7)
    after = time.time_ns() // 1_000_000
    assert before <= created_ms(object_id) <= after
    assert shard_of(object_id) == 7


def test_more_than_1024_ids_in_one_frozen_millisecond() -> None:
    generator = IdGenerator(clock_ms=lambda: NOW_MS)
    ids = [generator.next_id(2) for _ in range(5_000)]
    assert len(set(ids)) == len(ids)
    assert strictly_increasing(ids)
    assert all(shard_of(object_id) == 2 for object_id in ids)
    # The generator borrowed later milliseconds instead of wrapping around.
    assert created_ms(ids[0]) == NOW_MS
    assert created_ms(ids[-1]) > NOW_MS


def test_clock_stepping_backwards() -> None:
    readings = [NOW_MS, NOW_MS + 5, NOW_MS + 5, NOW_MS - 1000, NOW_MS - 999, NOW_MS + 1, NOW_MS + 6, NOW_MS + 7]
    clock = iter(readings)
    generator = IdGenerator(clock_ms=lambda: next(clock))
    ids = [generator.next_id(1) for _ in readings]
    assert len(set(ids)) == len(ids)
    assert strictly_increasing(ids)
    assert all(shard_of(object_id) == 1 for object_id in ids)
    # While the clock is behind, ids keep the last millisecond used instead of going back.
    assert created_ms(ids[3]) == NOW_MS + 5
    assert created_ms(ids[-1]) == NOW_MS + 7


def test_clock_backwards_across_many_ids() -> None:
    state = {"now": NOW_MS}
    generator = IdGenerator(clock_ms=lambda: state["now"])
    ids = []
    for step in range(3_000):
        # jumps back by 50 ms every 100 ids, otherwise advances slowly
        state["now"] += -50 if step % 100 == 99 else (step % 3 == 0)
        ids.append(generator.next_id(4))
    assert len(set(ids)) == len(ids)
    assert strictly_increasing(ids)


@pytest.mark.parametrize("shard", [-1, MAX_SHARDS, MAX_SHARDS + 1, 10**9])
def test_bad_shard_raises(shard: int) -> None:
    with pytest.raises(ValueError):
        IdGenerator().next_id(shard)


def test_parse_id_accepts_valid() -> None:
    object_id = IdGenerator().next_id(9)
    assert parse_id(str(object_id)) == object_id
    assert parse_id("1") == 1
    assert parse_id("12345") == 12345
    assert parse_id(str((1 << 63) - 1)) == (1 << 63) - 1


@pytest.mark.parametrize(
    "text",
    [
        "",
        "-1",
        "0",
        "00",
        "abc",
        "12a",
        " 12",
        "12 ",
        "+12",
        "1_000",
        "１２３",  # fullwidth digits: str.isdigit() and int() accept them
        "٣",  # Arabic-Indic digit
        "²",  # superscript two: isdigit() but not a decimal
        "1" * 21,  # overlong
        "1" + "0" * 40,
        str(1 << 63),
        str((1 << 64) - 1),
        str(1 << 64),
    ],
)
def test_parse_id_rejects(text: str) -> None:
    assert parse_id(text) is None
