"""What happened in a run, as arrays: the input of the checker.

A *history* is the record of one experiment, whether it ran in the simulator or on real
brokers. It has one row per message the producer tried to send (id, key, publish time and
the send's outcome) and, for every reader -- a Pub/Sub subscriber or a consumer group --
the sequence of messages that reader processed, with the time each processing completed.

Everything is kept in numpy arrays, never one Python object per message, so that a history
of ten million messages stays small. The checker (``sim.analysis.checker``) turns a history into the
Jepsen-style counts: acknowledged, lost, unseen, duplicated, reordered, unknown.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

#: Send outcomes, as stored in :attr:`History.outcome`.
OK = 0  #: the broker acknowledged the send (PUBLISH returned, the send future succeeded)
FAILED = 1  #: the send definitely failed
UNKNOWN = 2  #: the send timed out: it may or may not have been written

_OUTCOMES = (OK, FAILED, UNKNOWN)


def _array(name: str, values, dtype) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=dtype)
    if arr.ndim != 1:
        raise ValueError(f'"{name}" must be one-dimensional, got shape {arr.shape}.')
    arr.setflags(write=False)
    return arr


@dataclass(frozen=True)
class ReaderHistory:
    """What one reader (a subscriber or a consumer group) processed.

    ``ids`` are message ids in the order the reader completed them, ``times`` the completion
    times in seconds (same clock as :attr:`History.publish_time`). A message processed twice
    appears twice. ``expected`` (optional, bool per sent message) says which messages this
    reader should have processed -- by default every acknowledged one. ``available`` (optional,
    bool per sent message) marks messages still retrievable when the run ended (still in the
    log or stream); an expected message never processed counts as *unseen* if available, as
    *lost* otherwise.
    """

    name: str
    ids: np.ndarray
    times: np.ndarray
    expected: np.ndarray | None = None
    available: np.ndarray | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "ids", _array("ids", self.ids, np.int64))
        object.__setattr__(self, "times", _array("times", self.times, np.float64))
        if self.ids.shape != self.times.shape:
            raise ValueError(
                f'"times" must have one entry per processed id: {self.times.size} times for '
                f"{self.ids.size} ids in reader {self.name!r}."
            )
        for name in ("expected", "available"):
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _array(name, value, bool))


@dataclass(frozen=True)
class History:
    """The sends of one run and what each reader processed.

    Message ids are ``0 .. n-1`` (the row index); ``keys`` are integers (a key's index in
    the workload's key space; ``-1`` for a null key), ``publish_time`` in seconds,
    ``outcome`` one of :data:`OK`, :data:`FAILED`, :data:`UNKNOWN`. ``partition`` is the
    partition (or ``-1`` where there is none, as for Pub/Sub).
    """

    keys: np.ndarray
    publish_time: np.ndarray
    outcome: np.ndarray
    readers: tuple[ReaderHistory, ...] = ()
    partition: np.ndarray | None = None
    end_time: float = field(default=float("nan"))

    def __post_init__(self) -> None:
        object.__setattr__(self, "keys", _array("keys", self.keys, np.int64))
        object.__setattr__(self, "publish_time", _array("publish_time", self.publish_time, float))
        object.__setattr__(self, "outcome", _array("outcome", self.outcome, np.int8))
        n = self.keys.size
        for name in ("publish_time", "outcome"):
            if getattr(self, name).size != n:
                raise ValueError(f'"{name}" must have {n} entries (one per sent message).')
        if n and not np.isin(self.outcome, _OUTCOMES).all():
            raise ValueError('"outcome" entries must be OK (0), FAILED (1) or UNKNOWN (2).')
        if self.partition is None:
            object.__setattr__(self, "partition", _array("partition", np.full(n, -1), np.int32))
        else:
            object.__setattr__(self, "partition", _array("partition", self.partition, np.int32))
            if self.partition.size != n:
                raise ValueError(f'"partition" must have {n} entries (one per sent message).')
        readers = tuple(self.readers)
        names = [r.name for r in readers]
        if len(set(names)) != len(names):
            raise ValueError(f'"readers" must have distinct names, got {names}.')
        for r in readers:
            if r.ids.size and (r.ids.min() < 0 or r.ids.max() >= n):
                raise ValueError(f'reader {r.name!r} "ids" must be message ids in 0..{n - 1}.')
            for name in ("expected", "available"):
                mask = getattr(r, name)
                if mask is not None and mask.size != n:
                    raise ValueError(
                        f'reader {r.name!r} "{name}" must have {n} entries (one per message).'
                    )
        object.__setattr__(self, "readers", readers)

    @property
    def messages(self) -> int:
        return int(self.keys.size)

    def reader(self, name: str) -> ReaderHistory:
        for r in self.readers:
            if r.name == name:
                return r
        raise KeyError(f"no reader named {name!r}; readers are {[r.name for r in self.readers]}")
