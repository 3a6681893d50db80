"""The production-readiness checklist of lesson 12."""

from __future__ import annotations

#: The production-readiness checklist of lesson 12: (item, what "done" looks like).
CHECKLIST: tuple[tuple[str, str], ...] = (
    ("classification", "every event type is critical or transient, with an owner"),
    ("durability", "retention and replay needs written down; critical events on a log"),
    ("idempotency", "consumers dedupe by event id; producers idempotent (acks=all)"),
    ("naming", "topics/channels named <domain>.<entity>.<event>.v<N>, one owning team"),
    ("backpressure", "queue, shed or degrade chosen per consumer; buffer limits set"),
    ("poison messages", "bounded retries with backoff, a dead-letter topic, a replay tool"),
    ("SLOs", "p95 latency, acceptable loss and max lag per event class, alerted on"),
    ("observability", "lag and lag acceleration, DLQ volume, disconnects on a dashboard"),
    ("schema versioning", "schemas in the repo; BACKWARD/FORWARD/FULL chosen; CI rejects breaks"),
    ("failure drills", "consumer outage, broker failover and rebuild rehearsed"),
)
