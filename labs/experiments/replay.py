"""The replay experiment: groups, late groups, seek to an offset or a time, and retention.

Declared once here: the lab's parameters, the workload and the simulator's model (the
groups and seeks; retention is the lab's alone). Lab: :func:`labs.replay.run_replay`;
lesson: ``03_replay``. Theory: every group reads the whole retained log independently; a
seek to offset ``o`` on ``P`` partitions skips ``o`` records of each.
"""

from __future__ import annotations

from labs.experiments.base import Experiment, Timing
from labs.params import Bound, Param, Params
from sim import Group, Log
from sim.core.scenario import Consumers, Scenario, Topology, Workload

#: The simulator publishes the replayed topic at this rate (the lab sends as fast as it can).
SEND_RATE_PER_S = 1000.0

PARAMS = Params(
    (
        Param("messages", 300, "messages in the replayed topic", 2, 100000),
        Param("partitions", 3, "partitions of the topic", 1, 32),
        Param("num_keys", 30, "number of distinct keys", 1, 100000),
        Param("seek_offset", 40, "offset seek:offset starts at", 0, 100000),
        Param("retained_messages", 50, "messages read before going offline", 1, 10000),
        Param("offline_messages", 100, "messages written while offline", 1, 10000),
        Param("retention_ms", 1000, "retention.ms of the retained topic", 200, 5000, unit="ms"),
    ),
    (Bound("seek_offset", "at most messages", high=lambda v: v["messages"]),),
)


def workload(*, messages: int, num_keys: int, **_) -> Workload:
    return Workload(
        rate_per_s=SEND_RATE_PER_S, messages=messages, arrivals="constant", keys=num_keys
    )


def scenario(*, timing: Timing, **v) -> Scenario:
    """The lab's readers in its order: an early group, late groups (earliest, latest), a
    seek to ``seek_offset`` and a seek to the first timestamp of the second half."""
    late = v["messages"] / SEND_RATE_PER_S + 0.7
    half_at = (v["messages"] // 2) / SEND_RATE_PER_S
    return Scenario(
        name="replay",
        workload=workload(**v),
        topology=Topology(
            log=Log(partitions=v["partitions"], network_delay_ms=timing.kafka_latency_ms)
        ),
        consumers=Consumers(
            groups=(
                Group(auto_offset_reset="earliest"),
                Group(join_at_s=late, auto_offset_reset="earliest"),
                Group(join_at_s=late, auto_offset_reset="latest"),
                Group(join_at_s=late, seek_offset=v["seek_offset"]),
                Group(join_at_s=late, seek_timestamp_s=half_at),
            )
        ),
    )


REPLAY = Experiment(
    name="replay",
    summary="groups, late groups, seek to offset/timestamp, and loss past retention",
    params=PARAMS,
    lab="labs.replay:run_replay",
    lesson="03_replay",
    theory="each group reads the whole log; a seek skips what lies before it",
    scenario=scenario,
)
