"""What a twin is: one parameter set that drives a real lab, the simulator and the theory.

A twin is a frozen dataclass of parameters, validated at construction (a bad value raises
``ValueError`` naming the parameter and its range). Its methods build the three views of
the same experiment:

- :meth:`Twin.run_lab` -- the real lab's call (returns the lab's :class:`~sim.result.Result`);
- :meth:`Twin.workload` -- the lab's own seed-derived arrival times and key sequence, which
  the simulator publishes too (see :mod:`labs.twins.common`);
- :meth:`Twin.scenario` -- the simulator scenario, with the timing parameters taken from a
  :class:`~labs.twins.calibrate.Calibration` measured on the real brokers;
- :meth:`Twin.compare` -- the rows of theory | simulator | real broker with tolerances.

:meth:`Twin.run` does all of it and returns a :class:`~labs.twins.result.TwinResult`.
"""

from __future__ import annotations

import dataclasses
from typing import Any, ClassVar

import numpy as np
from kafka.errors import KafkaError

from labs.params import check_range
from labs.twins.calibrate import Calibration, PacingProbe, calibrate
from labs.twins.common import simulate
from labs.twins.result import Row, TwinResult
from sim.analysis.result import Result
from sim.core.scenario import Scenario
from sim.core.workload import Messages


class Twin:
    """Base of the twins (mixed into frozen dataclasses; see the module docstring)."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: ``{parameter: (low, high)}`` -- the documented ranges, checked at construction.
    RANGES: ClassVar[dict[str, tuple[Any, Any]]] = {}

    def check(self) -> None:
        for name, (low, high) in self.ranges().items():
            check_range(name, getattr(self, name), low, high)
        seed = getattr(self, "seed", 0)
        if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
            raise ValueError(f'"seed" must be a non-negative integer, got {seed!r}.')

    def ranges(self) -> dict[str, tuple[float, float]]:
        """The documented range of each numeric parameter (some depend on others)."""
        return dict(self.RANGES)

    def params(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    # -- the three views ----------------------------------------------------------------
    def run_lab(self) -> Result:
        raise NotImplementedError

    def workload(self) -> Messages:
        raise NotImplementedError

    def scenario(self, cal: Calibration) -> Scenario:
        raise NotImplementedError

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        raise NotImplementedError

    def notes(self) -> tuple[str, ...]:
        return ()

    def calibrate(self) -> Calibration:
        """Measure the timing parameters at this twin's rates."""
        return calibrate(
            rate_per_s=min(getattr(self, "rate_per_s", 200.0), 5000),
            service_rate_per_s=getattr(self, "service_rate_per_s", 400.0),
        )

    def simulate(self, cal: Calibration, real: Result | None = None) -> Result:
        """The simulator's half (no broker needed once ``cal`` is known).

        With the real lab's result ``real`` (and :attr:`SEND_TIMES_FROM_LAB`), the simulator
        publishes the lab's key sequence at the instants the lab really sent each message;
        otherwise at the planned instants.
        """
        return simulate(
            self.scenario(cal), self.sent_workload(real), seed=self.seed, name=f"{self.name} (twin)"
        )

    #: Publish in the simulator at the lab's real send instants (see :meth:`sent_workload`).
    SEND_TIMES_FROM_LAB: ClassVar[bool] = True
    #: The lab's consumer paces itself by sleeping at ``service_rate_per_s``: run a
    #: :class:`~labs.twins.calibrate.PacingProbe` beside the lab to measure how late this
    #: machine wakes sleeping threads during the run (the calibration records it).
    PACED_CONSUMER: ClassVar[bool] = False

    def sent_workload(self, real: Result | None) -> Messages:
        """The planned workload, with the lab's actual send times when ``real`` is given.

        A lab follows the plan drawn from the seed, but on a busy machine a send can be late
        by a few (rarely a few hundred) milliseconds; near a fault boundary that decides
        whether a message was published while the subscriber was away. The keys are the
        plan's in any case (the rows "same key sequence" check the lab sent exactly them).
        """
        plan = self.workload()
        if real is None or not self.SEND_TIMES_FROM_LAB:
            return plan
        sent = np.asarray(real.history.publish_time, float)
        if sent.size != len(plan) or not np.array_equal(real.history.keys, plan.keys):
            return plan  # the "same key sequence" / "messages sent" rows will show it
        return dataclasses.replace(plan, publish_time=np.maximum.accumulate(sent))

    def send_lateness_note(self, real: Result, sim: Result) -> str | None:
        if not self.SEND_TIMES_FROM_LAB:
            return None
        plan = self.workload().publish_time
        if plan.size != real.history.messages or plan.size == 0:
            return None
        late = real.history.publish_time - plan
        return (
            "the simulator published the lab's key sequence at the lab's real send instants "
            f"(planned from the seed; median lateness {1000 * np.median(late):.1f} ms, "
            f"largest {1000 * late.max():.1f} ms)."
        )

    def run(self, calibration: Calibration | None = None) -> TwinResult:
        """Calibrate (unless given), run the real lab and the simulator, compare.

        A lab run that a Kafka client error interrupts (e.g. a commit refused during a
        rebalance) is run once more; the result's notes say so.
        """
        cal = calibration if calibration is not None else self.calibrate()
        notes = list(self.notes())
        probe = PacingProbe(self.service_rate_per_s).start() if self.PACED_CONSUMER else None
        try:
            real = self.run_lab()
        except KafkaError as exc:
            notes.append(
                f"the first real run stopped with {type(exc).__name__} (a Kafka client error in "
                "the lab, not a disagreement); this is the second run."
            )
            real = self.run_lab()
        finally:
            if probe is not None:
                cal = cal.with_run_probe(probe.stop())
        sim = self.simulate(cal, real)
        note = self.send_lateness_note(real, sim)
        if note:
            notes.append(note)
        return TwinResult(
            name=self.name,
            params=self.params(),
            calibration=cal,
            real=real,
            simulator=sim,
            rows=tuple(self.compare(real, sim, cal)),
            notes=tuple(notes),
        )
