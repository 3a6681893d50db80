"""Kafka rebalance protocols: how long partitions stop when a group's membership changes.

A consumer group (:mod:`sim.models.groups`) calls :meth:`Rebalancing._rebalance` whenever
a member joins, leaves, or is removed (crash or flap past the session timeout, a stall
past ``max_poll_interval_ms``). What stops, and for how long, is the group's ``protocol``:

- ``eager`` (the classic protocol, stop-the-world): every member revokes every partition
  at once (committing its position), and the new assignment arrives ``rebalance_ms``
  later. Every partition stops for ``rebalance_ms``.
- ``cooperative`` (KIP-429, incremental): members keep their partitions through the
  first round (``rebalance_ms``); at its end the members whose partitions move to another
  member revoke only those, and a second round (``rebalance_ms`` more) hands them to their
  new owners. Partitions that keep their owner never stop; a moved partition stops for
  one round (from ``rebalance_ms`` to ``2 * rebalance_ms`` after the change). Partitions
  nobody owns (a member left or was removed) are handed out at the end of the first round.
- ``consumer`` (KIP-848, Kafka 4's broker-side protocol): no global barrier. Each member
  heartbeats every ``heartbeat_interval_ms`` from the instant it joined. The coordinator
  computes the target assignment at once; a moved partition's old owner is told to release
  it at its next heartbeat and does so at once; the new owner gets it at its own next
  heartbeat after that. Partitions nobody owns go to their new owner at its next heartbeat
  (a joining member's first heartbeat is its join). ``rebalance_ms`` is not used.

Targets are sticky for ``cooperative`` and ``consumer`` (:func:`sticky`: every member keeps
what it can of a balanced share, so only the partitions a balanced assignment needs to
move do move) and the group's ``assignment`` for ``eager``.

The group keeps a record of every span a partition had no owner (from its revocation to
its next assignment): :meth:`Rebalancing.rebalance_metrics` reports their number, total and
longest (spans that begin before the end of the run).
"""

from __future__ import annotations

import math

import numpy as np

PROTOCOLS = ("eager", "cooperative", "consumer")


def sticky(members: list[int], owner: np.ndarray, partitions: int) -> np.ndarray:
    """A balanced assignment of ``partitions`` over ``members`` (counts differ by at most
    one, the larger shares to the members that already hold the most) that keeps every
    current owner's partitions (lowest first) up to its share; the rest are dealt in
    partition order to the members below their share, lowest member first."""
    m = sorted(members)
    target = np.full(partitions, -1, np.int64)
    if not m:
        return target
    per, extra = divmod(partitions, len(m))
    held = {c: np.flatnonzero(owner == c) for c in m}
    order = sorted(m, key=lambda c: (-held[c].size, c))
    share = {c: per + (1 if i < extra else 0) for i, c in enumerate(order)}
    for c in m:
        keep = held[c][: share[c]]
        target[keep] = c
    free = iter(np.flatnonzero(target < 0))
    for c in m:
        for _ in range(share[c] - int((target == c).sum())):
            target[next(free)] = c
    return target


def moved_on(protocol: str, event: str, partitions: int, members: int) -> int:
    """Partitions that stop when one member joins ``members`` (``event="join"``) or the last
    of them leaves (``"leave"``): all for ``eager``; otherwise the joiner's balanced share
    floor(P/(m+1)), or the leaver's floor(P/m) (the last member's share under range and
    sticky assignment alike)."""
    if protocol == "eager":
        return partitions
    return partitions // (members + 1) if event == "join" else partitions // members


class Rebalancing:
    """The rebalance half of :class:`~sim.models.groups.GroupSim` (see the module
    docstring). Expects the group's ``env``, ``group``, ``owner``, ``pos``, ``committed``,
    ``status``, ``gen``, ``rebalances``, ``started`` and its ``advance`` / ``_revoke`` /
    ``_members`` / ``_assign``."""

    def _init_rebalancing(self, partitions: int, consumers: int) -> None:
        self._prev_owner = np.full(partitions, -1, np.int64)
        self._unowned_at = np.full(partitions, np.nan)
        self.unowned_spans: list[tuple[int, float, float]] = []  # (partition, from, to)
        self.heartbeat0 = np.zeros(consumers)  # when each member (re)joined (``consumer``)

    # -- ownership bookkeeping -----------------------------------------------------------
    def _owners_changed(self) -> None:
        """Record the spans partitions spent without an owner (after the group started)."""
        now, prev, cur = self.env.now, self._prev_owner, self.owner
        lost = np.flatnonzero((prev >= 0) & (cur < 0))
        self._unowned_at[lost] = now
        got = np.flatnonzero((prev < 0) & (cur >= 0) & ~np.isnan(self._unowned_at))
        for p in got:
            self.unowned_spans.append((int(p), float(self._unowned_at[p]), now))
        self._unowned_at[got] = np.nan
        self._prev_owner = cur.copy()

    def rebalance_metrics(self) -> dict[str, float]:
        """``unowned_spans``, ``unowned_partition_s`` (their total), ``max_unowned_s`` (the
        longest) and ``last_reowned_s`` (when the last one ended) of this group."""
        ends = [b for _, a, b in self.unowned_spans if a < self.end_time]
        spans = [b - a for _, a, b in self.unowned_spans if a < self.end_time]
        return {
            f"unowned_spans:{self.name}": float(len(spans)),
            f"unowned_partition_s:{self.name}": float(sum(spans)),
            f"max_unowned_s:{self.name}": float(max(spans, default=0.0)),
            f"last_reowned_s:{self.name}": float(max(ends, default=float("nan"))),
        }

    def _revoke(self, c: int) -> None:
        """Member ``c`` gives its partitions up: it will finish the record in hand, and
        commits its position including that record; its poll batch is dropped."""
        h = self.hand[c]
        if h is not None and not h.revoked:
            h.revoked = True
            self.pos[h.p] = max(int(self.pos[h.p]), h.off + 1)
        mine = self.owner == c
        self.committed[mine] = self.pos[mine]
        self.rem[c] = 0
        self.bpart[c] = False

    def _partial_revoke(self, c: int, parts: np.ndarray) -> None:
        """Member ``c`` gives up only ``parts``: its position there is committed (with the
        record in hand, which it finishes), its poll batch is dropped (it polls again)."""
        h = self.hand[c]
        if h is not None and not h.revoked and h.p in set(parts.tolist()):
            h.revoked = True
            self.pos[h.p] = max(int(self.pos[h.p]), h.off + 1)
        self.committed[parts] = self.pos[parts]
        self.owner[parts] = -1
        self.rem[c] = 0
        self.bpart[c] = False

    def _give(self, parts: np.ndarray, target: np.ndarray) -> None:
        """Hand unowned ``parts`` to their ``target`` owners, from the committed offsets."""
        parts = parts[self.owner[parts] < 0]
        self.pos[parts] = self.committed[parts]
        self.owner[parts] = target[parts]
        for c in set(target[parts].tolist()):
            self.rem[c] = 0
            self.bpart[c] = False

    def _orphans(self) -> np.ndarray:
        """Partitions whose owner is no longer a member: they become unowned now."""
        members = set(self._members())
        orphan = np.array([o >= 0 and int(o) not in members for o in self.owner], bool)
        self.owner[orphan] = -1
        return np.flatnonzero(orphan)

    # -- the protocols -------------------------------------------------------------------
    def _rebalance(self) -> None:
        now = self.env.now
        self.advance(now)
        if not self.started:
            return
        self.gen += 1
        self.rebalances += 1
        proto = self.group.protocol
        if proto == "eager":
            for c, s in enumerate(self.status):
                if s == "up":
                    self._revoke(c)  # commit on revocation
        # An empty group's committed offsets expire (offsets.retention.minutes).
        skipped, reread = self.expiry.on_rebalance(now, bool(self._members()), self.committed)
        self.skipped_by_retention += skipped
        self.redelivered += reread
        if proto == "eager":
            self.owner[:] = -1
            self._owners_changed()
            self.env.process(self._complete_eager(self.gen))
            return
        self._orphans()
        self._owners_changed()
        if proto == "cooperative":
            self.env.process(self._cooperative(self.gen))
        else:
            self._consumer_protocol(self.gen)

    def _complete_eager(self, gen: int):
        yield self.env.timeout(self.group.rebalance_ms / 1000.0)
        if gen != self.gen:
            return
        self.advance(self.env.now)
        self.pos[:] = self.committed
        self._assign()
        self.rem[:] = 0
        self.bpart[:] = False
        self._owners_changed()

    def _cooperative(self, gen: int):
        r = self.group.rebalance_ms / 1000.0
        yield self.env.timeout(r)  # round 1: everyone rejoins, keeping its partitions
        if gen != self.gen:
            return
        self.advance(self.env.now)
        self._orphans()
        target = sticky(self._members(), self.owner, len(self.parts))
        moved = (self.owner >= 0) & (target != self.owner)
        for c in set(self.owner[moved].tolist()):
            self._partial_revoke(c, np.flatnonzero(moved & (self.owner == c)))
        self._give(np.flatnonzero(~moved & (self.owner < 0)), target)
        self._owners_changed()
        if not moved.any():
            return
        yield self.env.timeout(r)  # round 2: the revoked partitions are assigned
        if gen != self.gen:
            return
        self.advance(self.env.now)
        self._give(np.flatnonzero(moved), target)
        self._owners_changed()

    def next_heartbeat(self, c: int, t: float) -> float:
        """Member ``c``'s first heartbeat at or after ``t`` (every
        ``heartbeat_interval_ms`` from its join)."""
        h = self.group.heartbeat_interval_ms / 1000.0
        t0 = float(self.heartbeat0[c])
        k = max(0, math.ceil((t - t0) / h - 1e-9))
        return t0 + k * h

    def _consumer_protocol(self, gen: int) -> None:
        now = self.env.now
        target = sticky(self._members(), self.owner, len(self.parts))
        steps: list[tuple[float, int, str, int, np.ndarray]] = []
        free = np.flatnonzero(self.owner < 0)
        for c in set(target[free].tolist()):
            steps.append((self.next_heartbeat(c, now), 1, "assign", c, free[target[free] == c]))
        moved = (self.owner >= 0) & (target != self.owner)
        for old in set(self.owner[moved].tolist()):
            t_r = self.next_heartbeat(old, now)
            parts = np.flatnonzero(moved & (self.owner == old))
            steps.append((t_r, 0, "revoke", old, parts))
            for c in set(target[parts].tolist()):
                mine = parts[target[parts] == c]
                steps.append((self.next_heartbeat(c, t_r), 1, "assign", c, mine))
        steps.sort(key=lambda s: (s[0], s[1], s[3]))
        if steps:
            self.env.process(self._heartbeat_steps(gen, steps, target))

    def _heartbeat_steps(self, gen: int, steps, target: np.ndarray):
        for t, _, what, c, parts in steps:
            yield self.env.timeout(max(0.0, t - self.env.now))
            if gen != self.gen:
                return
            self.advance(self.env.now)
            if what == "revoke":
                self._partial_revoke(c, parts)
            else:
                self._give(parts, target)
            self._owners_changed()
