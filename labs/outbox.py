"""The dual-write problem and the transactional outbox, with SQLite and a real Kafka.

An order service handles ``requests`` requests; each writes an order row to its database
(SQLite, stdlib ``sqlite3``, one file per design in a temporary folder) and publishes an
``OrderPlaced`` event (the order id is the event id). ``round(crash_fraction * requests)``
requests crash -- which ones, and where, drawn from the seed -- on one side of the database
commit or the other:

- **dual write** (two writes, no transaction around both): a crash *after* the commit leaves
  the row without its event (*lost*); a crash *before* the commit, once the event is out (the
  code published first, then committed), rolls the row back and leaves an event for an order
  that does not exist (*invented*).
- **transactional outbox**: the service inserts the order row and an outbox row (the event)
  in one SQLite transaction: the crash before the commit rolls back both, the crash after it
  leaves both. A relay then reads the unsent outbox rows in id order, ``relay_batch`` at a
  time, publishes them with an idempotent producer, waits for the acknowledgements and marks
  them sent. The relay crashes ``relay_crashes`` times (at full batches drawn from the seed) after
  the acknowledgements and before marking the batch sent: the relay that replaces it (a new
  producer, so a new idempotence session) publishes the batch again. The relay runs once the
  requests are done, so the counts are exact; in production it runs beside the service.

A consumer reads each design's topic to the end. Readers (message ids are the requests;
each reader is expected to process the orders its design's database committed):
``consumer:dual-write``; ``consumer:outbox`` (every event as read: the relay's duplicates);
``consumer:outbox-deduped`` (an idempotent consumer: an event id it has seen is skipped).
The checker's ``lost`` and ``duplicated`` say the rest; an event of an order that was never
committed is outside the checker's vocabulary (it counts what should have been processed)
and is the metric ``invented:<reader>``. Other metrics: ``crashes``, ``crashes_after_commit``,
``crashes_before_commit``, ``orders_committed:<design>``, ``relay_republished``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import tempfile
from pathlib import Path

import numpy as np
from kafka import TopicPartition

import sim.progress as progress
from labs.clients import WaitTimeout, read_all
from labs.experiments.outbox import OUTBOX
from labs.naming import Scratch, scratch
from labs.recording import Clock, ReaderLog
from labs.workload import lab_rngs, message_id, payload
from sim.analysis.result import Result
from sim.core.history import OK, History

SOURCE = "sqlite+kafka"
#: Where a crashed request stopped: after the event went out, before the commit ...
BEFORE_COMMIT = 1
#: ... or after the commit, before the event went out.
AFTER_COMMIT = 2
#: How long one publish may wait for its acknowledgement (s).
SEND_TIMEOUT_S = 10.0

SCHEMA = """
CREATE TABLE orders (id INTEGER PRIMARY KEY, amount INTEGER NOT NULL);
CREATE TABLE outbox (id INTEGER PRIMARY KEY, event_id INTEGER NOT NULL,
                     payload BLOB NOT NULL, sent INTEGER NOT NULL DEFAULT 0);
"""


class Crash(Exception):
    """An injected crash: the process dies here (its open transaction is rolled back)."""


def crash_plan(requests: int, crash_fraction: float, seed: int) -> np.ndarray:
    """Per request: 0 (no crash), :data:`BEFORE_COMMIT` or :data:`AFTER_COMMIT`."""
    rng = lab_rngs(seed, 2)
    plan = np.zeros(requests, np.int8)
    crashed = rng[0].choice(requests, size=round(crash_fraction * requests), replace=False)
    plan[crashed] = rng[1].choice((BEFORE_COMMIT, AFTER_COMMIT), size=crashed.size)
    return plan


def relay_crash_batches(batches: int, relay_crashes: int, seed: int) -> set[int]:
    """The batches (by index, among the ``batches`` full ones) after which the relay
    crashes, drawn from ``seed``."""
    rng = lab_rngs(seed, 3)[2]
    return set(rng.choice(batches, size=relay_crashes, replace=False).tolist())


def _database(folder: Path, name: str) -> sqlite3.Connection:
    db = sqlite3.connect(folder / f"{name}.db", isolation_level=None)  # explicit BEGIN/COMMIT
    db.executescript(SCHEMA)
    return db


def _publish(producer, topic: str, event_id: int) -> None:
    producer.send(topic, value=payload(event_id)).get(timeout=SEND_TIMEOUT_S)


def dual_write(db: sqlite3.Connection, producer, topic: str, order: int, crash: int) -> None:
    """Write the order row and publish its event, two writes with no transaction around both."""
    db.execute("BEGIN")
    try:
        db.execute("INSERT INTO orders VALUES (?, ?)", (order, 10 * order))
        if crash == BEFORE_COMMIT:  # published first, then the commit never came
            _publish(producer, topic, order)
            raise Crash(order)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if crash == AFTER_COMMIT:  # committed, then the publish never came
        raise Crash(order)
    _publish(producer, topic, order)


def outbox_write(db: sqlite3.Connection, order: int, crash: int) -> None:
    """Write the order row and its outbox row in one transaction."""
    db.execute("BEGIN")
    try:
        db.execute("INSERT INTO orders VALUES (?, ?)", (order, 10 * order))
        db.execute("INSERT INTO outbox (event_id, payload) VALUES (?, ?)", (order, payload(order)))
        if crash == BEFORE_COMMIT:
            raise Crash(order)
        db.execute("COMMIT")
    except BaseException:
        db.execute("ROLLBACK")
        raise
    if crash == AFTER_COMMIT:
        raise Crash(order)


def relay(s: Scratch, db: sqlite3.Connection, topic: str, batch: int, crash_at: set[int]) -> int:
    """Publish the unsent outbox rows until none is left; return the rows published again.

    A relay crash (at a batch index in ``crash_at``, once each) comes after the batch was
    acknowledged and before it was marked sent; a new relay with a new producer takes over.
    """
    republished, index, crashed = 0, 0, set()
    producer = s.producer()
    while True:
        rows = db.execute(
            "SELECT id, payload FROM outbox WHERE sent = 0 ORDER BY id LIMIT ?", (batch,)
        ).fetchall()
        if not rows:
            return republished
        futures = [producer.send(topic, value=bytes(p)) for _, p in rows]
        for f in futures:
            f.get(timeout=SEND_TIMEOUT_S)
        if index in crash_at and index not in crashed:  # acknowledged, not marked: crash
            crashed.add(index)
            republished += len(rows)
            producer = s.producer()  # the new relay process: a new producer session
            continue
        db.execute("BEGIN")
        db.executemany("UPDATE outbox SET sent = 1 WHERE id = ?", [(i,) for i, _ in rows])
        db.execute("COMMIT")
        index += 1


def _read(s: Scratch, topic: str, log: ReaderLog, clock: Clock, *, dedupe: ReaderLog | None):
    """Read ``topic`` to its end; ``dedupe`` also gets each event id the first time only."""
    consumer = s.consumer()
    tp = TopicPartition(topic, 0)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    end = consumer.end_offsets([tp], timeout_ms=5000)[tp]
    seen: set[int] = set()
    for r in read_all(consumer, {tp: end}, timeout_s=15.0):
        event = message_id(r.value)
        log.processed(event, clock.now())
        if dedupe is not None and event not in seen:
            seen.add(event)
            dedupe.processed(event, clock.now())
    consumer.close(autocommit=False)


@progress.task("outbox lab on the real brokers")
def run_outbox(
    *,
    requests: int = 100,
    crash_fraction: float = 0.2,
    relay_batch: int = 10,
    relay_crashes: int = 2,
    seed: int = 0,
) -> Result:
    """Run the outbox lab; see the module docstring."""
    OUTBOX.check(locals())  # ranges and defaults: labs/experiments/outbox.py
    params = dict(
        requests=requests,
        crash_fraction=crash_fraction,
        relay_batch=relay_batch,
        relay_crashes=relay_crashes,
    )
    crashes = crash_plan(requests, crash_fraction, seed)
    clock = Clock()
    times = np.zeros(requests)
    logs = {
        name: ReaderLog(f"consumer:{name}") for name in ("dual-write", "outbox", "outbox-deduped")
    }
    with (
        tempfile.TemporaryDirectory(prefix="course-outbox-") as folder,
        scratch("outbox", redis_needed=False) as s,
    ):
        dual_db, outbox_db = _database(Path(folder), "dual"), _database(Path(folder), "outbox")
        topics = {"dual-write": s.topic("dual-write"), "outbox": s.topic("outbox")}
        producer = s.producer()
        try:
            with progress.task("requests", total=requests, unit="req") as done:
                for order in range(requests):
                    times[order] = clock.now()
                    crash = int(crashes[order])
                    # A crashed request: the service restarts, the request is not retried.
                    with contextlib.suppress(Crash):
                        dual_write(dual_db, producer, topics["dual-write"], order, crash)
                    with contextlib.suppress(Crash):
                        outbox_write(outbox_db, order, crash)
                    done.advance()
            committed = outbox_db.execute("SELECT COUNT(*) FROM outbox").fetchone()[0]
            crash_at = relay_crash_batches(committed // relay_batch, relay_crashes, seed)
            with progress.step("the relay publishes the outbox"):
                republished = relay(s, outbox_db, topics["outbox"], relay_batch, crash_at)
            orders = {
                name: {int(r[0]) for r in db.execute("SELECT id FROM orders")}
                for name, db in (("dual-write", dual_db), ("outbox", outbox_db))
            }
            unsent = outbox_db.execute("SELECT COUNT(*) FROM outbox WHERE sent = 0").fetchone()[0]
        except TimeoutError as exc:
            raise WaitTimeout(
                f"a publish was not acknowledged within {SEND_TIMEOUT_S:g} s ({exc!r}); "
                "is Kafka up? (python -m labs.stack status)"
            ) from exc
        finally:
            dual_db.close()
            outbox_db.close()
        _read(s, topics["dual-write"], logs["dual-write"], clock, dedupe=None)
        _read(s, topics["outbox"], logs["outbox"], clock, dedupe=logs["outbox-deduped"])
        end = clock.now()
    readers = []
    metrics: dict[str, float] = {
        "crashes": int((crashes > 0).sum()),
        "crashes_before_commit": int((crashes == BEFORE_COMMIT).sum()),
        "crashes_after_commit": int((crashes == AFTER_COMMIT).sum()),
        "relay_republished": republished,
        "outbox_unsent": int(unsent),
    }
    for name, log in logs.items():
        design = name.split("-deduped")[0]
        expected = np.zeros(requests, bool)
        expected[sorted(orders[design])] = True
        readers.append(log.history(expected=expected))
        metrics[f"orders_committed:{design}"] = len(orders[design])
        metrics[f"invented:{log.name}"] = len(set(log.ids) - orders[design])
    history = History(
        keys=np.arange(requests, dtype=np.int64),
        publish_time=times,
        outcome=np.full(requests, OK, np.int8),
        partition=np.zeros(requests, np.int32),
        readers=tuple(readers),
        end_time=end,
    )
    return Result.from_history(
        "outbox",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "database": f"SQLite {sqlite3.sqlite_version} (one file per design)",
            "producer.enable_idempotence": True,
            "relay crashes after batches": sorted(crash_at),
        },
        metrics=metrics,
    )
