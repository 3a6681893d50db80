"""The retention experiment: whole segments expire; the log start offset jumps; a late
group finds what is left.

Declared once here: the lab's parameters (:data:`PARAMS`) and the twin's (:data:`TWIN`).
Lab: :func:`labs.retention.run_retention`; twin: :class:`labs.twins.retention.RetentionTwin`;
lesson: ``03_replay`` (where retention is taught). Theory: a segment rolls at the first
record more than ``segment_ms`` after its first; it is deleted at the first broker
retention check after its newest record is ``retention_ms`` old, so every record lives at
least ``retention_ms``, and the log start offset moves a segment at a time. The simulator's
model is the twin's: the lab's records at their real timestamps, with the broker's check
interval (the course's stack sets ``log.retention.check.interval.ms=1000``).
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

PARAMS = Params(
    (
        Param("rate_per_s", 50.0, "records sent per second", 1.0, 500.0, unit="msg/s"),
        Param("duration_s", 6.0, "how long records are sent", 0.5, 20.0, unit="s"),
        Param("segment_ms", 1000, "segment.ms of the topic", 100, 10000, unit="ms"),
        Param("retention_ms", 2000, "retention.ms of the topic", 100, 10000, unit="ms"),
        Param("join_after_s", 5.0, "when the late group joins", 0.0, 25.0, unit="s"),
        Param("observe_s", 9.0, "how long the log start offset is watched", 1.0, 30.0, unit="s"),
    ),
    (
        Bound("observe_s", "after the sending ends", low=lambda v: v["duration_s"] + 0.5),
        Bound("join_after_s", "before the watch ends", high=lambda v: v["observe_s"] - 0.5),
    ),
)

#: The twin: a few segments must roll and expire while the probe watches, within ~15 s.
TWIN = PARAMS.narrow(
    rate_per_s={"low": 5.0},
    duration_s={"low": 1.0, "high": 10.0},
    segment_ms={"low": 200, "high": 5000},
    retention_ms={"low": 200, "high": 5000},
    join_after_s={"low": 0.5, "high": 12.0},
    observe_s={"low": 2.0, "high": 15.0},
)


RETENTION = Experiment(
    name="retention",
    summary="segment retention: the log start offset jumps a segment at a time",
    params=PARAMS,
    lab="labs.retention:run_retention",
    lesson="03_replay",
    theory="a segment goes at the first check after its newest record is retention_ms old",
    twins={"retention": ("labs.twins.retention:RetentionTwin", TWIN)},
)
