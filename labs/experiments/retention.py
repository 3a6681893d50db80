"""The retention twin's parameters: segment retention on a real broker, declared once.

The twin (:class:`labs.twins.retention.RetentionTwin`) belongs to the replay experiment
(lesson ``03_replay``, where retention is taught); its real half is
:func:`labs.retention.run_retention`. Ranges keep one run under ~15 s: a few segments must
roll and expire while the probe watches.
"""

from __future__ import annotations

from labs.params import Bound, Param, Params

TWIN = Params(
    (
        Param("rate_per_s", 50.0, "records sent per second", 5.0, 500.0, unit="msg/s"),
        Param("duration_s", 6.0, "how long records are sent", 1.0, 10.0, unit="s"),
        Param("segment_ms", 1000, "segment.ms of the topic", 200, 5000, unit="ms"),
        Param("retention_ms", 2000, "retention.ms of the topic", 200, 5000, unit="ms"),
        Param("join_after_s", 5.0, "when the late group joins", 0.5, 12.0, unit="s"),
        Param("observe_s", 9.0, "how long the log start offset is watched", 2.0, 15.0, unit="s"),
    ),
    (
        Bound("observe_s", "after the sending ends", low=lambda v: v["duration_s"] + 1.0),
        Bound("join_after_s", "before the watch ends", high=lambda v: v["observe_s"] - 0.5),
    ),
)
