"""Gaps: what a reader can tell it missed from the sequence number in each message.

A Pub/Sub subscriber cannot ask the channel what it missed, but if the publisher numbers
its messages (0, 1, 2, ... -- the message ids of a history) the subscriber sees a *gap*
whenever a message arrives whose number is more than one past the last one it saw. The
gateway pattern repairs the gap from a Redis Stream the publisher also writes: ``XREAD``
from the last-seen entry, up to the message that revealed the gap. A stream capped with
``MAXLEN`` keeps only its newest ``maxlen`` entries, so a gap older than that stays
partly unrepaired (``still_missing``). Missing messages after the last one received are
not detected at all (``undetected``): no later message revealed them.

One function, :func:`sequence_gaps`, for the simulator's subscribers and the lab's alike.

>>> g = sequence_gaps(np.array([0, 1, 4, 5, 7]), sent=9)
>>> g.gaps_detected, g.missed, g.repaired, g.still_missing, g.undetected
(2, 3, 3, 0, 1)
>>> sequence_gaps(np.array([0, 1, 9]), sent=10, stream_maxlen=3).still_missing
5
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Gaps:
    """What the sequence numbers of one reader's messages (in arrival order) revealed."""

    #: Times a message arrived more than one number past the last one seen.
    gaps_detected: int
    #: Messages inside those gaps (never received before the message that revealed them).
    missed: int
    #: Missed messages the stream still held when the gap was seen.
    repaired: int
    #: Missed messages the stream no longer held (trimmed by ``MAXLEN``).
    still_missing: int
    #: Messages after the last one received: no later message revealed them.
    undetected: int
    #: Arrivals numbered below the last one seen on the same connection (0 on Pub/Sub).
    reordered: int
    #: Largest single gap (messages).
    largest_gap: int

    def as_dict(self) -> dict[str, int]:
        return {k: int(v) for k, v in self.__dict__.items()}


def sequence_gaps(
    ids: np.ndarray, *, sent: int, stream_maxlen: int | None = None, published=None
) -> Gaps:
    """The gaps in ``ids`` (sequence numbers in arrival order) out of ``sent`` messages.

    ``stream_maxlen``: the repair stream keeps its newest ``stream_maxlen`` entries (None or
    0: all). ``published`` (optional): for each gap, how many messages had been published
    when it was seen (default: the number revealing it + 1, the least possible); the stream
    then holds numbers from ``published - stream_maxlen`` on.
    """
    if sent < 0:
        raise ValueError(f'"sent" must be >= 0, got {sent}.')
    if stream_maxlen is not None and stream_maxlen < 0:
        raise ValueError(f'"stream_maxlen" must be >= 0 (0: no trimming), got {stream_maxlen}.')
    ids = np.asarray(ids, np.int64)
    if ids.size and (ids.min() < 0 or ids.max() >= sent):
        raise ValueError(f'"ids" must be sequence numbers in 0..{sent - 1}.')
    # The last number seen before each arrival (-1 before the first one).
    seen_before = np.concatenate(([-1], np.maximum.accumulate(ids)[:-1])) if ids.size else ids
    size = ids - seen_before - 1
    at = np.nonzero(size > 0)[0]
    reordered = int((ids < seen_before).sum())
    missed = int(size[at].sum())
    still = 0
    if stream_maxlen:
        pub = ids[at] + 1 if published is None else np.asarray(published, np.int64)
        oldest_kept = np.maximum(pub - stream_maxlen, 0)
        first_missing = seen_before[at] + 1
        still = int(np.clip(oldest_kept - first_missing, 0, size[at]).sum())
    last = int(ids.max()) if ids.size else -1
    return Gaps(
        gaps_detected=int(at.size),
        missed=missed,
        repaired=missed - still,
        still_missing=still,
        undetected=sent - 1 - last,
        reordered=reordered,
        largest_gap=int(size[at].max()) if at.size else 0,
    )
