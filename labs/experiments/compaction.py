"""The compaction experiment: a compacted topic keeps the latest value per key; a late reader
bootstraps its state from it; tombstones delete keys.

Declared once here: the lab's parameters (:data:`PARAMS`). Lab:
:func:`labs.compaction.run_compaction`; lesson: ``17_compaction_and_outbox``. Theory: after
the cleaner has run, the cleaned part of the log (everything below the active segment and
older than ``min.compaction.lag.ms``) holds one record per key -- its latest -- and a
tombstone (null value) stays ``delete.retention.ms`` after the cleaning that kept it, then
goes with its key. What a reader rebuilds from the log is the latest state either way;
compaction only bounds how much it has to read. The simulator's model:
:mod:`sim.models.compaction`.
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

PARAMS = Params(
    (
        Param("keys", 20, "distinct keys (entities) written", 2, 500),
        Param("updates_per_key", 20, "updates written per key", 2, 200),
        Param("tombstoned_keys", 4, "keys deleted by a tombstone (null value)", 0, 499),
        Param("segment_ms", 200, "segment.ms of the topic", 100, 5000, unit="ms"),
        Param("min_compaction_lag_ms", 0, "min.compaction.lag.ms of the topic", 0, 20000,
              step=500, unit="ms"),
        Param("delete_retention_ms", 500, "delete.retention.ms: how long tombstones stay",
              0, 10000, step=100, unit="ms"),
        Param("timeout_s", 40.0, "longest wait for the cleaner", 5.0, 120.0, unit="s"),
    ),
    (
        Bound("tombstoned_keys", "fewer than keys: some must stay",
              high=lambda v: v["keys"] - 1),
        Bound("timeout_s", "min_compaction_lag_ms and 5 s for the cleaner",
              low=lambda v: v["min_compaction_lag_ms"] / 1000 + 5),
    ),
)  # fmt: skip


COMPACTION = Experiment(
    name="compaction",
    summary="a compacted topic keeps the latest value per key; tombstones delete keys",
    params=PARAMS,
    lab="labs.compaction:run_compaction",
    lesson="17_compaction_and_outbox",
    theory="after cleaning: one record per live key, tombstones gone after delete.retention.ms",
    short_run={"keys": 10, "updates_per_key": 10, "tombstoned_keys": 2},
)
