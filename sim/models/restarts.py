"""Producer restarts: what the application re-sends, and why idempotence does not help.

A ``producer_restart`` fault (target ``log``) stops the producer at ``start_s`` and starts
a new one ``duration_s`` later. The application re-sends, through the new producer, every
record it had handed over without an acknowledgement:

- records *in flight* -- sent in the last request round trip (2 x ``network_delay_ms``)
  before the restart: the broker has written them, the response never came back. The new
  producer has a new producer id, so the broker's per-producer sequence numbers
  (idempotence) cannot recognise the second copy: **a duplicate, with or without
  ``enable_idempotence``**;
- records still in the linger batch, not sent yet: the restart loses the accumulator, the
  application sends them again -- once, later;
- records published while the producer is down wait for the new one.

With ``acks`` = "0" a send counts as acknowledged when it leaves: nothing is in flight.
Re-sent records leave when the new producer starts (``start_s + duration_s``).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from sim.core.faults import Fault


def resend(
    ids: np.ndarray,
    publish: np.ndarray,
    send: np.ndarray,
    faults: Sequence[Fault],
    delay_s: float,
    acks: str,
) -> tuple[np.ndarray, np.ndarray, int]:
    """One partition's records (message ``ids``, ``publish`` times, ``send`` times) after
    the producer restarts of ``faults``: the records sent, their send times (re-sent copies
    appended, unsorted), and how many duplicates the restarts wrote."""
    restarts = sorted(
        (f.start_s, f.start_s + f.duration_s)
        for f in faults
        if f.kind == "producer_restart" and f.target == "log"
    )
    if not restarts or ids.size == 0:
        return ids, send, 0
    round_trip = 0.0 if acks == "0" else 2.0 * delay_s
    dup = 0
    for stop, start in restarts:
        # Not sent yet (linger batch, or published while the producer is down): sent later.
        waiting = (publish < start) & (send >= stop)
        send = np.where(waiting, np.maximum(send, start), send)
        # In flight: written, not acknowledged -- re-sent as a second copy.
        in_flight = np.flatnonzero((send >= stop - round_trip) & (send < stop))
        if in_flight.size:
            ids = np.concatenate((ids, ids[in_flight]))
            publish = np.concatenate((publish, publish[in_flight]))
            send = np.concatenate((send, np.full(in_flight.size, start)))
            dup += int(in_flight.size)
    return ids, send, dup
