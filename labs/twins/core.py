"""What a twin is: one parameter set that drives a real lab, the simulator and the theory.

A twin is a read-only set of parameters declared with its experiment
(:mod:`labs.experiments`: ``Experiment.twins``), validated at construction (a bad value
raises ``ValueError`` naming the parameter and its range). Its methods build the three views
of the same experiment:

- :meth:`Twin.run_lab` -- the real lab's call (returns the lab's ``Result``);
- :meth:`Twin.workload` -- the lab's seed-derived arrival times and key sequence (drawn with
  the simulator's generator, :func:`labs.workload.draw`), which the simulator publishes at
  the lab's real send instants;
- :meth:`Twin.scenario` -- the experiment's simulator scenario, with the timing parameters
  taken from a :class:`~labs.twins.calibrate.Calibration` measured on the real brokers;
- :meth:`Twin.compare` -- the rows of theory | simulator | real broker with tolerances.

:meth:`Twin.run` does all of it and returns a :class:`~labs.twins.result.TwinResult`. A
rate beyond what the lab's client was measured to send on this machine
(:mod:`labs.twins.send_limit`) is refused first, with the measured limit. It shows its
progress (:mod:`sim.progress`): which of these steps runs, and the messages the lab sent.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
from kafka.errors import KafkaError

import sim.progress as progress
from labs.experiments import Experiment, Timing
from labs.params import SEED, Params
from labs.twins.calibrate import Calibration, PacingProbe, calibrate
from labs.twins.common import simulate
from labs.twins.result import Row, TwinResult
from labs.twins.send_limit import check_rate, send_limit
from labs.workload import draw
from sim.analysis.result import Result
from sim.core.scenario import Scenario
from sim.core.workload import Messages


class Twin:
    """Base of the twins (see the module docstring). A twin's parameters are its
    declaration's (:attr:`PARAMS`, from :mod:`labs.experiments`) plus ``seed``; they are
    checked at construction and read-only afterwards."""

    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""
    #: The experiment this twin mirrors; its lab runs the real half.
    EXPERIMENT: ClassVar[Experiment]

    def __init__(self, **values: Any) -> None:
        seed = SEED.check(values.pop("seed", SEED.default))
        checked = self.PARAMS.resolve(values, owner=f"twin {self.name!r}")
        object.__setattr__(self, "_values", checked | {"seed": int(seed)})

    #: The twin's parameters, as declared with its experiment (set for each subclass).
    PARAMS: ClassVar[Params]

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.name and hasattr(cls, "EXPERIMENT"):
            cls.PARAMS = cls.EXPERIMENT.twins[cls.name][1]

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("_values", {})
        if name in values:
            return values[name]
        raise AttributeError(f"twin {self.name!r} has no parameter {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"twin parameters are read-only (tried to set {name!r})")

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.params() == self.params()

    def __hash__(self) -> int:
        return hash((type(self), tuple(self.params().items())))

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params().items())
        return f"{type(self).__name__}({args})"

    def ranges(self) -> dict[str, tuple[float, float]]:
        """The range of each numeric parameter, bounds from the other values applied."""
        return self.PARAMS.ranges(self.params())

    def params(self) -> dict[str, Any]:
        return dict(self._values)

    def lab_values(self) -> dict[str, Any]:
        """The lab's parameters: this twin's values over the lab's defaults."""
        exp = self.EXPERIMENT
        return exp.defaults() | {k: v for k, v in self._values.items() if k in exp.params}

    def timing(self, cal: Calibration) -> Timing:
        """The scenario's timing from the calibration."""
        rate = self._values.get("service_rate_per_s")
        return Timing(
            pubsub_latency_ms=cal.pubsub_latency_ms,
            kafka_latency_ms=cal.kafka_latency_ms,
            resubscribe_ms=cal.resubscribe_for_run_ms,
            rejoin_ms=cal.rejoin_for_run_ms,
            service_ms=cal.service_ms(rate) if rate and self.PACED_CONSUMER else None,
            subscriber_down=cal.subscriber_down_for_run,
        )

    # -- the three views ----------------------------------------------------------------
    def run_lab(self) -> Result:
        """The real lab with this twin's parameters."""
        return self.EXPERIMENT.run(seed=self.seed, **self.lab_values())

    def workload(self) -> Messages:
        """The lab's workload for this seed: the simulator's generator, as the lab draws it."""
        module = importlib.import_module(f"labs.experiments.{self.EXPERIMENT.name}")
        return draw(module.workload(**self.lab_values()), self.seed)

    def scenario(self, cal: Calibration) -> Scenario:
        """The experiment's simulator scenario with the calibrated timing."""
        return self.EXPERIMENT.build_scenario(self.timing(cal), **self.lab_values())

    def compare(self, real: Result, sim: Result, cal: Calibration) -> list[Row]:
        raise NotImplementedError

    def notes(self) -> tuple[str, ...]:
        return ()

    def run_notes(self, real: Result) -> tuple[str, ...]:
        """Notes that depend on what the real run measured (e.g. how long it was stalled)."""
        return ()

    def verdict_notes(self, real: Result, sim: Result, rows: Sequence[Row]) -> tuple[str, ...]:
        """Notes on the comparison itself, once its rows are known (e.g. how often the real
        run's own repeats agree by the rows' rule)."""
        return ()

    #: What the lab's send loop sends (a kind of :func:`~labs.twins.send_limit.send_limit`,
    #: e.g. ``"redis+kafka"``), or None: :meth:`run` then first checks ``rate_per_s``
    #: against the rate the client was measured to reach on this machine.
    SENDS: ClassVar[str | None] = None

    def check_calibration(self, cal: Calibration) -> None:
        """Raise :class:`~labs.twins.send_limit.BeyondThisMachine` if the calibration shows
        the lab cannot run these parameters here (nothing by default)."""

    def measured_in_run(self, cal: Calibration, real: Result) -> Calibration:
        """The calibration with what the real run itself measured (nothing by default)."""
        return cal

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
        """Check the rate against the measured send limit (:attr:`SENDS`), calibrate
        (unless given), run the real lab and the simulator, compare.

        A lab run that a Kafka client error interrupts (e.g. a commit refused during a
        rebalance) is run once more; the result's notes say so.
        """
        with progress.task(f"{self.name} twin") as shown:
            return self._run(calibration, shown)

    def run_calibrated_on_itself(self, lab_step: str, sim_step: str) -> TwinResult:
        """:meth:`run` for a twin that calibrates on its own real run (its
        ``calibrate_on(real)``, no separate calibration): run the lab (``lab_step`` shown
        meanwhile), calibrate on it, simulate (``sim_step``), compare."""
        with progress.task(f"{self.name} twin") as shown:
            shown.waiting_for(lab_step)
            real = self.run_lab()
            cal = self.calibrate_on(real)  # type: ignore[attr-defined]
            shown.waiting_for(sim_step)
            sim = self.simulate(cal, real)
            return self._result(real, sim, cal, (*self.notes(), *self.run_notes(real)))

    def _result(self, real: Result, sim: Result, cal: Calibration, notes) -> TwinResult:
        """The comparison of a real run and its simulation, as a :class:`TwinResult`."""
        rows = tuple(self.compare(real, sim, cal))
        return TwinResult(
            name=self.name,
            params=self.params(),
            calibration=cal,
            real=real,
            simulator=sim,
            rows=rows,
            notes=(*notes, *self.verdict_notes(real, sim, rows)),
        )

    def _run(self, calibration: Calibration | None, shown: progress.Task) -> TwinResult:
        notes = list(self.notes())
        if self.SENDS:
            shown.waiting_for("measuring this machine's send limit")
            limit = send_limit(self.SENDS)
            check_rate(self.rate_per_s, limit)  # BeyondThisMachine names the measured limit
            notes.append(
                f"this machine's lab client can send up to {limit.rate_per_s:.0f} msg/s "
                f"({limit.what}, {limit.measured_at}); this run asked for {self.rate_per_s:g}."
            )
        if calibration is None:
            shown.waiting_for("calibrating on the real brokers")
        cal = calibration if calibration is not None else self.calibrate()
        self.check_calibration(cal)
        shown.waiting_for("running the real lab")
        probe = PacingProbe(self.service_rate_per_s).start() if self.PACED_CONSUMER else None
        try:
            real = self.run_lab()
        except KafkaError as exc:
            notes.append(
                f"the first real run stopped with {type(exc).__name__} (a Kafka client error in "
                "the lab, not a disagreement); this is the second run."
            )
            shown.waiting_for("running the real lab again (a Kafka client error)")
            real = self.run_lab()
        finally:
            if probe is not None:
                cal = cal.with_run_probe(probe.stop())
        cal = self.measured_in_run(cal, real)
        notes.extend(self.run_notes(real))
        shown.waiting_for("simulating the same sends")
        sim = self.simulate(cal, real)
        note = self.send_lateness_note(real, sim)
        if note:
            notes.append(note)
        shown.waiting_for("comparing")
        return self._result(real, sim, cal, notes)
