"""Theory tests of the compaction model: what a compacted partition keeps, and when.

The writes are the compaction lab's (:func:`write_plan`); times are chosen so that each
expected value follows from the rules of :mod:`sim.models.compaction` by hand.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.models.compaction import Cleaner, clean, lab_writes, latest_state, write_plan


def _plan(keys=20, updates=20, tombstoned=4, seed=0):
    plan = write_plan(keys, updates, tombstoned, np.random.default_rng(seed))
    return np.array([k for k, _ in plan]), np.array([d for _, d in plan])


def _lab_timeline(keys, dead, segment_s=0.2, gap_s=3.0):
    """The lab's shape (:func:`lab_writes`) for the writes ``keys``, ``dead``."""
    plan = list(zip(keys.tolist(), dead.tolist(), strict=True))
    return lab_writes(plan, segment_s * 1000, gap_s)


def test_write_plan_updates_every_key_and_deletes_the_tombstoned_ones():
    plan = write_plan(6, 4, 2, np.random.default_rng(1))
    tombstoned = {k for k, dead in plan if dead}
    assert len(tombstoned) == 2
    # live keys get every round, deleted keys stop at the middle round (and its tombstone)
    assert sum(not dead for k, dead in plan if k not in tombstoned) == 4 * 4
    assert sum(not dead for k, dead in plan if k in tombstoned) == 2 * 3
    assert write_plan(6, 4, 2, np.random.default_rng(1)) == plan
    with pytest.raises(ValueError, match="tombstoned_keys"):
        write_plan(3, 4, 3, np.random.default_rng(1))


def test_cleaned_partition_keeps_one_record_per_live_key_and_drops_expired_tombstones():
    keys, dead = _plan()
    append, keys, dead = _lab_timeline(keys, dead)
    log = clean(append, keys, dead, Cleaner(), until_s=10.0)
    live = latest_state(keys, dead)
    assert len(live) == 16
    # The last update (active segment) shadows its key's older record: live + 1 left.
    assert log.records_at(10.0)[0] == 16 + 1
    assert not (log.tombstone & log.present(10.0)).any()
    assert log.state_at(10.0) == live
    # Before the last update rolled the segment, nothing was cleanable: the first cleaning
    # comes at the first wake-up after it; the tombstones survive it.
    assert log.cleanings[0] == 1.0
    assert (log.tombstone & log.present(1.5)).sum() == 4


def test_a_partition_nobody_writes_to_keeps_its_tombstones():
    keys, dead = _plan()
    append, keys, dead = _lab_timeline(keys, dead, gap_s=1000.0)
    log = clean(append, keys, dead, Cleaner(), until_s=30.0)
    assert log.cleanings.size == 1  # nothing dirty after the first cleaning
    assert (log.tombstone & log.present(30.0)).sum() == 4


def test_min_compaction_lag_holds_records_back():
    keys, dead = _plan(keys=5, updates=4, tombstoned=1)
    append, keys, dead = _lab_timeline(keys, dead, gap_s=10.0)
    log = clean(append, keys, dead, Cleaner(min_compaction_lag_ms=3000), until_s=20.0)
    gone = np.isfinite(log.removed_at)
    assert gone.any()
    assert (log.removed_at[gone] - log.append[gone] >= 3.0).all()
    # The closed segment's newest record was written at 0: cleanable from the wake-up at 3 s.
    assert log.cleanings[0] == 3.0


def test_tombstones_stay_delete_retention_after_the_cleaning_that_kept_them():
    keys, dead = _plan()
    append, keys, dead = _lab_timeline(keys, dead, gap_s=0.5)
    cleaner = Cleaner(delete_retention_ms=2500)
    log = clean(append, keys, dead, cleaner, until_s=20.0)
    tombs = np.flatnonzero(log.tombstone)
    assert np.isinf(log.removed_at[tombs]).all()  # no cleaning after the horizon: kept
    append, keys2, dead2 = _lab_timeline(*_plan(), gap_s=4.0)
    log = clean(append, keys2, dead2, cleaner, until_s=20.0)
    first = log.cleanings[0]
    assert (log.removed_at[np.flatnonzero(log.tombstone)] >= first + 2.5).all()


@settings(max_examples=40, deadline=None)
@given(
    keys=st.integers(2, 8),
    updates=st.integers(2, 6),
    seed=st.integers(0, 1000),
    segment_ms=st.sampled_from([50.0, 200.0, 1000.0]),
    lag_ms=st.sampled_from([0.0, 700.0]),
)
def test_a_reader_at_any_instant_gets_the_latest_state_of_what_was_written(
    keys, updates, seed, segment_ms, lag_ms
):
    k, d = _plan(keys, updates, keys // 2, seed)
    rng = np.random.default_rng(seed)
    append = np.cumsum(rng.exponential(0.1, k.size))
    cleaner = Cleaner(segment_ms=segment_ms, min_compaction_lag_ms=lag_ms, backoff_ms=300)
    log = clean(append, k, d, cleaner, until_s=float(append[-1]) + 5)
    for t in np.linspace(0, append[-1] + 5, 17):
        written = int(np.searchsorted(append, t, side="right"))
        assert log.state_at(t) == latest_state(k[:written], d[:written])


def test_bad_settings_name_the_parameter():
    with pytest.raises(ValueError, match="segment_ms"):
        Cleaner(segment_ms=0)
    with pytest.raises(ValueError, match="min_cleanable_dirty_ratio"):
        Cleaner(min_cleanable_dirty_ratio=1.5)
