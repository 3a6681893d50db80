"""Theory tests: segment retention, committed-offset expiry and producer restarts.

Deterministic workloads (``constant`` arrivals) make every expected value a closed form:
no tolerance is needed where the arithmetic is exact, and where a random workload is used
the expected value is computed from its own publish times by a plain per-record reference.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import sim
from sim.core.faults import Fault
from sim.core.workload import Workload, generate
from sim.models.log import Log, produce
from sim.models.restarts import resend
from sim.models.segments import deletion_times


def _segments_reference(append, size, segment_s, segment_bytes):
    """First offset of each segment, record by record (LogSegment.shouldRoll)."""
    first, used = [0], 0.0
    for i in range(append.size):
        if i and (append[i] - append[first[-1]] > segment_s or used + size[i] > segment_bytes):
            first.append(i)
            used = 0.0
        used += size[i]
    return np.array(first)


def _one_partition(rate, duration, size_bytes=1024, **log):
    """The single partition of a topic written at a constant ``rate`` for ``duration``."""
    w = Workload(rate_per_s=rate, duration_s=duration, arrivals="constant", size_bytes=size_bytes)
    msgs = generate(w, np.random.SeedSequence(1).spawn(4))
    topic = produce(
        Log(partitions=1, network_delay_ms=0, **log), msgs, (), np.random.default_rng(1)
    )
    return topic.partitions[0]


def test_log_start_offset_jumps_a_segment_at_a_time_at_the_retention_checks():
    # 10 records/s at t = 0, 0.1, ...; segments of 2.05 s (a record rolls when it is more
    # than 2.05 s after the segment's first: segment k holds offsets 21k .. 21k+20, newest
    # at 2.1k + 2 s; 2.05 rather than 2 keeps float ties out of the arithmetic), retention
    # 5 s, checks every second. Segment k is deleted at the first check strictly after
    # 2.1k + 2 + 5: the log start offset at t is 21 x (number of
    # segments deleted by t).
    part = _one_partition(
        10, 30, retention_ms=5000, segment_ms=2050, retention_check_interval_ms=1000
    )
    for t in np.arange(0.0, 30.0, 0.25):
        deleted = sum(1 for k in range(20) if math.floor(2.1 * k + 7.0 + 1e-9) + 1 <= t)
        assert part.start_offset(t) == min(21 * deleted, 300), t
    starts = sorted({part.start_offset(t) for t in np.arange(0.0, 30.0, 0.01)})
    assert all(s % 21 == 0 for s in starts[:-1])  # whole segments only


def test_a_record_is_kept_at_least_retention_ms_and_at_most_a_segment_and_a_check_more():
    rng = np.random.default_rng(5)
    append = np.cumsum(rng.exponential(0.01, 20_000))
    size = np.broadcast_to(100, append.size)
    for segment_ms, check_ms in ((50.0, 10.0), (1000.0, 300.0), (5000.0, 1000.0)):
        delete = deletion_times(append, size, 2000.0, None, segment_ms, 2**30, check_ms)
        kept = delete - append
        assert (kept > 2.0).all()  # strictly older than retention.ms when deleted
        assert (kept <= 2.0 + segment_ms / 1000 + check_ms / 1000 + 1e-9).all()
        assert (np.diff(delete) >= 0).all()


def test_segments_match_a_per_record_reference_by_time_and_size():
    rng = np.random.default_rng(9)
    append = np.cumsum(rng.exponential(0.02, 3000))
    size = rng.integers(50, 500, append.size)
    delete = deletion_times(append, size, 1e9, None, 700.0, 5000, 1000.0)
    first = _segments_reference(append, size, 0.7, 5000)
    changes = np.flatnonzero(np.diff(delete)) + 1
    # Segments whose newest records share a retention check merge in ``delete``: every
    # change of deletion time is a segment boundary of the reference.
    assert set(changes) <= set(first) and len(first) > 50


def test_size_retention_deletes_whole_oldest_segments():
    # 1 record/s of 100 bytes, 10 records (1000 bytes) a segment, retention_bytes 3000,
    # checks every second. Segment k (offsets 10k..10k+9) goes at the first check at which
    # the bytes appended reach 1000 (k + 1) + 3000: when record 10k + 39 arrives, at
    # t = 10k + 39 s. The partition never holds less than 3000 bytes after a deletion.
    part = _one_partition(
        1,
        120,
        size_bytes=100,
        retention_bytes=3000,
        segment_bytes=1000,
        retention_check_interval_ms=1000,
        retention_ms=None,
    )
    for k in range(8):
        assert part.start_offset(10 * k + 38.5) == 10 * k
        assert part.start_offset(10 * k + 39.0) == 10 * (k + 1)
    for t in range(40, 120):
        held = part.end_offset(t) - part.start_offset(t)
        assert 30 <= held < 40


def test_an_active_segment_that_expires_whole_is_deleted_and_the_next_record_starts_a_new_one():
    # Two bursts 30 s apart, segments of a day, retention 10 s: Kafka rolls and deletes the
    # active segment once its newest record is 10 s old; the second burst is kept.
    append = np.concatenate((np.arange(0, 1, 0.1), np.arange(30, 31, 0.1)))
    delete = deletion_times(
        append, np.broadcast_to(10, 20), 10_000.0, None, 86_400_000.0, 2**30, 1000.0
    )
    assert (delete[:10] == 11.0).all()  # newest at 0.9 s, first check after 10.9 s
    assert (delete[10:] == 41.0).all()


def test_default_segments_keep_everything_a_short_run_appends():
    # A 7-day segment never rolls in a run of minutes: nothing expires while it is active.
    part = _one_partition(100, 60, retention_ms=1000)
    assert part.start_offset(61.0) == 0 and len(part) == 6000


def test_empty_group_past_offsets_retention_restarts_per_auto_offset_reset():
    # The only member leaves at 10 s and comes back at 40 s (constant 100/s, 4000 records).
    # With offsets_retention_ms 20 s its committed offsets are gone: ``latest`` skips the
    # 3000 records appended while it was away; ``earliest`` re-reads the first 1000.
    def run(reset, offsets_retention_ms):
        return sim.run(
            {
                "workload": {"rate_per_s": 100, "duration_s": 40, "arrivals": "constant"},
                "topology": {"log": {"partitions": 1, "network_delay_ms": 0}},
                "consumers": {
                    "groups": [
                        {
                            "auto_offset_reset": reset,
                            "offsets_retention_ms": offsets_retention_ms,
                            "rebalance_ms": 0,
                            "service": {"kind": "constant", "mean_ms": 0.1},
                        }
                    ]
                },
                "faults": [["consumer_leave", "group:0:0", 10, 30]],
                "drain_s": 2,
            },
            seed=1,
        )

    kept = run("latest", 60_000).report["group:0"]
    assert kept.lost == 0 and kept.duplicated == 0
    latest = run("latest", 20_000)
    assert latest.report["group:0"].lost == 3000 == latest.metrics["skipped:group:0"]
    earliest = run("earliest", 20_000).report["group:0"]
    assert earliest.lost == 0 and earliest.duplicated == 1000


def test_committed_offset_below_the_log_start_resets_and_counts_the_skipped_records():
    # Crash at 10 s, back at 40 s; retention 5 s in 1 s segments checked every second.
    # At 40 s every segment whose newest record is older than 35 s is gone: the committed
    # offset (1000) is out of range, the group resets to the log start offset and counts
    # every record in between as skipped.
    r = sim.run(
        {
            "workload": {"rate_per_s": 100, "duration_s": 50, "arrivals": "constant"},
            "topology": {
                "log": {
                    "partitions": 1,
                    "network_delay_ms": 0,
                    "retention_ms": 5000,
                    "segment_ms": 1005,
                    "retention_check_interval_ms": 1000,
                }
            },
            "consumers": {
                "groups": [
                    {
                        "auto_offset_reset": "earliest",
                        "rebalance_ms": 0,
                        "service": {"kind": "constant", "mean_ms": 0.1},
                    }
                ]
            },
            "faults": [["consumer_crash", "group:0:0", 10, 30]],
            "drain_s": 2,
        },
        seed=1,
    )
    # (the same topic, produced alone)
    part = _one_partition(
        100, 50, retention_ms=5000, segment_ms=1005, retention_check_interval_ms=1000
    )
    lso = part.start_offset(40.0)
    # Segments of 1.005 s hold 101 records (0.00 .. 1.00 s, then 1.01 .. 2.01 s, ...):
    # segment k's newest is at 1.01k + 1, deleted by the check at 40 s once 1.01k + 6 < 40,
    # i.e. for k <= 33.
    assert lso == 34 * 101
    row = r.report["group:0"]
    assert row.lost == lso - 1000 == r.metrics["skipped:group:0"]


@pytest.mark.parametrize("idempotent", [True, False])
@pytest.mark.parametrize("linger_ms", [0.0, 20.0])
def test_producer_restart_duplicates_exactly_the_records_in_flight(idempotent, linger_ms):
    # 1000 records/s (constant), network delay 5 ms: a request's round trip is 10 ms. The
    # producer restarts at 3.0005 s for 0.2 s. Records sent in [2.9905, 3.0005) were written
    # but not acknowledged: re-sent by the new producer (a new producer id), duplicated even
    # with idempotence. Records still lingering are re-sent once, later: no duplicate.
    delay_ms, stop = 5.0, 3.0005
    r = sim.run(
        {
            "workload": {"rate_per_s": 1000, "duration_s": 6, "arrivals": "constant"},
            "topology": {
                "log": {
                    "partitions": 1,
                    "network_delay_ms": delay_ms,
                    "linger_ms": linger_ms,
                    "enable_idempotence": idempotent,
                }
            },
            "consumers": {"groups": [{"service": {"kind": "constant", "mean_ms": 0.1}}]},
            "faults": [["producer_restart", "log", stop, 0.2]],
            "drain_s": 2,
        },
        seed=1,
    )
    t = np.sort(r.history.publish_time)
    if linger_ms:  # batches close linger_ms after their first record
        send, i = np.empty_like(t), 0
        while i < t.size:
            j = int(np.searchsorted(t, t[i] + linger_ms / 1000, side="right"))
            send[i:j] = t[i] + linger_ms / 1000
            i = j
    else:
        send = t
    in_flight = int(((send >= stop - 2 * delay_ms / 1000) & (send < stop)).sum())
    assert in_flight > 0
    assert r.metrics["producer_duplicates"] == in_flight
    row = r.report["group:0"]
    assert row.duplicated == in_flight and row.lost == 0


def test_producer_restart_with_acks_0_has_nothing_in_flight():
    ids = np.arange(100)
    t = np.arange(100) / 100.0
    f = (Fault("producer_restart", "log", 0.5, 0.1),)
    out, send, dup = resend(ids, t, t, f, 0.005, "0")
    assert dup == 0 and out.size == 100
    assert (send[(t >= 0.5) & (t < 0.6)] == 0.6).all()  # sent by the new producer


def test_bad_segment_settings_are_refused_by_name():
    with pytest.raises(ValueError, match="segment_ms"):
        Log(segment_ms=0)
    with pytest.raises(ValueError, match="segment_bytes"):
        Log(segment_bytes=0)
    with pytest.raises(ValueError, match="retention_check_interval_ms"):
        Log(retention_check_interval_ms=-1)
