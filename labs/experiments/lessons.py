"""The simulator-only controls of the lessons, declared once.

A lesson's sliders for a lab's parameters come from that lab's declaration
(``EXPERIMENTS[name].params[...].widget()``). Some lessons also explore the simulator beyond
what a lab runs -- an outage of ten minutes, a consumer slowed down five times, a decision
framework's inputs. Their controls are declared here, per lesson, with the same
:class:`~labs.params.Param` records (default, range or choices, step, unit, meaning), so a
notebook builds them with ``CONTROLS[lesson].widgets()`` and a test can walk them all.
"""

from __future__ import annotations

from labs.params import Param, Params

CONTROLS: dict[str, Params] = {
    "01_two_models": Params(
        (
            Param("downtime_min", 10, "how long both readers are away", 0, 20, unit="min"),
            Param("rate_per_s", 100, "events per second", choices=(10, 100, 1000), unit="msg/s"),
        )
    ),
    "03_replay": Params(
        (
            Param("join_min", 60, "when group:1 joins", 5, 85, step=5, unit="min"),
            Param("retention_min", 45, "retention of the topic", 15, 120, step=15, unit="min"),
            Param(
                "auto_offset_reset",
                "earliest",
                "where group:1 starts",
                choices=("earliest", "latest"),
            ),
        )
    ),
    "04_ordering": Params(
        (
            Param("partitions", 4, "partitions of the topic", 1, 8),
            Param("consumers", 2, "consumers in group:1", 2, 4),
            Param("key_distribution", "uniform", "message keys", choices=("uniform", "none")),
        )
    ),
    "05_hot_partitions": Params(
        (
            Param("zipf_s", 1.3, "Zipf exponent (0 = uniform)", 0.0, 2.0, step=0.1),
            Param("partitions", 12, "partitions of the topic", 2, 24, step=2),
            Param("view", "load", "what the figure shows", choices=("load", "lag")),
        )
    ),
    "06_delivery_guarantees": Params(
        (
            Param("crash_at_s", 0.262, "when the consumer crashes", 0.05, 0.9, step=0.01, unit="s"),
            Param("max_poll_records", 10, "records per poll", 1, 50),
        )
    ),  # fmt: skip
    "08_poison_messages": Params((Param("consumers", 1, "consumers in the group", 1, 6),)),
    "09_redis_streams": Params(
        (
            Param("min_idle_ms", 5000, "XAUTOCLAIM min-idle-time", 0, 20000, step=1000, unit="ms"),
            Param(
                "session_timeout_ms",
                10000,
                "Kafka session.timeout.ms",
                1000,
                45000,
                step=1000,
                unit="ms",
            ),
            Param("down_s", 20, "how long the crashed consumers stay down", 1, 25, unit="s"),
        )
    ),  # fmt: skip
    "11_observability": Params(
        (
            Param("slow_factor", 5, "how many times slower the consumer gets", 1, 10),
            Param("lag_threshold", 1000, "lag alert threshold", 100, 3000, step=100, unit="events"),
            Param(
                "accel_threshold", 10, "lag acceleration alert threshold", 2, 50, unit="events/s²"
            ),
        )
    ),  # fmt: skip
    "12_decision_framework": Params(
        (
            Param("critical", False, "losing an event is unacceptable"),
            Param("needs_replay", False, "readers must re-read history"),
            Param("ordering", "none", "ordering required", choices=("none", "per_key")),
            Param("fan_out", 5, "independent readers", 1, 100),
            Param(
                "latency_p95_ms",
                1000,
                "p95 latency objective",
                choices=(10, 50, 100, 1000, 10000),
                unit="ms",
            ),
            Param("rate_per_s", 200, "events per second", 10, 5000, step=10, unit="msg/s"),
            Param("downtime_s", 30, "longest reader outage", 0, 600, step=10, unit="s"),
            Param(
                "max_loss_pct",
                0.01,
                "tolerated loss",
                choices=(0, 0.001, 0.01, 0.1, 1, 5),
                unit="%",
            ),
        )
    ),  # fmt: skip
    "16_rebalancing": Params(
        (
            Param(
                "event",
                "restart",
                "what the last member does",
                choices=("join", "leave", "restart"),
            ),
            Param("partitions", 6, "partitions of the topic", 2, 24),
            Param("members", 2, "members before the event", 2, 6),
            Param("rebalance_ms", 100, "one classic rebalance round", 20, 2000, step=20, unit="ms"),
            Param(
                "heartbeat_interval_ms",
                5000,
                "consumer protocol heartbeat interval",
                500,
                10000,
                step=500,
                unit="ms",
            ),
            Param("static_membership", False, "group.instance.id per member (KIP-345)"),
        )
    ),  # fmt: skip
    "17_compaction_and_outbox": Params(
        (
            Param("segment_ms", 200, "segment.ms of the topic", 100, 3000, step=100, unit="ms"),
            Param(
                "min_compaction_lag_ms",
                0,
                "min.compaction.lag.ms of the topic",
                0,
                8000,
                step=500,
                unit="ms",
            ),
            Param(
                "backoff_ms",
                1000,
                "log.cleaner.backoff.ms of the broker",
                choices=(1000, 5000, 15000),
                unit="ms",
            ),
            Param(
                "crash_pct",
                10.0,
                "requests that crash between the two writes",
                0.0,
                50.0,
                step=5.0,
                unit="%",
            ),
            Param(
                "after_commit_pct",
                50.0,
                "crashes that fall after the database commit",
                0.0,
                100.0,
                step=10.0,
                unit="%",
            ),
            Param("relay_crashes", 2, "relay crashes after publishing a batch", 0, 5),
        )
    ),  # fmt: skip
}
