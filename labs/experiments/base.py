"""What an experiment is: one declaration that names its parameters, lab, twins, scenario
and lesson.

An :class:`Experiment` is the single place where an experiment is declared: its
parameters (a :class:`~labs.params.Params`, with ranges, defaults, steps, units and the
bounds between them), the real lab that runs it (``labs.<name>:run_<name>``), the
simulator scenario builder that models it, the twins that compare the two, and the
lesson that teaches it. The lab function validates with it, the command line builds its
options from it, the twins take their (narrower) parameter sets from it and the notebooks
build their sliders from it.

Lab, twins and lesson are named by dotted paths and imported on first use, so a lab
module can import its own declaration without an import cycle.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from labs.params import Params
from sim.analysis.result import Result
from sim.core.scenario import Scenario


def _load(path: str) -> Any:
    module, _, attr = path.partition(":")
    return getattr(importlib.import_module(module), attr)


@dataclass(frozen=True)
class Timing:
    """The timing a scenario needs beyond the experiment's parameters: network delays,
    reconnect and rejoin times, and (if known) the consumer's real time per message.
    The defaults are typical local figures; a twin passes the ones its calibration
    measured on the real brokers."""

    pubsub_latency_ms: float = 0.5
    kafka_latency_ms: float = 0.5
    resubscribe_ms: float = 0.0
    rejoin_ms: float = 100.0
    service_ms: float | None = None
    #: The subscriber's outage ``(from_s, for_s)`` a real run measured, instead of the
    #: planned one (a twin passes it; see ``Calibration.with_run_outage``).
    subscriber_down: tuple[float, float] | None = None


@dataclass(frozen=True)
class Experiment:
    """One experiment (see the module docstring). ``twins`` maps a twin's name to
    ``(class path, parameter set)``; ``scenario`` builds the simulator's model from the
    parameter values (keyword arguments, plus ``timing=``)."""

    name: str
    summary: str
    params: Params
    lab: str
    lesson: str
    theory: str = ""
    scenario: Callable[..., Scenario] | None = None
    twins: Mapping[str, tuple[str, Params]] = field(default_factory=dict)
    #: Runs on the 3-broker cluster (``labs.stack up --cluster``), not on the course's
    #: single Redis and Kafka: the workshop and the single-broker lab suites leave it out.
    needs_cluster: bool = False
    #: The parameters the workshop runs this lab with, over the defaults (a shorter run
    #: that still shows the lesson; empty: the defaults).
    short_run: Mapping[str, Any] = field(default_factory=dict)

    @property
    def run(self) -> Callable[..., Result]:
        """The lab function (``run_<name>``), imported on first use."""
        return _load(self.lab)

    def defaults(self) -> dict[str, Any]:
        return self.params.defaults()

    def check(self, values: Mapping[str, Any]) -> dict[str, Any]:
        """The lab's values checked (``seed`` and unrelated names ignored)."""
        return self.params.check(values, owner=f"lab {self.name!r}")

    def resolve(self, **values: Any) -> dict[str, Any]:
        """Every parameter: the given ``values`` over the defaults, checked."""
        return self.params.resolve(values, owner=f"lab {self.name!r}")

    def twin_class(self, name: str) -> type:
        return _load(self.twins[name][0])

    def build_scenario(self, timing: Timing | None = None, **values: Any) -> Scenario:
        """The simulator's model of this experiment with ``values`` (defaults for the
        rest; fixed ranges are checked, the lab-only bounds between values are not)."""
        if self.scenario is None:
            raise ValueError(f"experiment {self.name!r} has no simulator scenario")
        v = self.params.resolve(values, owner=f"scenario {self.name!r}", derived=False)
        return self.scenario(timing=timing or Timing(), **v)
