"""A discrete-event simulator of event delivery: Redis Pub/Sub, Kafka and Redis Streams.

>>> import sim
>>> result = sim.run({"workload": {"rate_per_s": 200, "duration_s": 5},
...                   "consumers": {"subscribers": 1, "groups": [{}]}}, seed=1)
>>> result.report["group:0"].lost, result.report["subscriber:0"].lost
(0, 0)
"""

from sim.analysis.checker import CheckReport, CheckRow, check
from sim.analysis.result import Result, Series
from sim.core.distributions import Service
from sim.core.engine import load, run
from sim.core.faults import Fault
from sim.core.history import FAILED, OK, UNKNOWN, History, ReaderHistory
from sim.core.scenario import Consumers, Scenario, Topology
from sim.core.sweep import expand, sweep
from sim.core.workload import Workload
from sim.models.groups import Group
from sim.models.log import Log
from sim.models.pubsub import PubSub, Subscriber
from sim.models.streams import Stream, StreamGroup

__all__ = [
    "FAILED",
    "OK",
    "UNKNOWN",
    "CheckReport",
    "CheckRow",
    "Consumers",
    "Fault",
    "Group",
    "History",
    "Log",
    "PubSub",
    "ReaderHistory",
    "Result",
    "Scenario",
    "Series",
    "Service",
    "Stream",
    "StreamGroup",
    "Subscriber",
    "Topology",
    "Workload",
    "check",
    "expand",
    "load",
    "run",
    "sweep",
]
