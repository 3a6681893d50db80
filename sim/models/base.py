"""The broker-model interface: what one channel kind declares so the engine can run it.

A broker model is one kind of channel in a scenario's topology -- a Redis Pub/Sub channel,
a Kafka topic read by consumer groups, a Redis stream read by stream consumer groups --
together with its readers. One module declares it, as a :class:`Model`:

- its **scenario section**: the topology field (``section``) holding its settings
  dataclass (``settings``), and the consumers field (``readers_field``) holding its
  readers' dataclass (``reader``); :mod:`sim.core.scenario` builds ``Topology`` and
  ``Consumers`` from these declarations;
- its **fault targets**: the target kinds it owns (``targets``, e.g. ``subscriber`` and
  ``pubsub``), whose indices :meth:`Model.check_target` checks against a scenario;
- its **random streams** (``seed_streams``, by name; see :func:`seed_streams`);
- how it **starts**: :meth:`Model.start` builds its SimPy processes on the run's
  environment and returns a :class:`Running` model;
- how it **hands back** its results: after the run, :meth:`Running.outcome` (the send
  outcomes, asked of the present model with the highest ``precedence`` only) and
  :meth:`Running.collect` (readers, dead-letter readers, series and metrics, as a
  :class:`Collected`).

The models of a run are those of :data:`sim.models.registry.MODELS` whose section is
present in the topology; the engine loops over them and knows none of them by name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import simpy

from sim.analysis.result import Series
from sim.core.faults import Fault
from sim.core.history import ReaderHistory
from sim.core.workload import Messages

#: The run's first independent random streams, in the order they are spawned from the seed
#: (``numpy.random.SeedSequence(seed).spawn``). The order is part of every result of a
#: given seed: streams a model names that are not here come after them
#: (:func:`seed_streams`), so a new model changes no earlier result.
SEED_STREAMS = ("workload", "producer", "subscribers", "groups", "stream_groups")


@dataclass(frozen=True)
class RunContext:
    """What every model of one run shares: the SimPy environment, the messages published,
    the fault schedule, when the run ends, and the run's random streams by name."""

    env: simpy.Environment
    msgs: Messages
    faults: tuple[Fault, ...]
    end_time: float
    seeds: Mapping[str, np.random.SeedSequence]


@dataclass
class Collected:
    """What one model hands back after the run.

    ``dead_lettered`` is the number of messages its readers sent to a dead-letter queue,
    or None when it has no reader with one (then it adds nothing to the ``dlq`` total).
    ``partition`` is the partition of every message when the model has partitions.
    """

    readers: list[ReaderHistory] = field(default_factory=list)
    dead_letters: list[ReaderHistory] = field(default_factory=list)
    series: dict[str, Series] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    dead_lettered: int | None = None
    partition: np.ndarray | None = None


class Running(ABC):
    """One model during and after a run."""

    @abstractmethod
    def outcome(self) -> np.ndarray:
        """The outcome (OK, FAILED, UNKNOWN) of every send, as this channel acknowledged it."""

    @abstractmethod
    def collect(self, outcome: np.ndarray, grid: np.ndarray) -> Collected:
        """Readers, series and metrics, once the environment has run. ``outcome`` is the
        run's final send outcome; ``grid`` the times of the lag series."""


def seed_streams(models: Sequence[Model]) -> tuple[str, ...]:
    """Every random stream of a run with ``models``, in spawn order."""
    extra = dict.fromkeys(s for m in models for s in m.seed_streams if s not in SEED_STREAMS)
    return SEED_STREAMS + tuple(extra)


class Model(ABC):
    """One broker model (see the module docstring)."""

    #: The topology field of its settings, e.g. ``"pubsub"``; also a fault target kind.
    section: ClassVar[str]
    #: The settings dataclass of that field.
    settings: ClassVar[type]
    #: The consumers field of its readers, e.g. ``"subscribers"``.
    readers_field: ClassVar[str]
    #: The dataclass of one reader.
    reader: ClassVar[type]
    #: Whether the readers may be given as a count (``subscribers: 3``).
    readers_as_count: ClassVar[bool] = False
    #: The prefix of its readers' names and its reader fault target kind, e.g. ``"group"``.
    reader_kind: ClassVar[str]
    #: Every fault target kind it owns (its section, its readers, and e.g. ``partition``).
    targets: ClassVar[tuple[str, ...]]
    #: The names of its random streams (shared names are shared streams).
    seed_streams: ClassVar[tuple[str, ...]]
    #: Which channel decides the send outcome when several are present (highest wins).
    precedence: ClassVar[int]
    #: One line of documentation for ``Topology`` and ``Consumers``.
    doc: ClassVar[str]

    def check_target(self, fault: Fault, topology: Any, consumers: Any) -> str | None:
        """Why ``fault`` cannot hit its target in this scenario, or None. The default
        checks the section exists and a reader target's indices: ``kind:i`` (reader ``i``)
        or ``kind:i:c`` (consumer ``c`` of reader ``i``)."""
        kind, idx = fault.target_kind, fault.target_index
        if kind == self.section and getattr(topology, self.section) is None:
            return f"the scenario has no {kind}"
        if kind == self.reader_kind:
            readers = getattr(consumers, self.readers_field)
            if idx[0] >= len(readers):
                return f"there are {len(readers)} {kind}s"
            if len(idx) > 1 and idx[1] >= readers[idx[0]].consumers:
                return f"{kind} {idx[0]} has {readers[idx[0]].consumers} consumers"
        return None

    @abstractmethod
    def settings_of(self, settings: Any, readers: tuple) -> dict[str, Any]:
        """The settings that decide the outcome, flat, for :attr:`Result.settings`."""

    @abstractmethod
    def start(self, settings: Any, readers: tuple, ctx: RunContext) -> Running:
        """Build the model's SimPy processes on ``ctx.env``; the engine then runs it."""
