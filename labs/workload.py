"""What a lab sends: the simulator's messages for the same seed, and their payloads.

A lab draws its publish times and keys with the simulator's one workload generator:
:func:`draw` is :func:`sim.core.workload.generate` for a :class:`~sim.core.scenario.Workload`
with exactly the random streams ``sim.run(scenario, seed)`` uses, so a lab and the
simulator send the same key sequence at the same planned instants for the same seed.
Keys are integers, sent as :func:`sim.models.partitioner.key_bytes`; a payload carries the message
id (and optionally the key) so every consumer can say exactly which message it processed.

Choices only a lab makes (salt buckets, which messages fail transiently, amounts) come from
:func:`lab_rngs`: streams of their own, independent of the simulator's.
"""

from __future__ import annotations

import numpy as np

from sim.core.scenario import Workload
from sim.core.workload import Messages, generate

#: ``sim.run`` splits its seed into this many streams; the workload's is the first.
_SIM_STREAMS = 5


def draw(workload: Workload, seed: int) -> Messages:
    """The messages ``sim.run`` would generate for ``workload`` with ``seed``."""
    root = np.random.SeedSequence(int(seed))
    return generate(workload, root.spawn(_SIM_STREAMS)[0].spawn(4))


def lab_rngs(seed: int, n: int) -> list[np.random.Generator]:
    """``n`` generators for the lab's own choices, independent of the simulator's streams."""
    own = np.random.SeedSequence(int(seed)).spawn(_SIM_STREAMS + 1)[_SIM_STREAMS]
    return [np.random.default_rng(s) for s in own.spawn(n)]


def payload(msg_id: int, size_bytes: int = 0, key: int | None = None) -> bytes:
    """The message body: its id (and key, if given), padded to ``size_bytes`` if larger."""
    body = str(int(msg_id)).encode("ascii")
    if key is not None:
        body += b" " + str(int(key)).encode("ascii")
    if size_bytes > len(body):
        body += b" " * (size_bytes - len(body))
    return body


def message_id(body: bytes) -> int:
    """The id a :func:`payload` carries."""
    return int(bytes(body).split(b" ", 1)[0])


def message_key(body: bytes) -> int:
    """The key a :func:`payload` carries (``-1`` if none)."""
    parts = bytes(body).split(b" ", 2)
    return int(parts[1]) if len(parts) > 1 and parts[1] else -1
