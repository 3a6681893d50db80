"""Stalled consumers and zombies: a member that stops polling for a while (a long garbage
collection, a slow call) -- fault ``consumer_stall`` on ``group:g:c``.

A stall stops the member where it is: the record in hand and the rest of its poll batch
wait. A stall no longer than ``max_poll_interval_ms`` only delays them. A longer one makes
the member a *zombie*: ``max_poll_interval_ms`` after the stall began (the poll clock is
taken to start at the stall; the records of the batch before it take no time worth
counting) the group removes it and rebalances (per its ``protocol``); its partitions go to
other members from the last committed offset. When the zombie wakes up it still finishes
the record in hand and the rest of its poll batch -- their side effects happen a second
time (the new owner processes them as well): ``zombie_duplicates``. Its commit is then
rejected (generation fencing: the group's positions do not move) and it rejoins the group
(another rebalance). A group with ``commit="auto"`` keeps no poll batch: its zombie
finishes only the record in hand.

Theory: zombie duplicates = the records of the zombie's batch not completed when it
stalled (the record in hand included).
"""

from __future__ import annotations

import numpy as np


class Stalls:
    """The stall half of :class:`~sim.models.groups.GroupSim` (see the module docstring)."""

    def _init_stalls(self, consumers: int) -> None:
        self.stalled: list[tuple | None] = [None] * consumers  # (stall start, hand, batch)
        self.zombie_duplicates = 0
        self.stalls = 0  # stalls begun

    def _stall(self, c: int) -> None:
        """Member ``c`` stops: keep its record in hand and the rest of its batch aside."""
        now = self.env.now
        self.stalls += 1
        self.advance(now)
        h = self.hand[c]
        mine = np.flatnonzero(self.owner == c)
        batch = None
        n = int(self.rem[c])
        if n and mine.size:
            cand = self._candidates(mine, now)
            if cand is not None:
                ids, _, _, off, pp, _ = cand
                k = 1 if h is not None else 0
                batch = (ids[k : k + n], pp[k : k + n], off[k : k + n])
        self.hand[c] = None
        self.stalled[c] = (now, h, batch)
        self.status[c] = "stalled"
        self.env.process(self._poll_timeout(c, self.incarnation[c]))

    def _poll_timeout(self, c: int, incarnation: int):
        yield self.env.timeout(self.group.max_poll_interval_ms / 1000.0)
        if self.incarnation[c] != incarnation or self.status[c] != "stalled":
            return
        self.advance(self.env.now)
        self.status[c] = "zombie"
        self._restart_from_commit(c)
        self._rebalance()

    def _wake(self, c: int) -> None:
        """The stall ends: carry on (short stall), or finish the batch as a zombie."""
        now = self.env.now
        start, h, batch = self.stalled[c]
        self.stalled[c] = None
        self.advance(now)
        if self.status[c] == "stalled":  # shorter than max_poll_interval_ms: only delayed
            self.status[c] = "up"
            if h is not None:
                h.d += now - start
                h.rec = (h.rec[0], h.rec[1] + (now - start), h.rec[2], h.rec[3])
                self.hand[c] = h
                self.free[c] = h.d
            else:
                self.free[c] = max(float(self.free[c]), now)
            return
        t = now  # a zombie: it finishes what it holds, then its commit is rejected
        if h is not None:
            t = h.d - start + now
            self._record(c, h.rec[0], np.array([t]), h.rec[2], h.rec[3], move=False)
            self.zombie_duplicates += 1
        if batch is not None and batch[0].size:
            ids, pp, off = batch
            s = self.service[ids] * self.factor[c]
            d = t + np.cumsum(s)
            self._record(c, ids, d, pp, off, move=False)
            self.zombie_duplicates += int(ids.size)
            t = float(d[-1])
        self.free[c] = t
        self.env.process(self._rejoin_after(c, t - now))

    def _rejoin_after(self, c: int, delay: float):
        yield self.env.timeout(delay)
        if self.status[c] != "zombie":
            return
        self.status[c] = "up"
        self.heartbeat0[c] = self.env.now
        self._rebalance()
