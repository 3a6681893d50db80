"""Kafka consumer groups: assignment, rebalances, poll batches and commit policies.

A group's members share the topic's partitions (``range`` or ``roundrobin``
assignment). Each member is a FIFO server over the records of its partitions, merged in
append order, polled ``max_poll_records`` at a time. The *control timeline* runs on
SimPy: the group joining, members crashing (noticed after ``session_timeout_ms``),
leaving, rejoining, pausing on a network flap, stalling (:mod:`sim.models.zombie`) or
slowing down, and every rebalance (per ``protocol``: :mod:`sim.models.rebalance`).
Between two control events the
assignment is fixed, so the message flow of each member is one vectorised Lindley
recursion (:func:`sim.core.queue.departures`) -- no event per message.

A control event only cuts the flow, it does not change it: each member carries across
it the poll batch it is in (how many of its records are not started yet, and its
partitions) and the record in hand (completed, and counted, only when its member gets
there). Only a member's own polls, batch ends and revocations commit; the poll batches
near the end of a segment are found in bulk (:mod:`sim.models.polls`). A crash or a
flap kills the record in hand, even one being finished after a revocation (that record
was committed on revocation: the group does not process it).

What a crash costs depends on the commit policy, evaluated at the crash instant:

- ``after`` -- offsets are committed after each processed poll batch: the records of the
  current batch processed before the crash are processed again by the next owner
  (duplicates, at-least-once);
- ``before`` -- the batch is committed when polled: its records not yet processed are
  skipped (loss, at-most-once);
- ``auto`` -- offsets processed by the last auto-commit tick (every
  ``auto_commit_interval_ms``) are committed: what came after is processed again;
- ``idempotent`` -- as ``after``, but a dedupe store of processed ids makes the second
  processing a no-op (no duplicate side effect).

Retention is checked when a record is fetched: a position that fell behind the log start
offset is reset per ``auto_offset_reset`` and the deleted records are lost for the group.
Poison records fail ``max_retries + 1`` times (with exponential backoff) and go to the
dead-letter topic.

:mod:`sim.reference` runs the same semantics one message at a time (except ``auto``,
``idempotent``, late joins, seeks and retention); ``tests/sim/test_sim_reference.py``
compares the two.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from sim.core import faults as fl
from sim.core.distributions import Service
from sim.core.faults import Fault
from sim.core.queue import departures, starts
from sim.core.validation import check_bool, check_choice, check_number, nested
from sim.core.workload import Messages
from sim.models.assignors import assign
from sim.models.dlq import retry_cost
from sim.models.group_records import RecordLog
from sim.models.log import Partition, Topic
from sim.models.offset_expiry import OffsetExpiry
from sim.models.polls import batch_at, last_batch_start
from sim.models.rebalance import PROTOCOLS, Rebalancing
from sim.models.zombie import Stalls


@dataclass(frozen=True)
class Group:
    """A Kafka consumer group.

    ``consumers`` members; partition ``assignment`` ``range`` or ``roundrobin``; ``commit``
    policy: ``auto`` (every ``auto_commit_interval_ms``), ``before`` processing
    (at-most-once), ``after`` processing (at-least-once) or ``idempotent`` (after, with a
    dedupe store: a redelivered message is recognised and skipped). ``max_poll_records``
    records per poll; a crashed member is detected after ``session_timeout_ms``, a stalled
    one after ``max_poll_interval_ms``; a rebalance round takes ``rebalance_ms`` (its
    ``protocol``: ``eager``, ``cooperative`` or ``consumer`` with heartbeats every
    ``heartbeat_interval_ms``: :mod:`sim.models.rebalance`). A ``static_membership`` member
    that leaves keeps its partitions (no rebalance) unless it is away longer than
    ``session_timeout_ms``. The group joins at ``join_at_s`` and
    starts per ``auto_offset_reset``, or at ``seek_offset`` / ``seek_timestamp_s``. A poison
    message is retried ``max_retries`` times with exponential backoff from
    ``retry_backoff_ms``, then sent to the dead-letter topic (``dlq``) or dropped. Committed
    offsets expire after ``offsets_retention_ms`` empty (:mod:`sim.models.offset_expiry`).
    """

    consumers: int = 1
    assignment: str = "range"
    commit: str = "after"
    auto_commit_interval_ms: float = 5000.0
    max_poll_records: int = 500
    service: Service = field(default_factory=lambda: Service("constant", 1.0))
    session_timeout_ms: float = 45_000.0
    rebalance_ms: float = 1000.0
    join_at_s: float = 0.0
    auto_offset_reset: str = "latest"
    seek_offset: int | None = None
    seek_timestamp_s: float | None = None
    max_retries: int = 3
    retry_backoff_ms: float = 100.0
    dlq: bool = True
    protocol: str = "eager"
    heartbeat_interval_ms: float = 5000.0
    static_membership: bool = False
    max_poll_interval_ms: float = 300_000.0
    offsets_retention_ms: float = 604_800_000.0

    _NESTED: ClassVar = {"service": Service}

    def __post_init__(self) -> None:
        nested(self)
        check_number(self, "consumers", 1, 1000, integer=True)
        check_choice(self, "assignment", ("range", "roundrobin"))
        check_choice(self, "commit", ("auto", "before", "after", "idempotent"))
        check_number(self, "auto_commit_interval_ms", 0.0, 1e9, lo_open=True)
        check_number(self, "max_poll_records", 1, 1_000_000, integer=True)
        check_number(self, "session_timeout_ms", 0.0, 1e9)
        check_number(self, "rebalance_ms", 0.0, 1e9)
        check_number(self, "offsets_retention_ms", 0.0, 1e15)
        check_number(self, "join_at_s", 0.0, 1e8)
        check_choice(self, "auto_offset_reset", ("earliest", "latest"))
        check_number(self, "seek_offset", 0, 2**62, integer=True, optional=True)
        check_number(self, "seek_timestamp_s", 0.0, 1e12, optional=True)
        check_number(self, "max_retries", 0, 1000, integer=True)
        check_number(self, "retry_backoff_ms", 0.0, 1e7)
        check_bool(self, "dlq")
        check_choice(self, "protocol", PROTOCOLS)
        check_number(self, "heartbeat_interval_ms", 0.0, 1e9, lo_open=True)
        check_bool(self, "static_membership")
        check_number(self, "max_poll_interval_ms", 0.0, 1e9, lo_open=True)
        if self.seek_offset is not None and self.seek_timestamp_s is not None:
            raise ValueError('Group "seek_offset" and "seek_timestamp_s" are exclusive.')


def poison_cost(s: np.ndarray, group: Group) -> np.ndarray:
    """Time a poison record holds a consumer (see :func:`sim.models.dlq.retry_cost`)."""
    return retry_cost(s, group.max_retries, group.retry_backoff_ms)


class _InHand:
    """A member's record in hand at a control instant: partition, offset, completion time,
    and ``rec`` -- (ids, times, partition, offset) views of length 1, as recorded;
    ``revoked`` once a rebalance took its partition (its offset was then committed: it no
    longer moves the group's position)."""

    __slots__ = ("p", "off", "d", "rec", "revoked")

    def __init__(self, rec: tuple[np.ndarray, ...]) -> None:
        self.rec, self.revoked = rec, False
        self.p, self.off, self.d = int(rec[2][0]), int(rec[3][0]), float(rec[1][0])


class GroupSim(Rebalancing, Stalls):
    """One consumer group on the SimPy control timeline (see the module docstring)."""

    def __init__(
        self,
        env,
        index: int,
        group: Group,
        topic: Topic,
        msgs: Messages,
        faults: tuple[Fault, ...],
        rng: np.random.Generator,
        end_time: float,
    ) -> None:
        self.env, self.index, self.group, self.topic = env, index, group, topic
        self.name = f"group:{index}"
        self.parts: tuple[Partition, ...] = topic.partitions
        P, C, n = len(self.parts), group.consumers, len(msgs)
        self.poison, self.any_poison = msgs.poison, bool(msgs.poison.any())
        self.service = group.service.sample(rng, n)
        self.owner = np.full(P, -1, np.int64)
        self.pos = np.zeros(P, np.int64)
        self.committed = np.zeros(P, np.int64)
        self.init_pos = np.zeros(P, np.int64)
        self.status = ["up"] * C
        self.kicked = [False] * C
        self.outages = [0] * C
        self.incarnation = [0] * C
        self.free = np.full(C, -np.inf)
        self.factor = np.ones(C)
        # Each member's poll batch (records not started yet; its partitions) and record in
        # hand, carried over control events.
        self.rem = np.zeros(C, np.int64)
        self.bpart = np.zeros((C, P), bool)
        self.hand: list[_InHand | None] = [None] * C
        self.started = False
        self.t_done = group.join_at_s
        self.gen = 0
        self.rebalances = 0
        self.seen = np.zeros(n, bool) if group.commit == "idempotent" else None
        # Offsets as int32 when every partition allows (half the memory of int64).
        self.off_dtype = np.int32 if max(map(len, self.parts), default=0) < 2**31 else np.int64
        self.log = RecordLog(sum(map(len, self.parts)), self.off_dtype)  # what it processed
        self.resets: list[tuple[float, int, int]] = []  # (time, partition, new position)
        self.dlq: list[tuple[np.ndarray, np.ndarray]] = []
        self.dropped_poison = 0
        self.skipped_by_retention = 0
        self.redelivered = 0
        self.skipped_uncommitted = 0
        self.expiry = OffsetExpiry(group, self.parts)  # offsets.retention.minutes
        self.end_time = end_time
        self._init_rebalancing(P, C)
        self._init_stalls(C)
        env.process(self._join())
        for f in faults:
            if f.target_kind == "group" and f.target_index[0] == index:
                env.process(fl.fault_process(env, f, self._on_start, self._on_end))
        env.process(self._finish())

    # ------------------------------------------------------------------ control timeline

    def _join(self):
        yield self.env.timeout(self.group.join_at_s)
        t, g = self.env.now, self.group
        for p, part in enumerate(self.parts):
            if g.seek_offset is not None:
                pos = min(g.seek_offset, part.end_offset(t))
            elif g.seek_timestamp_s is not None:
                pos = part.offset_for_time(g.seek_timestamp_s)
            elif g.auto_offset_reset == "earliest":
                pos = 0  # records already deleted are skipped (and lost) on first fetch
            else:  # latest: what is appended from the join instant on
                pos = int(np.searchsorted(part.append, t, side="left"))
            self.pos[p] = self.committed[p] = self.init_pos[p] = pos
        self.started = True
        self.t_done = t
        self.heartbeat0[:] = t
        self._assign()
        self._owners_changed()

    def _finish(self):
        yield self.env.timeout(self.end_time)
        self.advance(self.end_time, stopping=range(self.group.consumers), final=True)

    def _members(self) -> list[int]:
        return [c for c, s in enumerate(self.status) if s in ("up", "paused", "away", "stalled")]

    def _assign(self) -> None:
        self.owner = assign(self._members(), len(self.parts), self.group.assignment)

    def _detect(self, c: int, incarnation: int):
        yield self.env.timeout(self.group.session_timeout_ms / 1000.0)
        if self.incarnation[c] != incarnation or self.status[c] not in ("down", "paused", "away"):
            return
        self._restart_from_commit(c)
        self.status[c] = "down"
        self.kicked[c] = True
        self._rebalance()

    def _on_start(self, f: Fault) -> None:
        c = f.target_index[1]
        now = self.env.now
        if f.kind == "slow_consumer":
            self.advance(now)
            self.factor[c] = f.factor
            return
        self.outages[c] += 1
        if self.outages[c] > 1 or self.status[c] != "up":
            return  # overlapping outages of one consumer: the first one decides
        static = self.group.static_membership
        if f.kind == "consumer_stall":
            self.incarnation[c] += 1
            self._stall(c)
            return
        if f.kind == "consumer_leave":
            self.advance(now)
            self._revoke(c)
            self.status[c] = "away" if static else "left"  # a static member keeps its place
            if static:
                self.incarnation[c] += 1
                self.kicked[c] = False
                self.env.process(self._detect(c, self.incarnation[c]))
            else:
                self._rebalance()
            return
        self.advance(now, stopping=(c,))
        self.incarnation[c] += 1
        if f.kind == "consumer_crash":
            self._restart_from_commit(c)  # the in-memory position dies with it
            self.status[c] = "down"
            self.kicked[c] = False
        else:  # network_flap: cannot fetch or commit; kicked out after the session timeout
            self.status[c] = "paused"
            self.kicked[c] = False
        self.env.process(self._detect(c, self.incarnation[c]))

    def _on_end(self, f: Fault) -> None:
        c = f.target_index[1]
        now = self.env.now
        if f.kind == "slow_consumer":
            self.advance(now)
            self.factor[c] = 1.0
            return
        self.outages[c] -= 1
        if self.outages[c] > 0:
            return  # still inside another outage
        if self.stalled[c] is not None:  # the outage began with a stall
            self.incarnation[c] += 1
            self._wake(c)
            return
        self.advance(now)
        self.incarnation[c] += 1
        was, kicked = self.status[c], self.kicked[c]
        self.status[c] = "up"
        self.free[c] = max(self.free[c], now)
        if was in ("away", "down") and not kicked and self.group.static_membership:
            mine = self.owner == c  # back within the session timeout: no rebalance
            self.pos[mine] = self.committed[mine]
            return
        if was == "paused" and not kicked:
            return  # the flap was shorter than the session timeout: carry on
        if was in ("down", "left", "paused", "away", "zombie"):
            self.heartbeat0[c] = now
            self._rebalance()  # (re)join

    def _restart_from_commit(self, c: int) -> None:
        mine = self.owner == c
        diff = self.committed[mine] - self.pos[mine]
        self.redelivered += int(np.clip(-diff, 0, None).sum())
        self.skipped_uncommitted += int(np.clip(diff, 0, None).sum())
        self.pos[mine] = self.committed[mine]

    # ------------------------------------------------------------------ message flow

    def advance(self, until: float, stopping=(), final: bool = False) -> None:
        """Process every record that starts before ``until``. A record still in hand at
        ``until`` is kept aside (:class:`_InHand`) and counts when it completes; members in
        ``stopping`` stop at ``until`` and abandon it. ``final``: the end of the run (no
        commit or poll-batch bookkeeping)."""
        if not self.started or until < self.t_done:
            return
        stopping = set(stopping)
        auto = self.group.commit == "auto" and not final
        for c in range(self.group.consumers):
            stop = c in stopping
            h = self.hand[c]
            p_start = self.pos.copy() if auto else None
            if h is not None:
                if h.d <= until:  # completes at or before the control instant
                    self._complete_hand(c, h)
                elif stop:  # dies with its member (even a revoked one)
                    self.hand[c] = None
                    self.free[c] = until
                else:
                    continue  # busy past ``until``: nothing starts
            if self.status[c] == "up":
                mine = np.flatnonzero(self.owner == c)
                if mine.size:
                    if auto:
                        self._auto_commit_start(mine, until, p_start, h)
                    t0 = max(self.t_done, float(self.free[c]))
                    if t0 < until:
                        self._consume(c, mine, t0, until, stop, final)
            if stop:  # the poll batch is dropped: the member polls again when it resumes
                self.rem[c] = 0
                self.bpart[c] = False
        self.t_done = until
        self.log.close_stretch()  # this interval's records, member by member: in time order

    def _complete_hand(self, c: int, h: _InHand) -> None:
        """The record in hand of member ``c`` completes; ends its poll batch if last."""
        self.hand[c] = None
        self._record(c, *h.rec, move=not h.revoked)
        if not h.revoked and self.rem[c] == 0 and self.group.commit in ("after", "idempotent"):
            done = self.bpart[c]
            self.committed[done] = np.maximum(self.committed[done], self.pos[done])
            self.bpart[c] = False

    def _candidates(self, mine: np.ndarray, until: float, cap: int | None = None):
        """Records of ``mine`` from the group's positions, appended before ``until``, in
        append order -- or, with ``cap``, a prefix of them holding at most ``cap`` records
        per partition (then ``complete`` is False)."""
        segs, cutoff = [], until
        for p in mine:
            part = self.parts[p]
            lo = int(self.pos[p])
            hi = int(np.searchsorted(part.append, until, side="left"))
            if cap is not None and hi - lo > cap:
                hi = lo + cap
                cutoff = min(cutoff, float(part.append[hi]))
            if hi > lo:
                segs.append((p, lo, hi))
        if cutoff < until:  # keep the exact merged prefix: everything appended before cutoff
            segs = [
                (p, lo, min(hi, int(np.searchsorted(self.parts[p].append, cutoff, "left"))))
                for p, lo, hi in segs
            ]
            segs = [x for x in segs if x[2] > x[1]]
        if not segs:
            return None
        ids = np.concatenate([self.parts[p].ids[lo:hi] for p, lo, hi in segs])
        a = np.concatenate([self.parts[p].append[lo:hi] for p, lo, hi in segs])
        dele = None  # deletion times, when retention can delete any of these records
        if any(self.parts[p].delete[lo] < np.inf for p, lo, hi in segs):
            dele = np.concatenate([self.parts[p].delete[lo:hi] for p, lo, hi in segs])
        dt = self.off_dtype
        off = np.concatenate([np.arange(lo, hi, dtype=dt) for p, lo, hi in segs])
        pp = np.concatenate([np.full(hi - lo, p, np.int32) for p, lo, hi in segs])
        if len(segs) > 1:
            order = np.argsort(a, kind="stable")
            ids, a, off, pp = ids[order], a[order], off[order], pp[order]
            if dele is not None:
                dele = dele[order]
        return ids, a, dele, off, pp, cutoff >= until

    def _consume(
        self, c: int, mine: np.ndarray, t0: float, until: float, stop: bool, final: bool
    ) -> None:
        g = self.group
        cap = None  # after a retention reset, work in growing chunks (bounded cost)
        while True:
            cand = self._candidates(mine, until, cap)
            if cand is None:
                return
            ids, a, dele, off, pp, complete = cand
            s = self.service[ids]
            if self.factor[c] != 1.0:
                s *= self.factor[c]
            bad = self.poison[ids] if self.any_poison else None  # (no gather without poison)
            if bad is not None and bad.any():
                s = np.where(bad, poison_cost(s, g), s)
            if self.seen is not None:
                s = np.where(self.seen[ids], 0.0, s)
            d = departures(a, s, t0)
            # Records start before ``until`` while their predecessor completes before it
            # (all were appended before): no need for every start time.
            n_take = 0 if t0 >= until else 1 + int(np.searchsorted(d[:-1], until, "left"))
            gone = ()
            if dele is not None:
                st = starts(a[:n_take], d[:n_take], t0)
                gone = np.flatnonzero(dele[:n_take] <= st)
            if len(gone):  # fell behind retention: reset per auto_offset_reset
                i0 = int(gone[0])
                p0 = self.pos.copy()
                self._record(c, ids[:i0], d[:i0], pp[:i0], off[:i0])
                if not final:
                    self._flow_commits(c, mine, a, d, t0, pp, p0, i0, i0, until)
                self.rem[c] = 0  # the reset is a new fetch
                self.bpart[c] = False
                tau = float(st[i0])
                for p in mine:
                    part = self.parts[p]
                    lso = part.start_offset(tau)
                    if self.pos[p] < lso:
                        new = lso if g.auto_offset_reset == "earliest" else part.end_offset(tau)
                        self.skipped_by_retention += new - int(self.pos[p])
                        self.pos[p] = new
                        self.resets.append((tau, int(p), int(new)))
                t0 = tau
                cap = 256
                continue
            n_done = int(np.searchsorted(d[:n_take], until, side="right"))
            p0 = self.pos.copy()
            self._record(c, ids[:n_done], d[:n_done], pp[:n_done], off[:n_done])
            if n_take > n_done and not stop:  # (only the last record taken can be in hand)
                k = n_take - 1
                one = slice(k, k + 1)
                self.hand[c] = _InHand((ids[one], d[one], pp[one], off[one]))
                self.free[c] = d[k]
            if not final:
                self._flow_commits(c, mine, a, d, t0, pp, p0, n_take, n_done, until)
            if not complete and n_done == ids.size:
                t0 = float(d[-1])
                cap = 2 * cap if cap is not None else None
                continue
            return

    def _record(self, c, ids, d, pp, off, move: bool = True) -> None:
        if ids.size == 0:
            return
        if move:
            last = (self.pos - 1).astype(off.dtype)  # (one dtype: ufunc.at's fast path)
            np.maximum.at(last, pp, off)
            self.pos[:] = last + 1
        self.free[c] = d[-1]
        ok = ~self.poison[ids] if self.any_poison else None
        if ok is not None and not ok.all():
            if self.group.dlq:
                self.dlq.append((ids[~ok], d[~ok]))
            else:
                self.dropped_poison += int((~ok).sum())
            ids, d, pp, off = ids[ok], d[ok], pp[ok], off[ok]
        if self.seen is not None:
            fresh = ~self.seen[ids]
            if fresh.any():
                _, first = np.unique(ids, return_index=True)
                once = np.zeros(ids.size, bool)
                once[first] = True
                fresh &= once
            self.seen[ids] = True
            ids, d, pp, off = ids[fresh], d[fresh], pp[fresh], off[fresh]
        self.log.append(ids, d, pp, off)

    # ------------------------------------------------------------------ commits

    def _pos_at(self, p0: np.ndarray, pp: np.ndarray, n_done: int, x: int) -> np.ndarray:
        """Positions after the first ``x`` records of a chunk, given the positions before
        it (``p0``) and after its first ``n_done`` (``self.pos``): offsets are consecutive
        per partition, so counting records is enough (from the shorter side)."""
        P = len(self.parts)
        if x > n_done:
            return self.pos + np.bincount(pp[n_done:x], minlength=P)
        if x < n_done - x:
            return p0 + np.bincount(pp[:x], minlength=P)
        return self.pos - np.bincount(pp[x:n_done], minlength=P)

    def _auto_commit_start(self, mine, until: float, p_start, h) -> None:
        """``auto``: what was processed by the last tick before ``until`` and before this
        segment (or is the record in hand completed by then) is committed."""
        dt = self.group.auto_commit_interval_ms / 1000.0
        tick = np.floor(until / dt) * dt
        com = self.committed
        if tick >= self.t_done:
            com[mine] = np.maximum(com[mine], p_start[mine])
        if h is not None and not h.revoked and h.d <= tick:
            com[h.p] = max(com[h.p], h.off + 1)

    def _flow_commits(self, c, mine, a, d, t0, pp, p0, n_take: int, n_done: int, until) -> None:
        """Commits made by member ``c``'s own polls and batch ends in a chunk (appended at
        ``a``, completed at ``d``, the member free from ``t0``) of which it started
        ``n_take`` records and completed ``n_done`` by ``until``; updates the member's
        poll-batch state (``rem``: records of the current batch not started yet;
        ``bpart``: its partitions), which carries over control events."""
        g = self.group
        com = self.committed
        if g.commit == "auto":
            dt = g.auto_commit_interval_ms / 1000.0
            tick = np.floor(until / dt) * dt
            x = int(np.searchsorted(d[:n_done], tick, side="right"))
            if x:
                com[mine] = np.maximum(com[mine], self._pos_at(p0, pp, n_done, x)[mine])
            return
        if n_take == 0:
            return
        rem0, k = int(self.rem[c]), n_take - 1
        carried = k < rem0  # still inside the batch polled before this chunk
        if carried:
            b, e = 0, rem0
        else:
            start = last_batch_start(a, d, t0, rem0, k)
            b, e = batch_at(a, d, t0, start, k, g.max_poll_records)
        self.rem[c] = e - n_take
        if g.commit == "before":  # every batch polled so far is committed
            com[mine] = np.maximum(com[mine], self._pos_at(p0, pp, n_done, e)[mine])
            return
        before = self.bpart[c].copy()  # partitions of the batch carried in, if any
        if n_done == n_take and e == n_take:  # the last batch taken is done
            end = e
            self.bpart[c] = False
        else:
            end = None if carried else b
            if not carried:
                self.bpart[c] = False
                self.bpart[c, pp[b:e]] = True
        if end:  # batches done: commit each partition where its last done batch left it
            at = self._pos_at(p0, pp, n_done, end)
            done = (at > p0) | before
            com[done] = np.maximum(com[done], at[done])

    # ------------------------------------------------------------------ results

    def records(self) -> tuple[np.ndarray, ...]:
        """(ids, times, partition, offset) of every processing, sorted by completion time
        (stable: a member's own order is kept on ties). The group's buffers are released:
        call it once, after the run."""
        self.service = None
        return self.log.arrays()

    def dead_letters(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.dlq:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate([x[0] for x in self.dlq]), np.concatenate([x[1] for x in self.dlq])

    def position_updates(self, times, pp, off) -> tuple[np.ndarray, ...]:
        """The group's position updates ``(time, partition, new position)`` -- every
        processing ``(times, partition pp, offset off)`` of :meth:`records` (``off``
        becomes the new positions, in place), then every retention reset -- and the
        positions where it started (``init`` of :func:`sim.analysis.metrics.lag_profile`)."""
        off += 1
        if not self.resets:
            return times, pp, off, self.init_pos
        r = np.array(self.resets, float).reshape(-1, 3)
        ev_p = np.concatenate((pp, r[:, 1].astype(pp.dtype)))
        ev_v = np.concatenate((off, r[:, 2].astype(off.dtype)))
        return np.concatenate((times, r[:, 0])), ev_p, ev_v, self.init_pos

    def masks(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``expected`` (records at or after where the group started) and ``available``
        (still in the log and not behind the group's position) per message."""
        expected = np.ones(n, bool)
        available = np.zeros(n, bool)
        for p, part in enumerate(self.parts):
            expected[part.ids[: self.init_pos[p]]] = False
            tail = slice(int(self.pos[p]), None)
            alive = part.delete[tail] > self.end_time
            available[part.ids[tail][alive]] = True
        return expected, available
