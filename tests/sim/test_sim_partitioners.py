"""Partitioners against their definitions and theory: murmur2 vs CRC32 placement, sticky
null-key batches, and the share of keys a partition-count change moves."""

import math
import zlib

import numpy as np
import pytest
from kafka.partitioner.default import murmur2

import sim
from sim.core.workload import Messages
from sim.models.log import Log, produce
from sim.models.null_key_partition import byte_runs, null_key_partitions, time_runs
from sim.models.partitioner import (
    key_bytes,
    key_hash,
    partition_of,
    partitions_for,
    remapped_share,
)

KEYS = np.arange(5000)

# librdkafka's unit test of rd_murmur2 (src/rdmurmur2.c, "java_murmur2_results"): the Java
# client's murmur2 of these keys. Both Java and librdkafka's murmur2_random place by them.
JAVA_MURMUR2 = {
    b"kafka": 0xD067CF64,
    b"giberish123456789": 0x8F552B0C,
    b"1234": 0x9FC97B14,
    b"234": 0xE7C009CA,
    b"PreAmbleWillBeRemoved,ThePrePartThatIs": 0x78424F1C,
    b"": 0x106E08D9,
}


@pytest.mark.parametrize(("key", "expected"), JAVA_MURMUR2.items())
def test_murmur2_is_the_java_clients_hash(key, expected):
    assert murmur2(key) & 0xFFFFFFFF == expected
    for n in (1, 3, 6, 7, 12, 64):
        assert partition_of(key, n) == (expected & 0x7FFFFFFF) % n
        assert partition_of(key, n, "murmur2_random") == (expected & 0x7FFFFFFF) % n


def test_consistent_random_is_unsigned_crc32_modulo_the_partition_count():
    # The CRC-32 check value (reflected 0xEDB88320, as librdkafka's rd_crc32).
    assert key_hash(b"123456789", "consistent_random") == 0xCBF43926
    for k in KEYS[:500]:
        b = key_bytes(k)
        for n in (1, 6, 7, 12):
            assert partition_of(b, n, "consistent_random") == zlib.crc32(b) % n


@pytest.mark.parametrize("partitioner", ["murmur2", "consistent_random", "murmur2_random"])
def test_vectorised_placement_equals_the_per_key_function(partitioner):
    rng = np.random.default_rng(3)
    # Every decimal length from 1 to 12 digits (every murmur2 tail), with repeats.
    big = 10 ** rng.integers(0, 12, 3000) + rng.integers(0, 10, 3000)
    keys = np.concatenate((rng.integers(0, 2000, 20_000), big, [0, 9, 10, 99, 100]))
    fast = partitions_for(keys, 12, partitioner)
    slow = [partition_of(key_bytes(k), 12, partitioner) for k in keys]
    assert np.array_equal(fast, slow)


def test_crc32_and_murmur2_disagree_on_most_keys_as_independent_hashes_would():
    # Two unrelated uniform hashes agree on a key with probability 1/N; over K keys the
    # share that differs is binomial: tolerance 4 standard errors.
    n = 6
    diff = partitions_for(KEYS, n, "murmur2") != partitions_for(KEYS, n, "consistent_random")
    p = 1 - 1 / n
    assert abs(diff.mean() - p) <= 4 * math.sqrt(p * (1 - p) / KEYS.size)
    assert np.array_equal(
        partitions_for(KEYS, n, "murmur2"), partitions_for(KEYS, n, "murmur2_random")
    )


@pytest.mark.parametrize(("before", "after"), [(3, 4), (4, 6), (6, 12), (12, 16), (5, 7)])
@pytest.mark.parametrize("partitioner", ["murmur2", "consistent_random"])
def test_share_of_keys_remapped_when_partitions_grow_is_one_minus_gcd_over_m(
    before, after, partitioner
):
    # h mod N == h mod M for gcd(N, M) of every M residues of a uniform hash, so a key moves
    # with probability 1 - gcd/M; over K keys the moved share is a binomial proportion.
    # Tolerance: 4 standard errors (sqrt(p(1-p)/K), about 0.7 percentage points at K=5000).
    moved = partitions_for(KEYS, before, partitioner) != partitions_for(KEYS, after, partitioner)
    p = remapped_share(before, after)
    assert p == pytest.approx(1 - math.gcd(before, after) / after)
    assert abs(moved.mean() - p) <= 4 * math.sqrt(p * (1 - p) / KEYS.size) + 1e-12


def _msgs(n, rate, *, keys=None, size=100):
    return Messages(
        publish_time=np.arange(n) / rate,
        keys=np.full(n, -1, np.int64) if keys is None else keys,
        size=np.full(n, size, np.int64),
        poison=np.zeros(n, bool),
    )


def test_uniform_sticky_sends_each_batch_of_batch_size_bytes_to_one_partition():
    # 100-byte records, batch.size 16384: a partition takes ceil(16384/100) = 164 records
    # (the one reaching the threshold included) before the partitioner draws again.
    msgs = _msgs(100_000, 5000.0)
    log = Log(partitions=6, null_key_partitioning="uniform_sticky", linger_ms=5)
    part = produce(log, msgs, (), np.random.default_rng(1)).partition
    per = math.ceil(16384 / 100)
    batches = part[: part.size // per * per].reshape(-1, per)
    assert (batches == batches[:, :1]).all()
    # The next partition is drawn from all six, the current one included: consecutive
    # batches differ with probability 5/6 (binomial; 4 standard errors).
    changes = (np.diff(batches[:, 0]) != 0).mean()
    r = batches.shape[0] - 1
    assert abs(changes - 5 / 6) <= 4 * math.sqrt(5 / 36 / r)


def test_uniform_sticky_spreads_bytes_evenly_over_the_partitions():
    # R batches of equal bytes each land on a uniform partition: a partition's batch count is
    # Binomial(R, 1/P), so its bytes are batch_size x that count. Tolerance: 4 standard
    # errors, sqrt(R p (1-p)) batches, on every partition.
    msgs = _msgs(400_000, 10_000.0, size=128)
    part = produce(Log(partitions=8), msgs, (), np.random.default_rng(2)).partition
    batches = np.bincount(part, minlength=8) * 128 / 16384
    r, p = batches.sum(), 1 / 8
    assert np.all(np.abs(batches - r * p) <= 4 * math.sqrt(r * p * (1 - p)))


def test_sticky_batches_end_at_linger_or_when_full_and_never_repeat_the_partition():
    # Java 2.4-3.2 / kafka-python's StickyPartitioner: a new batch (full, or sent linger_ms
    # after its first record) moves to one of the *other* partitions.
    rate, linger_ms = 2000.0, 9.75  # a boundary between two records: no float ties
    msgs = _msgs(20_000, rate)
    part = null_key_partitions(
        "sticky",
        msgs.publish_time,
        msgs.size,
        np.full(len(msgs), 4),
        np.random.default_rng(5),
        linger_ms=linger_ms,
    )
    starts = np.r_[0, np.flatnonzero(np.diff(part)) + 1]
    lengths = np.diff(np.r_[starts, part.size])
    # 20 records arrive within 9.75 ms (0, 0.5, ..., 9.5 ms), fewer than the 163 that fill
    # 16384 bytes: every batch is cut by linger.
    assert set(lengths[:-1].tolist()) == {20}
    full = byte_runs(np.full(1000, 100), 16384, inclusive=False)
    assert np.array_equal(np.diff(full)[:3], [163, 163, 163])


def test_sticky_linger_draws_a_new_partition_every_window_of_time():
    # librdkafka: a new random partition once sticky.partitioning.linger.ms has passed.
    # One record per ms and a 9.5 ms window (no float ties at the boundary): each window
    # holds 10 records, and the draw may repeat the partition (5/6 change; 4 standard errors).
    times = np.arange(10_000) / 1000.0
    part = null_key_partitions(
        "sticky_linger",
        times,
        np.full(10_000, 10),
        6,
        np.random.default_rng(9),
        sticky_linger_ms=9.5,
    )
    windows = part.reshape(-1, 10)
    assert (windows == windows[:, :1]).all()
    assert np.array_equal(time_runs(times, 0.0095), np.arange(0, 10_000, 10))
    changes = (np.diff(windows[:, 0]) != 0).mean()
    assert abs(changes - 5 / 6) <= 4 * math.sqrt(5 / 36 / (windows.shape[0] - 1))


def test_random_null_keys_draw_exactly_as_the_previous_simulator_did():
    rng_a, rng_b = np.random.default_rng(4), np.random.default_rng(4)
    part = null_key_partitions("random", np.zeros(1000), np.ones(1000), 7, rng_a)
    assert np.array_equal(part, rng_b.integers(0, 7, 1000))


def test_adding_partitions_remaps_keys_from_the_change_on_and_consumers_read_them_all():
    scenario = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 1000, "duration_s": 10, "keys": 500},
            "topology": {"log": {"partitions": 4, "partitions_after": 6, "repartition_at_s": 5}},
            "consumers": {"groups": [{"consumers": 2, "auto_offset_reset": "earliest"}]},
            "drain_s": 5,
        }
    )
    r = sim.run(scenario, seed=1)
    h = r.history
    before = h.publish_time < 5
    assert np.array_equal(h.partition[before], partitions_for(h.keys[before], 4))
    assert np.array_equal(h.partition[~before], partitions_for(h.keys[~before], 6))
    assert r.report["group:0"].lost == 0 and r.report["group:0"].unseen == 0
    assert np.bincount(h.partition, minlength=6)[4:].sum() > 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"partitioner": "fnv1a"}, '"partitioner" must be one of'),
        ({"null_key_partitioning": "round_robin"}, '"null_key_partitioning" must be one of'),
        ({"partitions": 6, "partitions_after": 6, "repartition_at_s": 1}, "only adds"),
        ({"partitions_after": 24}, "go together"),
        ({"batch_size": 0}, '"batch_size" must be in'),
    ],
)
def test_bad_partitioning_settings_are_refused_by_name(fields, message):
    with pytest.raises(ValueError, match=message):
        Log(**fields)


@pytest.mark.parametrize("grow", [True, False])
def test_adding_partitions_breaks_per_key_order_only_when_partitions_are_added(grow):
    # Six consumers at 300 msg/s each; Zipf keys make the hottest of four partitions take
    # more than that, so it builds a backlog. From 5 s on a moved key's records go to the
    # new, idle partitions 4-5 and are processed at once, while its older records still wait
    # in the backlog: the checker counts them as reordered. Without the change there are none.
    log = {"partitions": 4}
    if grow:
        log |= {"partitions_after": 6, "repartition_at_s": 5}
    scenario = sim.Scenario.from_dict(
        {
            "workload": {
                "rate_per_s": 1000,
                "duration_s": 10,
                "keys": 200,
                "key_distribution": "zipf",
                "zipf_s": 1.1,
            },
            "topology": {"log": log},
            "consumers": {
                "groups": [
                    {
                        "consumers": 6,
                        "service": {"kind": "constant", "mean_ms": 1000 / 300},
                        "auto_offset_reset": "earliest",
                    }
                ]
            },
            "drain_s": 30,
        }
    )
    row = sim.run(scenario, seed=3).report["group:0"]
    assert row.lost == 0 and row.unseen == 0
    assert (row.reordered > 0) == grow, row
