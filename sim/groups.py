"""Kafka consumer groups: assignment, rebalances, poll batches and commit policies.

A group's members share the topic's partitions (``range`` or ``roundrobin``
assignment). Each member is a FIFO server over the records of its partitions, merged in
append order, polled ``max_poll_records`` at a time. The *control timeline* runs on
SimPy: the group joining, members crashing (noticed after ``session_timeout_ms``),
leaving, rejoining, pausing on a network flap or slowing down, and every rebalance
(which stops the whole group for ``rebalance_ms``). Between two control events the
assignment is fixed, so the message flow of each member is one vectorised Lindley
recursion (:func:`sim.queue.departures`) -- no event per message.

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
"""

from __future__ import annotations

import numpy as np

from sim import faults as fl
from sim.dlq import retry_cost
from sim.log import Partition, Topic
from sim.queue import departures, starts
from sim.scenario import Fault, Group
from sim.workload import Messages


def assign(members: list[int], partitions: int, strategy: str) -> np.ndarray:
    """Owner (member index) of every partition; -1 when there are no members.

    ``range``: contiguous ranges, the first ``partitions % len(members)`` members get one
    more; ``roundrobin``: partition ``p`` goes to the ``p % len(members)``-th member.
    """
    owner = np.full(partitions, -1, np.int64)
    m = sorted(members)
    if not m:
        return owner
    if strategy == "roundrobin":
        return np.array([m[p % len(m)] for p in range(partitions)], np.int64)
    per, extra = divmod(partitions, len(m))
    p = 0
    for i, c in enumerate(m):
        k = per + (1 if i < extra else 0)
        owner[p : p + k] = c
        p += k
    return owner


def poison_cost(s: np.ndarray, group: Group) -> np.ndarray:
    """Time a poison record holds a consumer (see :func:`sim.dlq.retry_cost`)."""
    return retry_cost(s, group.max_retries, group.retry_backoff_ms)


class GroupSim:
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
        self.poison = msgs.poison
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
        self.started = False
        self.t_done = group.join_at_s
        self.gen = 0
        self.rebalances = 0
        self.seen = np.zeros(n, bool) if group.commit == "idempotent" else None
        self.rec: list[tuple[np.ndarray, ...]] = []  # (ids, times, partition, offset)
        self.resets: list[tuple[float, int, int]] = []  # (time, partition, new position)
        self.dlq: list[tuple[np.ndarray, np.ndarray]] = []
        self.dropped_poison = 0
        self.skipped_by_retention = 0
        self.redelivered = 0
        self.skipped_uncommitted = 0
        self.end_time = end_time
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
        self._assign()

    def _finish(self):
        yield self.env.timeout(self.end_time)
        self.advance(self.end_time, stopping=range(self.group.consumers))

    def _members(self) -> list[int]:
        return [c for c, s in enumerate(self.status) if s in ("up", "paused")]

    def _assign(self) -> None:
        self.owner = assign(self._members(), len(self.parts), self.group.assignment)

    def _rebalance(self) -> None:
        now = self.env.now
        self.advance(now)
        if not self.started:
            return
        for c, s in enumerate(self.status):
            if s == "up":
                mine = self.owner == c
                self.committed[mine] = self.pos[mine]  # commit on revocation
        self.owner[:] = -1
        self.gen += 1
        self.rebalances += 1
        self.env.process(self._complete_rebalance(self.gen))

    def _complete_rebalance(self, gen: int):
        yield self.env.timeout(self.group.rebalance_ms / 1000.0)
        if gen != self.gen:
            return
        self.advance(self.env.now)
        self.pos[:] = self.committed
        self._assign()

    def _detect(self, c: int, incarnation: int):
        yield self.env.timeout(self.group.session_timeout_ms / 1000.0)
        if self.incarnation[c] != incarnation or self.status[c] not in ("down", "paused"):
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
        if f.kind == "consumer_leave":
            self.advance(now)
            mine = self.owner == c
            self.committed[mine] = self.pos[mine]
            self.status[c] = "left"
            self._rebalance()
            return
        self.advance(now, stopping=(c,))
        self.incarnation[c] += 1
        if f.kind == "consumer_crash":
            self._restart_from_commit(c)  # the in-memory position dies with it
            self.status[c] = "down"
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
        self.advance(now)
        self.incarnation[c] += 1
        was, kicked = self.status[c], self.kicked[c]
        self.status[c] = "up"
        self.free[c] = max(self.free[c], now)
        if was == "paused" and not kicked:
            return  # the flap was shorter than the session timeout: carry on
        if was in ("down", "left", "paused"):
            self._rebalance()  # (re)join

    def _restart_from_commit(self, c: int) -> None:
        mine = self.owner == c
        diff = self.committed[mine] - self.pos[mine]
        self.redelivered += int(np.clip(-diff, 0, None).sum())
        self.skipped_uncommitted += int(np.clip(diff, 0, None).sum())
        self.pos[mine] = self.committed[mine]

    # ------------------------------------------------------------------ message flow

    def advance(self, until: float, stopping=()) -> None:
        """Process every record that starts before ``until``; members in ``stopping`` stop
        at ``until`` and do not complete the record in hand."""
        if not self.started or until < self.t_done:
            return
        stopping = set(stopping)
        for c in range(self.group.consumers):
            if self.status[c] != "up":
                continue
            mine = np.flatnonzero(self.owner == c)
            if mine.size:
                t0 = max(self.t_done, float(self.free[c]))
                self._consume(c, mine, t0, until, c in stopping)
        self.t_done = until

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
        dele = np.concatenate([self.parts[p].delete[lo:hi] for p, lo, hi in segs])
        off = np.concatenate([np.arange(lo, hi, dtype=np.int64) for p, lo, hi in segs])
        pp = np.concatenate([np.full(hi - lo, p, np.int32) for p, lo, hi in segs])
        if len(segs) > 1:
            order = np.argsort(a, kind="stable")
            ids, a, dele, off, pp = ids[order], a[order], dele[order], off[order], pp[order]
        return ids, a, dele, off, pp, cutoff >= until

    def _consume(self, c: int, mine: np.ndarray, t0: float, until: float, stop: bool) -> None:
        g = self.group
        cap = None  # after a retention reset, work in growing chunks (bounded cost)
        while True:
            cand = self._candidates(mine, until, cap)
            if cand is None:
                return
            ids, a, dele, off, pp, complete = cand
            s = self.service[ids] * self.factor[c]
            bad = self.poison[ids]
            if bad.any():
                s = np.where(bad, poison_cost(s, g), s)
            if self.seen is not None:
                s = np.where(self.seen[ids], 0.0, s)
            d = departures(a, s, t0)
            st = starts(a, d, t0)
            n_take = int(np.searchsorted(st, until, side="left"))
            gone = np.flatnonzero(dele[:n_take] <= st[:n_take])
            if gone.size:  # fell behind retention: reset per auto_offset_reset
                i0 = int(gone[0])
                self._record(c, ids[:i0], d[:i0], pp[:i0], off[:i0])
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
            n_done = int(np.searchsorted(d[:n_take], until, side="right")) if stop else n_take
            before = self.pos.copy()
            self._record(c, ids[:n_done], d[:n_done], pp[:n_done], off[:n_done])
            if not complete and n_done == ids.size:
                t0 = float(d[-1])
                cap = 2 * cap if cap is not None else None
                continue
            if stop:
                self._commit_at_stop(mine, a, st, d, pp, off, n_done, n_take, until, t0, before)
            return

    def _record(self, c, ids, d, pp, off) -> None:
        if ids.size == 0:
            return
        np.maximum.at(self.pos, pp, off + 1)
        self.free[c] = d[-1]
        ok = ~self.poison[ids]
        if not ok.all():
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
        self.rec.append((ids, d, pp, off))

    def _commit_at_stop(self, mine, a, st, d, pp, off, n_done, n_take, until, t0, before):
        """Committed offsets of ``mine`` when their member stops at ``until``."""
        g = self.group
        if g.commit == "auto":
            tick = np.floor(until / (g.auto_commit_interval_ms / 1000.0)) * (
                g.auto_commit_interval_ms / 1000.0
            )
            com = self.committed.copy()
            if tick >= t0:
                np.maximum.at(com, mine, before[mine])
            done = np.flatnonzero(d[:n_done] <= tick)
            if done.size:
                np.maximum.at(com, pp[done], off[done] + 1)
            self.committed[mine] = com[mine]
            return
        if n_take == n_done:  # idle: the last batch was processed and committed
            self.committed[mine] = self.pos[mine]
            return
        b, end = self._batch_of(a, st, d, n_done)
        com = self.committed.copy()
        com[mine] = np.maximum(com[mine], before[mine])
        upto = end if g.commit == "before" else b
        if upto:
            np.maximum.at(com, pp[:upto], off[:upto] + 1)
        self.committed[mine] = com[mine]

    def _batch_of(self, a, st, d, k: int) -> tuple[int, int]:
        """``[start, end)`` of the poll batch holding record ``k``. Batches start at the
        first record after an idle spell and hold up to ``max_poll_records`` records that
        had arrived when the batch was polled."""
        N = self.group.max_poll_records
        idle = np.flatnonzero(a[1 : k + 1] >= d[:k]) + 1
        i = int(idle[-1]) if idle.size else 0
        while True:
            j = min(i + N, int(np.searchsorted(a, st[i], side="right")))
            j = max(j, i + 1)
            if j > k:
                return i, j
            i = j

    # ------------------------------------------------------------------ results

    def records(self) -> tuple[np.ndarray, ...]:
        """(ids, times, partition, offset) of every processing, sorted by completion time
        (stable: a member's own order is kept on ties). The group's buffers are released:
        call it once, after the run."""
        rec, self.rec, self.service = self.rec, [], None
        if not rec:
            z = np.zeros(0, np.int64)
            return z, np.zeros(0), z.astype(np.int32), z
        times = np.concatenate([r[1] for r in rec])
        order = np.argsort(times, kind="stable")
        times = times[order]
        out = [np.concatenate([r[i] for r in rec])[order] for i in (0, 2, 3)]
        return out[0], times, out[1], out[2]

    def dead_letters(self) -> tuple[np.ndarray, np.ndarray]:
        if not self.dlq:
            return np.zeros(0, np.int64), np.zeros(0)
        return np.concatenate([x[0] for x in self.dlq]), np.concatenate([x[1] for x in self.dlq])

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
