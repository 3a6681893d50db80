"""Twins: the same experiment in the simulator and on real brokers, with measured agreement.

Each of the four headline labs has a twin -- one parameter set (seed, rates, window, key
sequence, fault timing, partitions, commit interval) that drives the real lab, the simulator
and, where there is one, the theory:

- ``loss`` (:class:`LossTwin`) -- a subscriber away for a share ``f`` of the window loses
  ``~f`` on Redis Pub/Sub; Kafka loses nothing;
- ``lag`` (:class:`LagTwin`, alias ``replay``) -- a Kafka consumer away, then replaying its
  backlog: peak lag and catch-up time;
- ``hot_partitions`` (:class:`HotPartitionsTwin`) -- per-partition counts of a key sequence,
  identical in theory, simulator and the real topic;
- ``idempotency`` (:class:`IdempotencyTwin`) -- duplicates after a crash at message k, and
  none with a dedupe store.

Later labs have theirs too (``python -m labs twin list``), among them ``throughput``
(:class:`labs.twins.throughput.ThroughputTwin`): latency against the offered rate and the
saturation rate, the simulator calibrated on the sweep's lowest rates.

The simulator's timing parameters come from a short measurement on the real brokers
(:func:`calibrate`), recorded in the result. In a notebook::

    from labs.twins import run_twin
    result = run_twin("loss", down_for_s=2.0)   # a TwinResult; shows as a table
    plot(result)                                # simulator and real broker, same axes

On the command line: ``python -m labs twin NAME [--param value ...] [--json]`` (also
``python -m labs.twins NAME ...``).
"""

from __future__ import annotations

from typing import Any

from labs.twins.calibrate import Calibration, calibrate
from labs.twins.cli import main
from labs.twins.core import Twin
from labs.twins.hot_partitions import HotPartitionsTwin
from labs.twins.idempotency import IdempotencyTwin
from labs.twins.lag import LagTwin
from labs.twins.loss import LossTwin
from labs.twins.plot import plot
from labs.twins.registry import ALIASES, TWINS, twin
from labs.twins.result import Row, TwinResult


def run_twin(name: str, *, calibration: Calibration | None = None, **params: Any) -> TwinResult:
    """Run twin ``name`` with ``params`` (see each twin class for them and their ranges):
    calibrate on the real brokers (unless ``calibration`` is given), run the real lab and
    the simulator, and compare them with the theory."""
    return twin(name, **params).run(calibration)


__all__ = [
    "ALIASES",
    "TWINS",
    "Calibration",
    "HotPartitionsTwin",
    "IdempotencyTwin",
    "LagTwin",
    "LossTwin",
    "Row",
    "Twin",
    "TwinResult",
    "calibrate",
    "main",
    "plot",
    "run_twin",
    "twin",
]
