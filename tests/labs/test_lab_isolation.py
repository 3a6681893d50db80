"""Isolation: every lab run deletes its topics, groups, keys and streams -- also on failure."""

from __future__ import annotations

import pytest

import labs.naming
from labs import registry
from labs.clients import kafka_admin, redis_client
from labs.naming import scratch
from labs.stack import private_redis

pytestmark = pytest.mark.brokers

#: Cheap parameters: every lab, a second or two each.
CHEAP = {
    "loss": dict(rate_per_s=100.0, window_s=1.0, down_from_s=0.3, down_for_s=0.3),
    "replay": dict(
        messages=20, seek_offset=5, retained_messages=5, offline_messages=5, retention_ms=300
    ),
    "hot_partitions": dict(rate_per_s=500.0, window_s=0.5),
    "idempotency": dict(messages=20, crash_after=5, commit_every=3),
    "ordering": dict(messages=60, rebalance_at_s=0.05, service_rate_per_s=200.0),
    "backpressure": dict(rate_per_s=100.0, window_s=0.5, message_bytes=1024),
    "poison": dict(messages=20),
    "streams": dict(messages=20, crash_after=5, batch=4),
    "streams_ops": dict(messages=20, trim_messages=50, slow_read=10, maxlen=20, minid_keep=10),
    "hybrid": dict(rate_per_s=100.0, window_s=1.0, down_from_s=0.3, down_for_s=0.3),
    "partitioners": dict(partitions=2, num_keys=10, messages=20),
    "rebalance": dict(partitions=2, members=1, rate_per_s=20, after_s=0.0),
    "zombie": dict(
        messages=20, batch=5, batches_before=1, stall_at=2, max_poll_interval_ms=500, stall_s=2.5
    ),
    "retention": dict(
        duration_s=0.5, segment_ms=100, retention_ms=100, join_after_s=0.5, observe_s=1.0
    ),
    "reconnect": dict(
        rate_per_s=100.0,
        window_s=0.8,
        down_from_s=0.2,
        down_for_s=0.3,
        cache_down_s=0.2,
        read_for_s=0.2,
    ),
    "compaction": dict(keys=4, updates_per_key=3, tombstoned_keys=1),
    "transactions": dict(transactions=2, records_per_transaction=2, aborted=1),
    "outbox": dict(requests=10, relay_batch=5, relay_crashes=1),
    "throughput": dict(
        configs="quick", point_s=0.2, min_rate_per_s=100.0, max_rate_per_s=100.0, steps=1
    ),
    "redis_durability": dict(records=20, rate_per_s=100.0, lag_ms=50.0, kill_after_s=0.3),
}


def leftovers(run_ids: set[str]) -> list[str]:
    """Topics, consumer groups and Redis keys whose names carry one of ``run_ids``."""
    admin = kafka_admin()
    try:
        names = list(admin.list_topics()) + [g["group_id"] for g in admin.list_groups()]
    finally:
        admin.close()
    r = redis_client()
    try:
        names += [k.decode() for k in r.scan_iter(match="course:*", count=1000)]
    finally:
        r.close()
    return [n for n in names if any(run_id in n for run_id in run_ids)]


def test_every_lab_cleans_up():
    # The durability lab runs on the 3-broker cluster: tests/cluster checks its cleanup.
    assert set(CHEAP) == {name for name, lab in registry.LABS.items() if not lab.needs_cluster}
    run_ids = set()
    for name, params in CHEAP.items():
        result = registry.run(name, **params)
        run_ids.add(result.settings["run_id"])
    assert len(run_ids) == len(CHEAP)
    assert leftovers(run_ids) == []
    assert private_redis.leftovers() == ()  # the redis-durability lab's own servers


@pytest.mark.parametrize(
    ("name", "where", "params"),
    [
        # The streams lab made a topic, a stream, a group and Kafka groups by then.
        ("streams", "labs.streams._Consumer.autoclaim", dict(messages=20, crash_after=5, batch=4)),
        # The streams-ops lab made its main, dead-letter and trimmed streams and groups by
        # then (it fails after the trim).
        (
            "streams_ops",
            "labs.streams_ops._id_tuple",
            dict(messages=20, trim_messages=50, slow_read=10, maxlen=20),
        ),
    ],
)
def test_cleanup_after_a_failing_lab(monkeypatch, name, where, params):
    monkeypatch.setattr(labs.naming, "new_run_id", lambda: "failrun0test1")

    def broken(*args, **kwargs):
        raise RuntimeError("the lab broke half-way")

    monkeypatch.setattr(where, broken)
    with pytest.raises(RuntimeError, match="half-way"):
        registry.run(name, **params)
    assert leftovers({"failrun0test1"}) == []


def test_scratch_deletes_what_it_handed_out_on_exception(monkeypatch):
    monkeypatch.setattr(labs.naming, "new_run_id", lambda: "failrun0test2")
    with pytest.raises(KeyError), scratch("iso") as s:
        topic = s.topic("t", partitions=2)
        group = s.group("g")
        producer = s.producer()
        producer.send(topic, value=b"0").get(timeout=10)
        consumer = s.consumer(topic, group_id=group)
        while not consumer.poll(timeout_ms=200):
            pass
        consumer.commit()
        s.redis.set(s.redis_name("k"), 1)
        s.redis.xadd(s.redis_name("stream"), {"a": 1})
        assert len(leftovers({"failrun0test2"})) == 4  # topic, group, key, stream
        raise KeyError("boom")
    assert leftovers({"failrun0test2"}) == []
