"""A fixed twin calibration, for tests that run a twin's simulator half without brokers."""

from __future__ import annotations

from labs.twins import Calibration

#: What a calibration on a quiet machine measures, rounded; never measured here.
FIXED = Calibration(
    pubsub_latency_ms=0.1,
    resubscribe_ms=2.0,
    kafka_latency_ms=3.0,
    rejoin_ms=200.0,
    service_rate_per_s=100.0,
    effective_rate_per_s=95.0,
    service_overhead_ms=0.5,
    duration_s=2.0,
    measured_at="fixed for the offline tests",
)
