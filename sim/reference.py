"""A per-message reference simulator, for tests that pin the fast path down.

The engine computes message flows in bulk (Lindley recursions, masks) between control
events. :func:`run_reference` runs the same scenario the naive SimPy way -- one process
per subscriber and per consumer, one event per message -- and draws from the same random
streams as :func:`sim.run` (workload, producer, one stream per subscriber and per group),
so on small inputs both must give the same history. It is slow on purpose; never use it
for experiments.

What it models:

- **Pub/Sub subscribers**: every PUBLISH reaches the subscribers connected at that instant
  (not inside a ``subscriber_down`` / ``network_flap`` window extended by the reconnect
  delay), after the network delay; each subscriber processes one message at a time
  (``slow_consumer`` multiplies the service of messages published inside its window);
  poison messages are processed but never count as delivered.
- **Kafka consumer groups** (the topic comes from :func:`sim.models.log.produce`, shared with the
  engine): one process per member that *polls* -- takes, from its positions, the records
  of its partitions appended by the poll instant, merged in append order (ties by
  partition, then offset), at most ``max_poll_records`` -- processes them one by one
  (``env.timeout(service)``, ``service x factor`` under ``slow_consumer``, the
  retry-and-backoff cost for poison records, which go to the dead-letter topic or are
  dropped), and polls again when the batch is done or, when nothing was there, when the
  next record is appended. Commit policies: ``after`` (the positions of a batch are
  committed when its last record is done) and ``before`` (the batch is committed when
  polled). Control events, with the semantics documented in :mod:`sim.models.groups`:

  - ``consumer_crash`` on ``group:g:c`` interrupts the member: the record in hand is
    abandoned and the member restarts from the committed offsets of its partitions
    (``redelivered`` / ``skipped`` count the difference); it is noticed after
    ``session_timeout_ms`` (the group rebalances without it) and rejoins at the end of
    the fault (another rebalance);
  - ``network_flap`` on ``group:g:c``: the member is stopped the same way but keeps its
    position; if the flap ends within the session timeout it carries on from there (a
    new poll), otherwise it is kicked out (restarted from its committed offsets) and
    rejoins at the end;
  - ``consumer_leave``: the member finishes the record in hand, commits, and leaves (a
    rebalance); it rejoins at the end;
  - every rebalance is eager: each running member finishes its record in hand and
    commits its position (commit on revocation, taken at the start of the rebalance and
    including that record), the whole group stops for ``rebalance_ms``, then every
    partition restarts from its committed offset under the new assignment (``range`` /
    ``roundrobin`` over the members up or flapping); a member flapping or down commits
    nothing on revocation;
  - ``slow_consumer`` on ``group:g:c`` multiplies the service of the records the member
    starts inside the window.

  Only a member's own polls, batch ends and revocations commit: other control events of
  the group (another member's fault, a slow-down) change nothing for it. A crash or flap
  always kills the record in hand, even one its member is finishing after a revocation
  (that record was committed: it is then not processed by the group). A record
  completing exactly at a control instant counts as done before it; a record (or a poll)
  due exactly at a control instant happens after it. A member keeps its clock as "start
  of its busy period + work done since", so that long backlogs carry no more rounding
  than the engine's cumulative sums. The run stops at the end time: what completes later
  is not recorded.

``sim.run`` agrees with this exactly: on the standard benchmark scenario
(``tests/sim/test_bench_reference.py``) and on random faults bunched on several members
of a group -- crashes, flaps, leaves and slow-downs landing inside each other's poll
batches and rebalances (``tests/sim/test_sim_reference.py``, which also keeps three
regression tests for differences the fast path once had).

It refuses (``ValueError``): the ``auto`` and ``idempotent`` commit policies,
``join_at_s`` and seeks, retention that would delete a record before the end of the run,
Pub/Sub output-buffer limits that could be reached, Redis Streams, and faults other
than those above (``broker_down``, ``leader_unavailable``, faults on stream groups).
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections import deque

import numpy as np
import simpy
from simpy.events import NORMAL, Event

from sim.core import faults as fl
from sim.core.engine import load
from sim.core.history import OK, History, ReaderHistory
from sim.core.workload import generate
from sim.models.assignors import assign
from sim.models.groups import poison_cost
from sim.models.log import produce

#: Faults the reference models, by target kind.
SUPPORTED_FAULTS = {
    "subscriber": ("subscriber_down", "network_flap", "slow_consumer"),
    "group": ("consumer_crash", "consumer_leave", "network_flap", "slow_consumer"),
}

#: SimPy priorities of the reference's own events at one instant: a record completing at
#: ``t`` counts before any control event at ``t`` (SimPy's timeouts are ``NORMAL``), a
#: record starting or a poll at ``t`` comes after them.
_DONE, _START = NORMAL - 2, NORMAL + 1


def run_reference(scenario, seed: int = 0, stats: dict | None = None) -> History:
    """The history of ``scenario`` computed one message at a time.

    ``stats``, if given, receives ``rebalances:group:g``, ``redelivered:group:g``,
    ``skipped:group:g``, ``dlq:group:g`` and ``dropped_poison:group:g`` -- the same counts
    as the metrics of :func:`sim.run`.
    """
    sc = load(scenario)
    for f in sc.faults:
        if f.kind not in SUPPORTED_FAULTS.get(f.target_kind, ()):
            raise ValueError(
                f'"{f.kind}" on {f.target!r} is not modelled by the reference simulator.'
            )
    if sc.topology.stream is not None:
        raise ValueError('"stream" is not modelled by the reference simulator.')
    root = np.random.SeedSequence(int(seed))
    s_work, s_prod, s_subs, s_groups, _ = root.spawn(5)
    msgs = generate(sc.workload, s_work.spawn(4))
    n = len(msgs)
    end = max(msgs.window_s, sc.workload.duration_s if sc.workload.messages is None else 0.0)
    end = max(end, max((f.end_s for f in sc.faults), default=0.0)) + sc.drain_s
    env = simpy.Environment()
    outcome = np.full(n, OK, np.int8)
    readers: list[ReaderHistory] = []
    subs_out: list[tuple[str, list, list]] = []
    partition = None

    pubsub, subs = sc.topology.pubsub, sc.consumers.subscribers
    if pubsub is not None:
        if pubsub.buffer_hard_bytes or pubsub.buffer_soft_bytes:
            big = max(pubsub.buffer_hard_bytes, pubsub.buffer_soft_bytes)
            if int(msgs.size.sum()) > big:
                raise ValueError('"buffer" limits could be reached: not modelled here.')
        seeds = s_subs.spawn(max(len(subs), 1))
        for i, sub in enumerate(subs):
            name = f"subscriber:{i}"
            service = sub.service.sample(np.random.default_rng(seeds[i]), n)
            for f in sc.faults:
                if f.kind == "slow_consumer" and f.target == name:
                    t = msgs.publish_time
                    service = np.where(
                        (t >= f.start_s) & (t < f.end_s), service * f.factor, service
                    )
            starts, ends = fl.windows(
                [f for f in sc.faults if f.target == name],
                ("subscriber_down", "network_flap"),
                (name,),
                extra_s=sub.reconnect_delay_ms / 1000.0,
            )
            ids, times = [], []
            inbox = simpy.Store(env)
            env.process(_publisher(env, msgs, inbox, starts, ends, pubsub.network_delay_ms))
            env.process(_subscriber(env, inbox, service, msgs.poison, ids, times, end))
            subs_out.append((name, ids, times))

    groups: list[_Group] = []
    if sc.topology.log is not None:
        topic = produce(sc.topology.log, msgs, sc.faults, np.random.default_rng(s_prod))
        outcome, partition = topic.outcome.copy(), topic.partition
        if any(p.delete.size and p.delete[0] <= end for p in topic.partitions):
            raise ValueError('"retention" deletes records during the run: not modelled here.')
        seeds = s_groups.spawn(max(len(sc.consumers.groups), 1))
        for g, group in enumerate(sc.consumers.groups):
            if group.join_at_s or group.seek_offset is not None or group.seek_timestamp_s:
                raise ValueError('"join_at_s" and seeks are not modelled here.')
            if group.commit not in ("after", "before"):
                raise ValueError(f'commit "{group.commit}" is not modelled here.')
            service = group.service.sample(np.random.default_rng(seeds[g]), n)
            groups.append(_Group(env, g, group, topic, msgs, sc.faults, service, end))

    env.run(until=end + 1e-9)

    expected = ~msgs.poison  # PUBLISH always succeeds here (no broker_down)
    for name, ids, times in subs_out:
        readers.append(ReaderHistory(name, np.array(ids, np.int64), np.array(times), expected))
    dlq = []
    for gr in groups:
        readers.append(gr.reader(n))
        if msgs.poison.any():
            dlq.append(gr.dead_letter_reader())
        if stats is not None:
            stats.update(gr.stats())
    return History(
        msgs.keys,
        msgs.publish_time,
        outcome,
        tuple(readers + dlq),
        partition=partition,
        end_time=end,
    )


# --------------------------------------------------------------------------- Pub/Sub


def _publisher(env, msgs, inbox, starts, ends, delay_ms):
    down = fl.inside(msgs.publish_time, starts, ends)
    for i, t in enumerate(msgs.publish_time):
        yield env.timeout(max(float(t) - env.now, 0.0))
        if not down[i]:
            env.process(_deliver(env, inbox, i, delay_ms / 1000.0))


def _deliver(env, inbox, i, delay):
    yield env.timeout(delay)
    yield inbox.put(i)


def _subscriber(env, inbox, service, poison, ids, times, end):
    while True:
        i = yield inbox.get()
        yield env.timeout(float(service[i]))
        if not poison[i] and env.now <= end:
            ids.append(i)
            times.append(env.now)


# --------------------------------------------------------------------------- consumer groups


class _At(Event):
    """An event ``delay`` from now with SimPy priority ``priority``."""

    def __init__(self, env, delay: float, priority: int) -> None:
        super().__init__(env)
        self._ok = True
        self._value = None
        env.schedule(self, priority, max(delay, 0.0))


class _InHand:
    """The record a member is processing: partition, offset, message id, completion
    time; ``last`` of its batch; ``revoked`` once its partition was taken away (it is
    finished and was committed on revocation)."""

    __slots__ = ("p", "off", "i", "d", "last", "revoked")

    def __init__(self, p: int, off: int, i: int, d: float, last: bool) -> None:
        self.p, self.off, self.i, self.d, self.last, self.revoked = p, off, i, d, last, False


class _Group:
    """One consumer group: a SimPy process per member, one event per record."""

    def __init__(self, env, index, group, topic, msgs, faults, service, end) -> None:
        self.env, self.g, self.name, self.end = env, group, f"group:{index}", end
        self.parts = topic.partitions
        self.append = [p.append.tolist() for p in self.parts]
        self.ids = [p.ids.tolist() for p in self.parts]
        self.poison = msgs.poison
        self.service = service
        P, C = len(self.parts), group.consumers
        if group.auto_offset_reset == "earliest":
            self.init = [0] * P
        else:  # latest, joining at 0: what is appended from 0 on
            self.init = [bisect_left(a, 0.0) for a in self.append]
        self.pos = list(self.init)
        self.committed = list(self.init)
        self.status = ["up"] * C
        self.kicked = [False] * C
        self.outages = [0] * C
        self.incarnation = [0] * C
        self.factor = [1.0] * C
        self.clock = [0.0] * C  # each member's own time: when it is next free
        self.base = [0.0] * C
        self.busy = [0.0] * C
        self.batch: list[deque] = [deque() for _ in range(C)]
        self.batch_parts: list[set] = [set() for _ in range(C)]
        self.inhand: list[_InHand | None] = [None] * C
        self.state = ["gate"] * C
        self.poked = [False] * C
        self.gen = 0
        self.rebalances = self.redelivered = self.skipped = self.dropped_poison = 0
        self.out_ids: list[int] = []
        self.out_times: list[float] = []
        self.dlq_ids: list[int] = []
        self.dlq_times: list[float] = []
        self.owner = [-1] * P
        self._assign()
        self.procs = [env.process(self._member(c)) for c in range(C)]
        for f in faults:
            if f.target_kind == "group" and f.target_index[0] == index:
                env.process(fl.fault_process(env, f, self._on_start, self._on_end))

    # ------------------------------------------------------------------ members

    def _owned(self, c: int) -> list[int]:
        return [p for p, o in enumerate(self.owner) if o == c]

    def _running(self, c: int) -> bool:
        return self.status[c] == "up" and c in self.owner

    def _member(self, c: int):
        env = self.env
        while True:
            self.state[c] = "gate"  # let every control event of this instant go first
            yield _At(env, self.clock[c] - env.now, _START)
            if not self._running(c):
                self.state[c] = "idle"
                try:
                    yield env.event()  # until a control event pokes this member
                except simpy.Interrupt:
                    self._woken(c)
                continue
            batch = self.batch[c]
            if not batch:
                polled, nxt = self._poll(c, self.clock[c])
                if not polled:
                    self.state[c] = "sleep" if nxt is not None else "idle"
                    try:
                        if nxt is None:
                            yield env.event()
                        else:
                            yield _At(env, nxt - env.now, _START)
                            self.clock[c] = max(self.clock[c], nxt)
                    except simpy.Interrupt:
                        self._woken(c)
                    continue
                batch.extend(polled)
                self.batch_parts[c] = {p for p, _ in polled}
                if self.g.commit == "before":  # the whole batch is committed when polled
                    for p, off in polled:
                        self.committed[p] = max(self.committed[p], off + 1)
            p, off = batch.popleft()
            i = self.ids[p][off]
            s = float(self.service[i]) * self.factor[c]
            if self.poison[i]:
                s = float(poison_cost(np.array([s]), self.g)[0])
            if self.clock[c] != self.base[c] + self.busy[c]:  # a new busy period
                self.base[c], self.busy[c] = self.clock[c], 0.0
            self.busy[c] += s  # time is kept as start of busy period + work since then
            rec = _InHand(p, off, i, self.base[c] + self.busy[c], not batch)
            self.inhand[c] = rec
            self.state[c] = "busy"
            try:
                yield _At(env, rec.d - env.now, _DONE)
            except simpy.Interrupt:
                continue  # stopped: the record in hand is abandoned
            self._complete(c, rec)

    def _woken(self, c: int) -> None:
        self.poked[c] = False
        self.clock[c] = max(self.clock[c], self.env.now)

    def _poke(self, c: int) -> None:
        """Wake member ``c`` if it waits (for a control event or the next record)."""
        if self.state[c] in ("idle", "sleep") and not self.poked[c]:
            self.poked[c] = True
            self.procs[c].interrupt()

    def _poll(self, c: int, t: float):
        """Up to ``max_poll_records`` records of member ``c``'s partitions appended by
        ``t``, in append order; or no records and the next append time (None: none)."""
        N = self.g.max_poll_records
        cand, nxt = [], None
        for p in self._owned(c):
            app, lo = self.append[p], self.pos[p]
            hi = min(bisect_right(app, t, lo), lo + N)
            cand.extend((app[k], p, k) for k in range(lo, hi))
            if lo < len(app) and (nxt is None or app[lo] < nxt):
                nxt = app[lo]
        if cand:
            cand.sort()
            return [(p, k) for _, p, k in cand[:N]], None
        return [], nxt

    def _complete(self, c: int, rec: _InHand) -> None:
        self.inhand[c] = None
        self.clock[c] = rec.d
        if rec.d > self.end:
            return  # the run is over
        if not rec.revoked:
            self.pos[rec.p] = rec.off + 1
        if self.poison[rec.i]:
            if self.g.dlq:
                self.dlq_ids.append(rec.i)
                self.dlq_times.append(rec.d)
            else:
                self.dropped_poison += 1
        else:
            self.out_ids.append(rec.i)
            self.out_times.append(rec.d)
        if rec.last and not rec.revoked and self.g.commit == "after":
            for p in self.batch_parts[c]:
                self.committed[p] = self.pos[p]

    # ------------------------------------------------------------------ control events

    def _stop(self, c: int) -> None:
        """Member ``c`` stops now: the record in hand is abandoned, the batch dropped."""
        self.batch[c].clear()
        if self.inhand[c] is not None:
            self.inhand[c] = None
            self.procs[c].interrupt()
        else:
            self._poke(c)

    def _revoke(self, c: int) -> None:
        """Member ``c`` gives its partitions up: it finishes the record in hand and
        commits its position (including that record)."""
        self.batch[c].clear()
        rec = self.inhand[c]
        if rec is not None and not rec.revoked:
            rec.revoked = True
            self.pos[rec.p] = rec.off + 1
        for p in self._owned(c):
            self.committed[p] = self.pos[p]

    def _restart_from_commit(self, c: int) -> None:
        for p in self._owned(c):
            diff = self.committed[p] - self.pos[p]
            self.redelivered += max(-diff, 0)
            self.skipped += max(diff, 0)
            self.pos[p] = self.committed[p]

    def _assign(self) -> None:
        members = [c for c, s in enumerate(self.status) if s in ("up", "paused")]
        self.owner = assign(members, len(self.parts), self.g.assignment).tolist()

    def _rebalance(self) -> None:
        for c, s in enumerate(self.status):
            if s == "up":
                self._revoke(c)
        self.owner = [-1] * len(self.parts)
        self.gen += 1
        self.rebalances += 1
        self.env.process(self._complete_rebalance(self.gen))

    def _complete_rebalance(self, gen: int):
        yield self.env.timeout(self.g.rebalance_ms / 1000.0)
        if gen != self.gen:
            return  # superseded by a later rebalance
        self.pos = list(self.committed)
        self._assign()
        for c in range(len(self.status)):
            self.batch[c].clear()
            self._poke(c)

    def _detect(self, c: int, incarnation: int):
        yield self.env.timeout(self.g.session_timeout_ms / 1000.0)
        if self.incarnation[c] != incarnation or self.status[c] not in ("down", "paused"):
            return
        self._restart_from_commit(c)
        self.status[c] = "down"
        self.kicked[c] = True
        self._rebalance()

    def _on_start(self, f) -> None:
        c = f.target_index[1]
        if f.kind == "slow_consumer":
            self.factor[c] = f.factor  # for the records started from now on
            return
        self.outages[c] += 1
        if self.outages[c] > 1 or self.status[c] != "up":
            return  # overlapping outages of one member: the first one decides
        if f.kind == "consumer_leave":
            self._revoke(c)
            self.status[c] = "left"
            self._rebalance()
            return
        self._stop(c)
        self.incarnation[c] += 1
        if f.kind == "consumer_crash":
            self._restart_from_commit(c)  # the in-memory position dies with the process
            self.status[c] = "down"
        else:  # network_flap: cannot fetch or commit; kicked out after the session timeout
            self.status[c] = "paused"
            self.kicked[c] = False
        self.env.process(self._detect(c, self.incarnation[c]))

    def _on_end(self, f) -> None:
        c = f.target_index[1]
        if f.kind == "slow_consumer":
            self.factor[c] = 1.0
            return
        self.outages[c] -= 1
        if self.outages[c] > 0:
            return  # still inside another outage
        self.incarnation[c] += 1
        was, kicked = self.status[c], self.kicked[c]
        self.status[c] = "up"
        self.clock[c] = max(self.clock[c], self.env.now)
        if was == "paused" and not kicked:
            self._poke(c)  # the flap was shorter than the session timeout: carry on
            return
        if was in ("down", "left", "paused"):
            self._rebalance()  # (re)join

    # ------------------------------------------------------------------ results

    def reader(self, n: int) -> ReaderHistory:
        ids = np.array(self.out_ids, np.int64)
        times = np.array(self.out_times, float)
        order = np.argsort(times, kind="stable")
        expected = ~self.poison.copy()
        available = np.zeros(n, bool)
        for p, part in enumerate(self.parts):
            expected[part.ids[: self.init[p]]] = False
            tail = slice(self.pos[p], None)
            available[part.ids[tail][part.delete[tail] > self.end]] = True
        return ReaderHistory(self.name, ids[order], times[order], expected, available)

    def dead_letter_reader(self) -> ReaderHistory:
        order = np.argsort(np.array(self.dlq_times), kind="stable")
        return ReaderHistory(
            f"dlq:{self.name}",
            np.array(self.dlq_ids, np.int64)[order],
            np.array(self.dlq_times, float)[order],
            expected=self.poison,
            available=np.zeros(self.poison.size, bool),
        )

    def stats(self) -> dict[str, float]:
        return {
            f"rebalances:{self.name}": float(self.rebalances),
            f"redelivered:{self.name}": float(self.redelivered),
            f"skipped:{self.name}": float(self.skipped),
            f"dlq:{self.name}": float(len(self.dlq_ids)),
            f"dropped_poison:{self.name}": float(self.dropped_poison),
        }
