"""Sending on an open-loop schedule: every message that is due goes out at once.

A lab's plan says when each message is sent (run time, from the seed). One thread cannot
sleep until each instant and make one Redis round trip per message at thousands of
messages a second: a PUBLISH waits for its reply, and each wake-up is late by a little.
:func:`due_batches` keeps the schedule open-loop instead -- it never waits for a reply
before the next message is due -- by handing out, at each wake-up, every message whose
planned time has come (at most :data:`MAX_BATCH`), together with the real time ``now``
they go out: the lab sends them as one Redis pipeline and as that many Kafka ``send()``
calls, and records ``now`` as their send time. At low rates a batch is one message; when
the thread falls behind, batches grow and it catches up. The twins' measured send limit
(:mod:`labs.twins.send_limit`) is this loop's rate with every message already due.

>>> from labs.recording import Clock
>>> [b[:2] for b in due_batches(np.zeros(5), Clock(), max_batch=2)]
[(0, 2), (2, 4), (4, 5)]
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

import sim.progress as progress
from labs.clients import sleep_until
from labs.workload import payload

#: At most this many messages go out in one batch (one Redis pipeline).
MAX_BATCH = 64


def due_batches(
    plan: np.ndarray, clock, *, max_batch: int = MAX_BATCH
) -> Iterator[tuple[int, int, float]]:
    """``(start, stop, now)``: messages ``plan[start:stop]`` are due at run time ``now``
    (sorted ``plan``, run times of ``clock``); sleeps until the next one is due. The
    messages handed out are counted on a progress bar (:mod:`sim.progress`), closed when
    the loop ends (or breaks, or raises)."""
    plan = np.asarray(plan, float)
    n, i = plan.size, 0
    with progress.task("sending", total=n, unit="msg") as sent:
        while i < n:
            sleep_until(clock.at(plan[i]))
            now = clock.now()
            due = int(np.searchsorted(plan, now, side="right"))
            j = min(max(due, i + 1), i + max_batch, n)
            yield i, j, now
            i = j
            sent.set(i)


def publish_batch(redis, channel: str, ids: range) -> list[int]:
    """PUBLISH the payloads of ``ids`` to ``channel`` in one pipeline; the receiver counts."""
    pipe = redis.pipeline(transaction=False)
    for msg_id in ids:
        pipe.publish(channel, payload(msg_id))
    return [int(r) for r in pipe.execute()]
