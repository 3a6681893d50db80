"""Operating Redis Streams: the monitoring view, dead letters, DELCONSUMER and trimming.

Four steps on one real Redis, each with its own streams and consumer groups:

1. **Dead letters.** ``messages`` records go to a stream read by group ``ops`` (consumers
   ``c1`` and ``c2``, batches of ``batch``). A delivery fails -- always for a poison record
   (``poison_fraction``, drawn with the simulator's workload generator), with probability
   ``failure_probability`` for any other (the lab's own seeded draws) -- and a failed
   record stays in the pending entries list (PEL) without ``XACK``. ``XPENDING`` and
   ``XINFO GROUPS / CONSUMERS / STREAM`` are read as the monitoring view. Then, in rounds
   of ``min_idle_ms``, a claimer moves every pending record already delivered
   ``max_deliveries`` times (the delivery count ``XPENDING`` reports) to a dead-letter
   stream (``XADD`` + ``XACK`` in one ``MULTI``) and ``XAUTOCLAIM`` s the others, which
   increments their delivery count, and processes them again.
2. **DELCONSUMER.** Consumer ``c3`` reads ``abandoned`` records and is removed with
   ``XGROUP DELCONSUMER`` while they are pending: they leave the PEL, and the group's
   last-delivered id is past them -- lost to the group. Consumer ``c4`` reads as many,
   but the claimer ``XCLAIM`` s them first: nothing is dropped.
3. **Trimming.** A second stream of ``trim_messages`` entries; group ``slow``'s consumer
   ``s1`` reads ``slow_read`` of them and dies before processing. ``XTRIM MAXLEN ~ maxlen``
   (whole macro nodes only: it keeps at least ``maxlen``), then ``XTRIM MINID`` keeping the
   newest ``minid_keep``. ``XPENDING`` still lists every id ``s1`` held; ``XRANGE`` finds no
   data for the trimmed ones and ``XAUTOCLAIM`` returns them as deleted. ``s2`` then reads
   what is left; entries trimmed before anyone read them are lost as well.
4. **One stream per shard.** The records of step 1 again, each in one of ``shards`` streams
   by its key, one consumer per stream retrying a failing record in place (``XREADGROUP``
   ``0``: its own pending entry, delivery count + 1) and dead-lettering it after
   ``max_deliveries``: the same dead letters, and every key's records in order -- where
   group ``ops``, whose failed records come back later through the claimer, reorders.

Redis 7.0 or newer: ``XAUTOCLAIM`` (6.2) returning deleted ids, ``XINFO GROUPS`` lag (7.0).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import redis

import sim.progress as progress
from labs.clients import redis_client, wait_until
from labs.experiments.streams_ops import STREAMS_OPS, workload
from labs.naming import scratch
from labs.recording import Clock, ReaderLog, Sends
from labs.workload import draw, lab_rngs
from sim.analysis.result import Result

SOURCE = "redis"
GROUP, SLOW = "ops", "slow"


@progress.task("streams-ops lab on the real Redis")
def run_streams_ops(
    *,
    messages: int = 60,
    poison_fraction: float = 0.05,
    failure_probability: float = 0.3,
    max_deliveries: int = 3,
    batch: int = 10,
    min_idle_ms: int = 50,
    abandoned: int = 5,
    trim_messages: int = 400,
    slow_read: int = 150,
    maxlen: int = 150,
    minid_keep: int = 100,
    shards: int = 2,
    num_keys: int = 10,
    seed: int = 0,
) -> Result:
    """Run the streams-ops lab; see the module docstring."""
    STREAMS_OPS.check(locals())  # ranges and defaults: labs/experiments/streams_ops.py
    params = dict(
        messages=messages,
        poison_fraction=poison_fraction,
        failure_probability=failure_probability,
        max_deliveries=max_deliveries,
        batch=batch,
        min_idle_ms=min_idle_ms,
        abandoned=abandoned,
        trim_messages=trim_messages,
        slow_read=slow_read,
        maxlen=maxlen,
        minid_keep=minid_keep,
        shards=shards,
        num_keys=num_keys,
    )
    msgs = draw(workload(**params), seed)
    fails = lab_rngs(seed, 1)[0].random((messages, max_deliveries)) < failure_probability
    fails |= msgs.poison[:, None]  # fails[i, k]: delivery k + 1 of record i fails

    with scratch("streams-ops", kafka_needed=False) as s:
        clock, sends, r = Clock(), Sends(), s.redis
        main, dlq = s.redis_name("events"), s.redis_name("dead-letters")
        trimmed = s.redis_name("trimmed")
        r.xgroup_create(main, GROUP, id="0", mkstream=True)
        r.xgroup_create(trimmed, SLOW, id="0", mkstream=True)
        ops = ReaderLog(f"stream-group:{GROUP}")
        metrics: dict[str, float] = {}

        # 1. dead letters
        for i in range(messages):
            _xadd(r, main, sends, clock, int(msgs.keys[i]))
        metrics["lag_before_reading"] = _group_info(r, main, GROUP)["lag"]

        def connect() -> redis.Redis:  # one connection per consumer, closed by scratch
            return s.track(redis_client())

        worker = _Worker(r, main, GROUP, fails, ops, clock, min_idle_ms, connect)
        worker.first_pass(batch)
        metrics.update(_monitoring(r, main, ("c1", "c2")))
        metrics.update(worker.dead_letter_rounds(dlq, max_deliveries, batch))
        metrics["pending_at_end"] = int(r.xpending(main, GROUP)["pending"])

        # 2. XGROUP DELCONSUMER with entries pending, and claimed first
        metrics.update(worker.delconsumer(sends, clock, msgs.keys, abandoned))

        # 3. trimming
        first_trimmed = len(sends)
        slow = ReaderLog(f"stream-group:{SLOW}")
        for i in range(trim_messages):
            _xadd(r, trimmed, sends, clock, i % num_keys)
        metrics.update(
            _trim(r, trimmed, slow, clock, (slow_read, maxlen, minid_keep, min_idle_ms), connect)
        )

        # 4. one stream per shard, one consumer each
        first_sharded = len(sends)
        sharded = ReaderLog("shards")
        names = [s.redis_name(f"shard-{k}") for k in range(shards)]
        metrics.update(
            _per_shard(
                r,
                names,
                s.redis_name("dead-letters-sharded"),
                sends,
                clock,
                msgs.keys,
                fails,
                sharded,
                connect,
            )
        )

        dead = ReaderLog(f"dlq:{GROUP}")
        for _id, fields in r.xrange(dlq):
            dead.processed(int(fields[b"id"]), clock.now())
        metrics["dlq_length"] = int(r.xlen(dlq))
        end = clock.now()

    n = len(sends)
    ids = np.arange(n)
    in_main, in_sharded = ids < first_trimmed, ids >= first_sharded
    in_trimmed = (ids >= first_trimmed) & ~in_sharded
    nothing = np.zeros(n, bool)
    dead_expected = nothing.copy()
    dead_expected[:messages] = fails.all(axis=1)
    history = sends.history(
        [
            ops.history(expected=in_main, available=nothing),
            dead.history(expected=dead_expected, available=nothing),
            slow.history(expected=in_trimmed, available=nothing),
            sharded.history(expected=in_sharded, available=nothing),
        ],
        end_time=end,
    )
    metrics["poison"] = int(msgs.poison.sum())
    metrics["failed_every_delivery"] = int((fails.all(axis=1) & ~msgs.poison).sum())
    metrics["failed_first_delivery"] = int(fails[:, 0].sum())
    return Result.from_history(
        "streams-ops",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            f"stream-group:{GROUP}": f"c1, c2: XREADGROUP COUNT {batch}; XACK what succeeded",
            "claimer": f"every {min_idle_ms} ms: XPENDING; delivered {max_deliveries} times "
            "-> XADD to the dead-letter stream + XACK (MULTI); else XAUTOCLAIM and retry",
            "delconsumer": f"c3 holds {abandoned} pending, XGROUP DELCONSUMER; c4 the same "
            "after XCLAIM",
            f"stream-group:{SLOW}": f"s1 reads {slow_read} and dies; XTRIM MAXLEN ~ {maxlen}; "
            f"XTRIM MINID keeping {minid_keep}; s2 XAUTOCLAIMs and reads the rest",
            "shards": f"the same records in {shards} streams by key, one consumer each, "
            f"retrying in place (XREADGROUP 0) up to {max_deliveries} deliveries",
        },
        metrics=metrics,
    )


def _xadd(r: redis.Redis, stream: str, sends: Sends, clock: Clock, key: int, **fields) -> None:
    """Record a send (its row is the message id) and XADD it with its id and key."""
    msg_id = sends.add(key, clock.now())
    r.xadd(stream, {"id": msg_id, "key": key, **fields})


def _group_info(r: redis.Redis, stream: str, group: str) -> dict:
    """XINFO GROUPS for ``group`` (str keys; ``lag`` NaN where Redis reports none)."""
    info = {g["name"].decode(): g for g in r.xinfo_groups(stream)}[group]
    lag = info.get("lag")
    return {**info, "lag": float("nan") if lag is None else int(lag)}


def _monitoring(r: redis.Redis, stream: str, consumers: tuple[str, ...]) -> dict[str, float]:
    """The monitoring view after the first pass: XPENDING, XINFO GROUPS/CONSUMERS/STREAM."""
    summary = r.xpending(stream, GROUP)
    group = _group_info(r, stream, GROUP)
    out: dict[str, float] = {
        "pending_after_first_pass": int(summary["pending"]),
        "group_pending_after_first_pass": int(group["pending"]),
        "entries_read_after_first_pass": int(group["entries-read"]),
        "lag_after_first_pass": group["lag"],
        "stream_length": int(r.xinfo_stream(stream)["length"]),
    }
    by_name = {c["name"].decode(): c for c in r.xinfo_consumers(stream, GROUP)}
    for name in consumers:
        out[f"pending:{name}"] = int(by_name[name]["pending"])
        out[f"idle_ms:{name}"] = int(by_name[name]["idle"])
    return out


class _Worker:
    """The consumers of group ``ops`` and its claimer, each on its own connection."""

    def __init__(
        self,
        r: redis.Redis,
        stream: str,
        group: str,
        fails: np.ndarray,
        log: ReaderLog,
        clock: Clock,
        min_idle_ms: int,
        connect: Callable[[], redis.Redis],
    ) -> None:
        self.r, self.stream, self.group = r, stream, group
        self.fails, self.log, self.clock = fails, log, clock
        self.min_idle_ms, self.connect = min_idle_ms, connect
        self.clients: dict[str, redis.Redis] = {}

    def client(self, name: str) -> redis.Redis:
        if name not in self.clients:
            self.clients[name] = self.connect()
        return self.clients[name]

    def _handle(self, name: str, entry_id: bytes, fields: dict, delivery: int) -> bool:
        """Process one delivery; XACK and record it on success."""
        msg_id = int(fields[b"id"])
        if msg_id < self.fails.shape[0] and self.fails[msg_id, delivery - 1]:
            return False  # fails: no XACK, stays pending
        self.log.processed(msg_id, self.clock.now())
        self.client(name).xack(self.stream, self.group, entry_id)
        return True

    def first_pass(self, batch: int) -> None:
        """c1 and c2 take turns reading new entries until none are left."""
        turn = 0
        while True:
            name = ("c1", "c2")[turn % 2]
            reply = self.client(name).xreadgroup(
                self.group, name, {self.stream: ">"}, count=batch, block=None
            )
            if not reply or not reply[0][1]:
                return
            for entry_id, fields in reply[0][1]:
                self._handle(name, entry_id, fields, 1)
            turn += 1

    def _wait_idle(self) -> None:
        wait_until(
            lambda: _all_idle(self.r, self.stream, self.group, self.min_idle_ms),
            timeout_s=5 + self.min_idle_ms / 1000,
            what=f"the pending entries of {self.stream} to be idle for {self.min_idle_ms} ms "
            "(is Redis overloaded? check: python -m labs.stack status)",
        )

    def dead_letter_rounds(self, dlq: str, max_deliveries: int, batch: int) -> dict[str, float]:
        """Claim rounds until the PEL is empty: dead-letter at ``max_deliveries``, else
        XAUTOCLAIM (delivery count + 1) and process again."""
        claimer = self.client("claimer")
        dead_counts: list[int] = []
        redelivered = 0
        for _round in range(max_deliveries + 1):
            if not int(self.r.xpending(self.stream, self.group)["pending"]):
                break
            self._wait_idle()
            for e in _pending(self.r, self.stream, self.group):
                if e["times_delivered"] >= max_deliveries:
                    dead_counts.append(_dead_letter(claimer, self.stream, self.group, dlq, e))
            for entry_id, fields, delivery in _autoclaim(
                claimer, self.stream, self.group, "claimer", self.min_idle_ms, batch
            ):
                redelivered += 1
                self._handle("claimer", entry_id, fields, delivery)
        left = int(self.r.xpending(self.stream, self.group)["pending"])
        if left:
            raise RuntimeError(
                f"{left} entries still pending after {max_deliveries + 1} claim rounds"
            )
        return {
            "dead_lettered": len(dead_counts),
            "max_delivery_count": max(dead_counts, default=0),
            "min_dead_letter_deliveries": min(dead_counts, default=0),
            "redelivered": redelivered,
        }

    def delconsumer(self, sends: Sends, clock: Clock, keys: np.ndarray, n: int) -> dict[str, float]:
        """c3 holds ``n`` pending entries and is deleted; c4 too, after XCLAIM moved them."""
        out: dict[str, float] = {}
        for name, claim_first in (("c3", False), ("c4", True)):
            for _ in range(n):
                _xadd(self.r, self.stream, sends, clock, int(keys[len(sends) % keys.size]))
            held = _read(self.client(name), self.stream, self.group, name, n)
            if claim_first:
                ids = [e[0] for e in held]
                claimed = (
                    self.client("claimer").xclaim(self.stream, self.group, "claimer", 0, ids)
                    if ids
                    else []
                )
                for entry_id, fields in claimed:
                    self._handle("claimer", entry_id, fields, 1)
                out["pending_saved_by_claim_first"] = len(claimed)
            dropped = int(self.r.xgroup_delconsumer(self.stream, self.group, name))
            key = "pending_dropped_by_delconsumer" + ("_after_claim" if claim_first else "")
            out[key] = dropped
            if not claim_first:
                out["pending_after_delconsumer"] = int(
                    self.r.xpending(self.stream, self.group)["pending"]
                )
        return out


def _read(r: redis.Redis, stream: str, group: str, name: str, n: int) -> list:
    """XREADGROUP ``>`` for up to ``n`` entries (no XACK)."""
    if n == 0:
        return []
    reply = r.xreadgroup(group, name, {stream: ">"}, count=n, block=None)
    return reply[0][1] if reply else []


def _pending(r: redis.Redis, stream: str, group: str) -> list[dict]:
    """Every entry of the group's PEL (XPENDING with the extended form)."""
    out, start = [], "-"
    while True:
        page = r.xpending_range(stream, group, min=start, max="+", count=1000)
        out += page
        if len(page) < 1000:
            return out
        start = "(" + page[-1]["message_id"].decode()


def _all_idle(r: redis.Redis, stream: str, group: str, min_idle_ms: int) -> bool:
    return all(e["time_since_delivered"] >= min_idle_ms for e in _pending(r, stream, group))


def _dead_letter(r: redis.Redis, stream: str, group: str, dlq: str, entry: dict) -> int:
    """Copy the pending entry to the dead-letter stream and XACK it, atomically."""
    entry_id = entry["message_id"]
    found = r.xrange(stream, entry_id, entry_id)
    fields = dict(found[0][1]) if found else {}
    pipe = r.pipeline(transaction=True)  # MULTI ... EXEC
    pipe.xadd(dlq, {**fields, "source_id": entry_id, "deliveries": entry["times_delivered"]})
    pipe.xack(stream, group, entry_id)
    pipe.execute()
    return int(entry["times_delivered"])


def _autoclaim(
    r: redis.Redis, stream: str, group: str, name: str, min_idle_ms: int, batch: int
) -> list[tuple[bytes, dict, int]]:
    """XAUTOCLAIM every idle pending entry: (id, fields, delivery count after the claim)."""
    out, start = [], "0-0"
    while True:
        next_id, entries, _deleted = r.xautoclaim(
            stream, group, name, min_idle_ms, start_id=start, count=batch
        )
        live = [(i, f) for i, f in entries if f is not None]
        if live:
            counts = {
                e["message_id"]: int(e["times_delivered"])
                for e in r.xpending_range(
                    stream, group, min=live[0][0], max=live[-1][0], count=len(entries)
                )
            }
            out += [(i, f, counts[i]) for i, f in live]
        if next_id in (b"0-0", "0-0"):
            return out
        start = next_id


def _trim(
    r: redis.Redis,
    stream: str,
    log: ReaderLog,
    clock: Clock,
    sizes: tuple[int, int, int, int],
    connect: Callable[[], redis.Redis],
) -> dict[str, float]:
    """Step 3: pending and unread entries against XTRIM MAXLEN ~ and MINID; ``sizes`` is
    (slow_read, maxlen, minid_keep, min_idle_ms)."""
    slow_read, maxlen, minid_keep, min_idle_ms = sizes
    s1, s2 = connect(), connect()
    held = [e[0] for e in _read(s1, stream, SLOW, "s1", slow_read)]  # s1 then dies
    before = int(r.xlen(stream))
    lag_before = _group_info(r, stream, SLOW)["lag"]
    r.xtrim(stream, maxlen=maxlen, approximate=True)
    after_maxlen = int(r.xlen(stream))
    ids = [e[0] for e in r.xrange(stream)]
    if minid_keep < len(ids):
        cut = ids[len(ids) - minid_keep] if minid_keep else _after(ids[-1])
        r.xtrim(stream, minid=cut, approximate=False)
    after_minid = int(r.xlen(stream))
    alive = {e[0] for e in r.xrange(stream)}
    pending_ids = [e["message_id"] for e in _pending(r, stream, SLOW)]
    no_data = sum(1 for i in pending_ids if not r.xrange(stream, i, i))
    group = _group_info(r, stream, SLOW)
    last = group["last-delivered-id"]
    readable = sum(1 for i in alive if _id_tuple(i) > _id_tuple(last))
    out = {
        "stream_length_before_trim": before,
        "lag_before_trim": lag_before,
        "stream_length_after_maxlen": after_maxlen,
        "trimmed_by_maxlen": before - after_maxlen,
        "stream_length_after_minid": after_minid,
        "trimmed_by_minid": after_maxlen - after_minid,
        "pending_listed_after_trim": len(pending_ids),
        "pending_trimmed": no_data,
        "lag_after_trim": group["lag"],
        "readable_after_trim": readable,
        "trimmed_unread": before - len(held) - readable,
    }
    wait_until(
        lambda: _all_idle(r, stream, SLOW, min_idle_ms),
        timeout_s=5 + min_idle_ms / 1000,
        what=f"s1's pending entries of {stream} to be idle for {min_idle_ms} ms",
    )
    deleted, claimed, start = 0, 0, "0-0"
    while True:  # s2 takes over what s1 held: the trimmed ones come back as deleted ids
        next_id, entries, gone = s2.xautoclaim(
            stream, SLOW, "s2", min_idle_ms, start_id=start, count=1000
        )
        deleted += len(gone)
        for entry_id, fields in entries:
            log.processed(int(fields[b"id"]), clock.now())
            s2.xack(stream, SLOW, entry_id)
            claimed += 1
        if next_id in (b"0-0", "0-0"):
            break
        start = next_id
    out["autoclaim_deleted"] = deleted
    out["claimed_after_trim"] = claimed
    out["pending_after_autoclaim"] = int(r.xpending(stream, SLOW)["pending"])
    while entries := _read(s2, stream, SLOW, "s2", 1000):
        for entry_id, fields in entries:
            log.processed(int(fields[b"id"]), clock.now())
            s2.xack(stream, SLOW, entry_id)
    return out


def _per_shard(
    r: redis.Redis,
    names: list[str],
    dlq: str,
    sends: Sends,
    clock: Clock,
    keys: np.ndarray,
    fails: np.ndarray,
    log: ReaderLog,
    connect: Callable[[], redis.Redis],
) -> dict[str, float]:
    """Step 4: the main records again, each in the stream of its key's shard (key modulo
    the number of streams), one consumer per stream. A failing record is retried in place
    -- XREADGROUP ``0`` hands the consumer its own pending entry again, delivery count + 1
    -- and dead-lettered after ``max_deliveries``, before the next record of the stream:
    every key's records are processed in order."""
    group, deliveries = "shard", fails.shape[1]
    for name in names:
        r.xgroup_create(name, group, id="0", mkstream=True)
    for source, key in enumerate(keys):
        _xadd(r, names[int(key) % len(names)], sends, clock, int(key), source=source)
    dead_counts: list[int] = []
    for name in names:
        consumer = connect()
        while entries := _read(consumer, name, group, "only", 1):
            entry_id, fields = entries[0]
            source, delivery = int(fields[b"source"]), 1
            while fails[source, delivery - 1] and delivery < deliveries:
                consumer.xreadgroup(group, "only", {name: "0"}, count=1)  # again: count + 1
                delivery += 1
            if fails[source, delivery - 1]:
                entry = r.xpending_range(name, group, min=entry_id, max=entry_id, count=1)[0]
                dead_counts.append(_dead_letter(consumer, name, group, dlq, entry))
                continue
            log.processed(int(fields[b"id"]), clock.now())
            consumer.xack(name, group, entry_id)
    return {
        "dead_lettered_sharded": len(dead_counts),
        "max_delivery_count_sharded": max(dead_counts, default=0),
        "min_delivery_count_sharded": min(dead_counts, default=0),
    }


def _id_tuple(entry_id: bytes | str) -> tuple[int, int]:
    text = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    ms, _, seq = text.partition("-")
    return int(ms), int(seq or 0)


def _after(entry_id: bytes) -> str:
    """The id right after ``entry_id`` (MINID that trims everything up to it)."""
    ms, seq = _id_tuple(entry_id)
    return f"{ms}-{seq + 1}"
