"""What really happened in a lab, recorded as the simulator records it.

A lab keeps one clock (:class:`Clock`, seconds since the run started on the monotonic
clock), records every send with its outcome as the broker reported it (:class:`Sends`:
PUBLISH's receiver count, the Kafka send future's success, failure or timeout) and, per
reader, every message it processed and when (:class:`ReaderLog`). From those it builds the
:class:`sim.core.history.History` the checker reads, and the time series a notebook plots
(lag = messages sent so far minus messages processed so far).
"""

from __future__ import annotations

import contextlib
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from kafka.errors import KafkaTimeoutError

from sim.analysis.result import Series
from sim.core.history import FAILED, OK, UNKNOWN, History, ReaderHistory


class Clock:
    """Seconds since the run started (monotonic)."""

    def __init__(self) -> None:
        self.restart()

    def restart(self) -> None:
        """Make run time 0 now."""
        self.t0 = time.monotonic()
        self.wall0 = time.time()

    def from_wall(self, epoch_s: float) -> float:
        """Run time of a wall-clock timestamp (e.g. a Kafka record's CreateTime / 1000)."""
        return epoch_s - self.wall0

    def now(self) -> float:
        return time.monotonic() - self.t0

    def at(self, t: float) -> float:
        """The monotonic time of run time ``t``."""
        return self.t0 + t


@dataclass
class ReaderLog:
    """The messages one reader processed, in completion order (thread-safe appends)."""

    name: str
    ids: list[int] = field(default_factory=list)
    times: list[float] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def processed(self, msg_id: int, t: float) -> None:
        with self._lock:
            self.ids.append(int(msg_id))
            self.times.append(float(t))

    def count(self) -> int:
        return len(self.ids)

    def distinct(self) -> int:
        with self._lock:
            return len(set(self.ids))

    def history(self, *, expected=None, available=None) -> ReaderHistory:
        with self._lock:
            ids = np.array(self.ids, np.int64)
            times = np.array(self.times, float)
        order = np.argsort(times, kind="stable")  # completion order
        return ReaderHistory(
            self.name, ids[order], times[order], expected=expected, available=available
        )


class Sends:
    """Every message the producer tried to send: key, send time, outcome, partition, offset.

    ``add`` returns the message id (its row). Kafka sends keep their future until
    :meth:`settle` turns each into OK / FAILED / UNKNOWN.
    """

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.times: list[float] = []
        self.outcome: list[int] = []
        self.partition: list[int] = []
        self.offset: list[int] = []
        self.receivers: list[int] = []
        self._futures: dict[int, object] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def add(self, key: int, t: float, *, outcome: int = OK, receivers: int = -1) -> int:
        msg_id = len(self.keys)
        self.keys.append(int(key))
        self.times.append(float(t))
        self.outcome.append(outcome)
        self.partition.append(-1)
        self.offset.append(-1)
        self.receivers.append(receivers)
        return msg_id

    def add_kafka(self, key: int, t: float, future) -> int:
        msg_id = self.add(key, t, outcome=UNKNOWN)
        self._futures[msg_id] = future
        return msg_id

    def settle(self, producer, timeout_s: float = 10.0) -> None:
        """Flush ``producer`` and record every pending send's outcome."""
        with contextlib.suppress(KafkaTimeoutError):  # what did not finish stays UNKNOWN
            producer.flush(timeout=timeout_s)
        for msg_id, future in self._futures.items():
            self.outcome[msg_id], meta = _outcome(future)
            if meta is not None:
                self.partition[msg_id] = meta.partition
                self.offset[msg_id] = meta.offset
        self._futures.clear()

    def array(self, name: str) -> np.ndarray:
        return np.array(getattr(self, name))

    def require_acknowledged(self, topic: str) -> None:
        """Raise :class:`~labs.clients.WaitTimeout` unless every settled send to ``topic``
        was acknowledged (a lab whose lesson needs all of them in the log)."""
        from labs.clients import WaitTimeout

        bad = int((self.array("outcome") != OK).sum())
        if bad:
            raise WaitTimeout(
                f"{bad} of {len(self)} writes to {topic} were not acknowledged; is Kafka up? "
                "(python -m labs.stack status)"
            )

    def history(self, readers, *, end_time: float) -> History:
        return History(
            keys=np.array(self.keys, np.int64),
            publish_time=np.array(self.times, float),
            outcome=np.array(self.outcome, np.int8),
            partition=np.array(self.partition, np.int32),
            readers=tuple(readers),
            end_time=end_time,
        )


def _outcome(future):
    if not future.is_done:
        return UNKNOWN, None
    if future.succeeded():
        return OK, future.value
    if isinstance(future.exception, KafkaTimeoutError):
        return UNKNOWN, None
    return FAILED, None


def lag_series(
    name: str, sent_times: np.ndarray, done_times: np.ndarray, *, end: float, step: float = 0.05
) -> Series:
    """Messages sent by ``t`` minus distinct messages processed by ``t``, on a grid."""
    t = np.arange(0.0, end + step, step)
    sent = np.searchsorted(np.sort(sent_times), t, side="right")
    done = np.searchsorted(np.sort(done_times), t, side="right")
    return Series(name, t, np.maximum(sent - done, 0), unit="messages")


def first_times(log: ReaderLog, ids: np.ndarray | None = None) -> np.ndarray:
    """Completion time of the first processing of each distinct id (optionally only ``ids``)."""
    got_ids = np.array(log.ids, np.int64)
    got_t = np.array(log.times, float)
    if got_ids.size == 0:
        return np.zeros(0)
    _, idx = np.unique(got_ids, return_index=True)
    keep = np.ones(idx.size, bool) if ids is None else np.isin(got_ids[idx], ids)
    return got_t[idx][keep]


def catch_up_time(series: Series, *, after: float, threshold: float = 0.0) -> float:
    """Seconds from ``after`` until the lag first drops to ``threshold`` or below (NaN if never)."""
    mask = series.t >= after
    t, v = series.t[mask], series.value[mask]
    hit = np.nonzero(v <= threshold)[0]
    return float(t[hit[0]] - after) if hit.size else float("nan")


def global_inversions(ids: list[int]) -> int:
    """Processings whose id is lower than one processed before it (global order broken)."""
    arr = np.array(ids, np.int64)
    if arr.size < 2:
        return 0
    running = np.maximum.accumulate(arr)
    return int((arr[1:] < running[:-1]).sum())


class LabThread(threading.Thread):
    """A daemon thread that keeps its exception so the lab can re-raise it."""

    def __init__(self, name: str, target, *args) -> None:
        super().__init__(name=name, daemon=True)
        self._target_fn, self._args = target, args
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self._target_fn(*self._args)
        except BaseException as exc:  # noqa: BLE001 - re-raised by join_all
            self.error = exc


def join_all(threads, *, timeout_s: float) -> None:
    """Join ``threads`` within ``timeout_s`` in total; re-raise the first error."""
    deadline = time.monotonic() + timeout_s
    for th in threads:
        th.join(max(0.0, deadline - time.monotonic()))
    for th in threads:
        if th.error is not None:
            raise th.error
    alive = [th.name for th in threads if th.is_alive()]
    if alive:
        raise TimeoutError(f"threads {alive} did not stop within {timeout_s:.1f} s")


class Worker:
    """A worker that needs exactly ``1 / rate`` seconds per message, on the run clock.

    Completion times are computed, not slept: a message ready at ``ready_at`` finishes at
    ``max(free_at, ready_at) + 1 / rate``. A lab hands a message to the worker only once its
    finish time has passed, so a late thread wake-up (other threads holding the GIL) never
    slows the modelled worker down.
    """

    def __init__(self, rate_per_s: float) -> None:
        self.per_msg = 1.0 / rate_per_s
        self.free_at = 0.0

    def finish_time(self, ready_at: float) -> float:
        return max(self.free_at, ready_at) + self.per_msg

    def complete(self, finish: float) -> None:
        self.free_at = finish
