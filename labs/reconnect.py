"""Reconnects on real Redis: a Pub/Sub gap detected and repaired, a client cache gone stale.

**Gaps (the gateway pattern).** A publisher numbers its messages: each one is appended
with ``XADD`` to a stream (``MAXLEN stream_maxlen`` if not 0) and then PUBLISHed with its
sequence number and stream entry id, at ``rate_per_s`` for ``window_s`` seconds. A
subscriber reads the channel; from ``down_from_s`` for ``down_for_s`` its connection is
really closed (Redis forgets the subscriber), then it subscribes again. When a message
arrives whose number is more than one past the last one seen, it has detected a gap: it
reads the missed entries with ``XREAD`` from its last-seen entry id (no consumer group)
and hands them to the application before the message that revealed the gap. Reported:
``gaps_detected``, ``missed``, ``repaired``, ``still_missing`` (0 unless the stream was
trimmed below the gap), and the order the subscriber saw: no number ever goes backwards
on a connection (``reordered_within_connection``), one hole at the reconnect.

**Client-side caching.** Two clients keep a local cache of ``cache_keys`` keys over RESP3
connections with ``CLIENT TRACKING on`` (the default mode, or ``tracking="bcast"``:
``BCAST PREFIX`` of the cache's keys): Redis pushes an ``invalidate`` frame on the same
connection when a key the connection read (BCAST: any key under the prefix) changes
(redis-py 7.4 hands it to the parser's invalidation handler while it reads the next reply;
the lab reads it with a ``PING`` after every update, so a read never races an
invalidation still in flight).
RESP3 rather than the RESP2 ``REDIRECT`` variant: one connection keeps invalidations and
replies in order, and redis-py's push handling did not get in the way. The cache is the
lab's own (:class:`TrackingCache`, on the parser hook redis-py's ``CacheProxyConnection``
uses): redis-py 7.4.1's built-in cache (``cache_config=``) flushes itself on every
disconnect -- so it cannot show the unflushed case -- and refuses servers older than
Redis 7.4 ("client-side caching is supported by Redis 7.4 or later"), such as the native
stack's redis-server 7.0.15 (the Docker stack runs 7.4.2).
Both caches are filled, then both connections are really closed for ``cache_down_s``
while another client updates keys (``updates_per_s``, Poisson, uniform keys, going on
after the reconnect); then both reconnect and read (``reads_per_s`` for ``read_for_s``).
One keeps its cache (``stale_reads_without_flush``: reads answered from the cache with a
value the server no longer has), the other flushes it on reconnect
(``stale_reads_with_flush``: 0). The operations are :func:`sim.models.client_cache.draw_ops`
for the seed, so the simulator replays exactly these (the ``cache_staleness`` twin).

Redis 6.0+ behaviour (run here on 7.0.15), see https://redis.io/docs/latest/develop/reference/client-side-caching/
("when the connection is lost ... flush the local cache") and
https://redis.io/docs/latest/commands/client-tracking/.
"""

from __future__ import annotations

import threading

import numpy as np
import redis

import sim.progress as progress
from labs.clients import redis_client, sleep_until, subscribe, wait_until
from labs.experiments.reconnect import RECONNECT, cache_scenario, workload
from labs.naming import Scratch, scratch
from labs.recording import Clock, LabThread, ReaderLog, Sends, join_all
from labs.sending import due_batches
from labs.workload import draw
from sim.analysis.gaps import sequence_gaps
from sim.analysis.result import Result
from sim.models import client_cache as cc

SOURCE = "redis"
#: Keys updated (and invalidated) while the caches are connected, before the outage.
WARM_UPDATES = 5


@progress.task("reconnect lab on real Redis")
def run_reconnect(
    *,
    rate_per_s: float = 200.0,
    window_s: float = 2.0,
    down_from_s: float = 0.5,
    down_for_s: float = 0.5,
    stream_maxlen: int = 0,
    num_keys: int = 10,
    cache_keys: int = 100,
    updates_per_s: float = 50.0,
    cache_down_s: float = 1.0,
    reads_per_s: float = 100.0,
    read_for_s: float = 2.0,
    tracking: str = "default",
    seed: int = 0,
) -> Result:
    """Run the reconnect lab; see the module docstring."""
    RECONNECT.check(locals())  # ranges and defaults: labs/experiments/reconnect.py
    params = {k: v for k, v in locals().items() if k in RECONNECT.params}
    with scratch("reconnect", kafka_needed=False) as s:
        with progress.step("a subscriber's gap, repaired from a stream"):
            gap = _gap_part(s, seed, params)
        with progress.step("two caching clients across a reconnect"):
            cache = _cache_part(s, seed, params)
    sends, sub_log, gw_log, metrics, end = gap
    n = len(sends)
    kept = np.arange(n) >= n - stream_maxlen if stream_maxlen else np.ones(n, bool)
    history = sends.history(
        [
            sub_log.history(available=np.zeros(n, bool)),  # Pub/Sub keeps nothing
            gw_log.history(available=kept),  # the stream keeps its last entries
        ],
        end_time=end,
    )
    return Result.from_history(
        "reconnect",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "publisher": "XADD stream"
            + (f" MAXLEN {stream_maxlen}" if stream_maxlen else "")
            + ", then PUBLISH '<seq> <entry id>'",
            "subscriber:0": "Pub/Sub; connection closed during the outage, then SUBSCRIBE again",
            "gateway:0": "subscriber:0 + XREAD from the last-seen entry id on a gap",
            "cache": f"RESP3, CLIENT TRACKING on ({tracking} mode), invalidate push frames",
        },
        metrics=metrics | cache,
    )


# ---------------------------------------------------------------------- (a) gaps, order


def _gap_part(s: Scratch, seed: int, p: dict) -> tuple:
    drawn = draw(workload(**p), seed)
    plan, keys = drawn.publish_time, drawn.keys
    stream, channel = s.redis_name("events"), s.redis_name("channel")
    down = (p["down_from_s"], p["down_from_s"] + p["down_for_s"])
    clock = Clock()
    sub_log, gw_log = ReaderLog("subscriber:0"), ReaderLog("gateway:0")
    go, stop, ready = threading.Event(), threading.Event(), threading.Event()
    gateway = _Gateway(stream, sub_log, gw_log, clock)
    thread = LabThread("subscriber", gateway.run, channel, down, go, stop, ready)
    thread.start()
    sends = Sends()
    try:
        wait_until(
            lambda: ready.is_set() or thread.error, timeout_s=10, what="the subscriber to be ready"
        )
        if thread.error:
            raise thread.error
        clock.restart()
        go.set()
        maxlen = p["stream_maxlen"] or None
        for start, stop_at, now in due_batches(plan, clock):
            pipe = s.redis.pipeline(transaction=False)
            for seq in range(start, stop_at):
                pipe.xadd(stream, {"seq": seq}, maxlen=maxlen, approximate=False)
            entry_ids = pipe.execute()
            pipe = s.redis.pipeline(transaction=False)
            for seq, entry in zip(range(start, stop_at), entry_ids, strict=True):
                pipe.publish(channel, b"%d %s" % (seq, entry))
            for seq, receivers in zip(range(start, stop_at), pipe.execute(), strict=True):
                sends.add(int(keys[seq]), now, receivers=int(receivers))
        last = len(plan) - 1
        wait_until(
            lambda: (sub_log.ids and sub_log.ids[-1] == last) or thread.error,
            timeout_s=10,
            what="the subscriber to receive the last message (python -m labs.stack status)",
        )
    finally:
        stop.set()
        join_all([thread], timeout_s=10)
    raw = sequence_gaps(np.array(sub_log.ids), sent=len(sends))
    metrics = {
        "messages": len(sends),
        "publish_zero_receivers": int((sends.array("receivers") == 0).sum()),
        "gaps_detected": gateway.gaps,
        "missed": gateway.missed,
        "repaired": gateway.repaired,
        "still_missing": gateway.missed - gateway.repaired,
        "reordered_within_connection": raw.reordered,
        "holes_in_subscriber_sequence": raw.gaps_detected,
        "gateway_order_inversions": int((np.diff(np.array(gw_log.ids)) <= 0).sum()),
        "closed_at_s": gateway.outage["closed"],
        "subscribed_at_s": gateway.outage["subscribed"],
        "last_seq_before_outage": gateway.outage["last_seq"],
    }
    return sends, sub_log, gw_log, metrics, clock.now()


class _Gateway:
    """A Pub/Sub subscriber that repairs its gaps from the stream (see the module docstring)."""

    def __init__(self, stream: str, sub_log: ReaderLog, gw_log: ReaderLog, clock: Clock) -> None:
        self.stream, self.sub_log, self.gw_log, self.clock = stream, sub_log, gw_log, clock
        self.last_seq, self.last_entry = -1, b"0-0"
        self.gaps = self.missed = self.repaired = 0
        self.outage: dict = {}

    def run(self, channel, down, go, stop, ready) -> None:
        client = redis_client()
        pubsub = subscribe(client, channel)
        ready.set()
        go.wait(15)
        away_done = False
        try:
            while not stop.is_set():
                if not away_done and self.clock.now() >= down[0]:
                    self.outage["last_seq"] = self.last_seq
                    pubsub.close()  # the TCP connection goes away: Redis forgets the subscriber
                    self.outage["closed"] = self.clock.now()
                    sleep_until(self.clock.at(down[1]))
                    pubsub = subscribe(client, channel)
                    self.outage["subscribed"] = self.clock.now()
                    away_done = True
                    continue
                wait = 0.02 if away_done else max(0.0, min(0.02, down[0] - self.clock.now()))
                msg = pubsub.get_message(timeout=wait)
                if msg is not None and msg["type"] == "message":
                    seq, entry = msg["data"].split(b" ")
                    self.receive(client, int(seq), entry)
        finally:
            pubsub.close()
            client.close()

    def receive(self, client: redis.Redis, seq: int, entry: bytes) -> None:
        now = self.clock.now()
        self.sub_log.processed(seq, now)
        if seq > self.last_seq + 1:  # a gap: read what was missed from the stream
            self.gaps += 1
            self.missed += seq - self.last_seq - 1
            self.repair(client, entry)
        self.gw_log.processed(seq, self.clock.now())
        self.last_seq, self.last_entry = seq, entry

    def repair(self, client: redis.Redis, upto: bytes) -> None:
        """XREAD from the last-seen entry id until the entry ``upto`` (exclusive)."""
        after = self.last_entry
        while True:
            reply = client.xread({self.stream: after}, count=500)
            entries = reply[0][1] if reply else []
            for entry_id, fields in entries:
                if entry_id == upto:
                    return
                self.gw_log.processed(int(fields[b"seq"]), self.clock.now())
                self.repaired += 1
            if not entries:
                raise RuntimeError(f"entry {upto!r} is not in {self.stream}: nothing to stop at")
            after = entries[-1][0]


# ---------------------------------------------------------------------- (b) client cache


class TrackingCache:
    """A local cache over one RESP3 connection with ``CLIENT TRACKING on``."""

    def __init__(
        self, names: list[str], *, flush_on_reconnect: bool, bcast_prefix: str | None = None
    ) -> None:
        self.names, self.flush_on_reconnect = names, flush_on_reconnect
        self.bcast_prefix = bcast_prefix
        self.local: dict[bytes, bytes] = {}
        self.invalidations = 0
        self.client: redis.Redis | None = None
        self.connect()

    def connect(self) -> None:
        self.client = redis_client(protocol=3, single_connection_client=True)
        self.client.connection._parser.set_invalidation_push_handler(self._invalidated)
        mode = ("BCAST", "PREFIX", self.bcast_prefix) if self.bcast_prefix else ()
        self.client.execute_command("CLIENT", "TRACKING", "ON", *mode)

    def _invalidated(self, push: list) -> None:
        keys = push[1]
        if keys is None:  # FLUSHALL / FLUSHDB: everything
            self.local.clear()
            return
        for key in keys:
            self.invalidations += 1
            self.local.pop(bytes(key), None)

    def disconnect(self) -> None:
        """Really close the connection: Redis drops this client's tracking table entries."""
        self.client.close()
        self.client = None

    def reconnect(self) -> None:
        self.connect()
        if self.flush_on_reconnect:
            self.local.clear()

    def sync(self) -> None:
        """Read every invalidation Redis sent before now (they precede the PING's reply)."""
        if self.client is not None:
            self.client.ping()

    def get(self, index: int) -> tuple[bytes | None, bool]:
        """The value of key ``index`` and whether the local cache answered."""
        name = self.names[index].encode()
        if name in self.local:
            return self.local[name], True
        value = self.client.get(name)  # tracked on this connection from now on
        self.local[name] = value
        return value, False

    def close(self) -> None:
        if self.client is not None:
            self.client.close()


def _cache_part(s: Scratch, seed: int, p: dict) -> dict:
    model = cache_scenario(**p)
    ops = cc.draw_ops(model, seed)
    prefix = s.redis_name("cache:")
    names = [f"{prefix}{k}" for k in range(model.keys)]
    bcast = prefix if p["tracking"] == "bcast" else None
    writer = s.redis
    version = np.zeros(model.keys, np.int64)
    writer.mset({name: 0 for name in names})
    caches: dict[str, TrackingCache] = {}
    counts = {name: dict(reads=0, hits=0, stale=0) for name in ("without_flush", "with_flush")}
    try:
        for name in counts:  # closed in the finally below, also when the second one fails
            caches[name] = TrackingCache(
                names, flush_on_reconnect=name == "with_flush", bcast_prefix=bcast
            )
        for cache in caches.values():  # fill
            for k in range(model.keys):
                cache.get(k)
        warm = list(range(min(WARM_UPDATES, model.keys)))
        for k in warm:  # connected: the invalidations arrive
            version[k] += 1
            writer.set(names[k], int(version[k]))
        for cache in caches.values():
            cache.sync()
        warm_invalidations = {n: c.invalidations for n, c in caches.items()}
        for cache in caches.values():
            for k in warm:
                cache.get(k)
            cache.invalidations = 0
        clock = Clock()
        for cache in caches.values():
            cache.disconnect()
        connected = False
        updated_while_down: set[int] = set()
        for kind, key, t in zip(ops.kind.tolist(), ops.key.tolist(), ops.t.tolist(), strict=True):
            sleep_until(clock.at(t))
            if kind == cc.UPDATE:
                version[key] += 1
                writer.set(names[key], int(version[key]))
                if connected:
                    for cache in caches.values():
                        cache.sync()
                else:
                    updated_while_down.add(key)
            elif kind == cc.RECONNECT:
                for cache in caches.values():
                    cache.reconnect()
                connected = True
            elif kind == cc.READ:
                server = writer.get(names[key])
                for name, cache in caches.items():
                    value, hit = cache.get(key)
                    c = counts[name]
                    c["reads"] += 1
                    c["hits"] += hit
                    c["stale"] += int(hit and value != server)
    finally:
        for cache in caches.values():
            cache.close()
    model_counts = {
        name: cc.replay(ops, flush=name == "with_flush", keys=model.keys, bcast=bool(bcast))
        for name in caches
    }
    out: dict[str, float] = {
        "cache_reads": counts["without_flush"]["reads"],
        "cache_updates": int((ops.kind == cc.UPDATE).sum()),
        "keys_updated_while_down": len(updated_while_down),
        "expected_stale_reads_without_flush": cc.expected_stale_reads(model),
    }
    for name, cache in caches.items():
        out[f"stale_reads_{name}"] = counts[name]["stale"]
        out[f"cache_hits_{name}"] = counts[name]["hits"]
        out[f"invalidations_while_connected_{name}"] = warm_invalidations[name]
        out[f"invalidations_after_reconnect_{name}"] = cache.invalidations
        out[f"model_stale_reads_{name}"] = model_counts[name].stale_reads
    return out
