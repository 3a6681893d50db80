"""Committed-offset expiry: an empty group forgets where it was.

The group coordinator keeps a group's committed offsets while the group has members. Once
its last member has left (or been removed after ``session.timeout.ms``), the group is
*Empty*; when it stays empty for ``offsets.retention.minutes`` (7 days by default; the
group's ``offsets_retention_ms`` here) its offsets are deleted (KIP-211). A member that
joins after that has no committed offset and starts per ``auto_offset_reset``, exactly as
a brand-new group would: ``earliest`` re-reads what retention kept, ``latest`` skips to the
end. The coordinator's cleanup runs every ``offsets.retention.check.interval.ms``
(10 minutes); the model expires the offsets at the first rejoin past the retention period,
which is what a consumer can observe.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


class OffsetExpiry:
    """When the group became empty, and the offsets a rejoin finds."""

    def __init__(self, group, parts: Sequence) -> None:
        self.retention_s = group.offsets_retention_ms / 1000.0
        self.auto_offset_reset = group.auto_offset_reset
        self.parts = parts
        self.empty_since: float | None = None
        self.expirations = 0

    def on_rebalance(self, now: float, has_members: bool, committed: np.ndarray) -> tuple[int, int]:
        """Note the membership at a rebalance at ``now``. When a member rejoins an empty
        group whose offsets have expired, replace ``committed`` (in place) by the positions
        the group's ``auto_offset_reset`` gives at ``now``. Returns the records this skips and the
        records it makes the group read again."""
        if not has_members:
            if self.empty_since is None:
                self.empty_since = now
            return 0, 0
        since, self.empty_since = self.empty_since, None
        if since is None or now - since < self.retention_s:
            return 0, 0
        self.expirations += 1
        if self.auto_offset_reset == "earliest":
            reset = np.array([p.start_offset(now) for p in self.parts], np.int64)
        else:
            reset = np.array([p.end_offset(now) for p in self.parts], np.int64)
        moved = reset - committed
        committed[:] = reset
        return int(np.clip(moved, 0, None).sum()), int(np.clip(-moved, 0, None).sum())
