"""Lesson 16's simulated figure: which partitions stop, and for how long, when a consumer
group's membership changes, per rebalance protocol.

:func:`membership_change` is a group of ``members`` reading ``partitions`` in which, at
``event_s``, one more member joins (``"join"``), the last member leaves (``"leave"``) or the
last member restarts (``"restart"``: away ``restart_s``, as in a rolling deploy) -- the
rebalance twin's group (:mod:`labs.twins.rebalance`) plus the restart. With
``static_membership`` (KIP-345, ``group.instance.id``) a member back within
``session_timeout_ms`` keeps its partitions and nobody rebalances
(:mod:`sim.models.groups`). :func:`pause_figure` runs it for each protocol of
:data:`sim.models.rebalance.PROTOCOLS` and draws the partitions that stopped and their
time without an owner.
"""

from __future__ import annotations

from matplotlib.figure import Figure

from sim.analysis.style import figure, series_colors
from sim.core.scenario import Consumers, Fault, Scenario, Topology, Workload
from sim.models.groups import Group
from sim.models.log import Log
from sim.models.rebalance import PROTOCOLS

EVENTS = ("join", "leave", "restart")
#: When the simulated group starts, and when the membership changes (s).
JOIN_AT_S = 0.5
EVENT_S = 5.0
#: The run goes on this long after the event (the consumer protocol may wait a heartbeat).
AFTER_S = 20.0


def membership_change(
    *,
    protocol: str = "eager",
    event: str = "join",
    partitions: int = 6,
    members: int = 2,
    rebalance_ms: float = 100.0,
    heartbeat_interval_ms: float = 5000.0,
    restart_s: float = 2.0,
    static_membership: bool = False,
    session_timeout_ms: float = 45_000.0,
    event_s: float = EVENT_S,
    end_s: float | None = None,
) -> Scenario:
    """The group and its membership change (see the module docstring); ``end_s`` defaults to
    :data:`AFTER_S` after the event."""
    if event not in EVENTS:
        raise ValueError(f'"event" must be one of {list(EVENTS)}, got {event!r}.')
    if event != "join" and members < 2:
        raise ValueError(f'"members" must be >= 2 for a {event}, got {members}.')
    end_s = event_s + AFTER_S if end_s is None else end_s
    m = members
    if event == "join":  # member m is away from before the group starts
        consumers, fault = m + 1, Fault("consumer_leave", f"group:0:{m}", 0.0, event_s)
    elif event == "leave":  # it would come back at the very end, which no longer counts
        consumers, fault = m, Fault("consumer_leave", f"group:0:{m - 1}", event_s, end_s - event_s)
    else:
        consumers, fault = m, Fault("consumer_leave", f"group:0:{m - 1}", event_s, restart_s)
    group = Group(
        consumers=consumers,
        protocol=protocol,
        rebalance_ms=rebalance_ms,
        heartbeat_interval_ms=heartbeat_interval_ms,
        static_membership=static_membership,
        session_timeout_ms=session_timeout_ms,
        join_at_s=JOIN_AT_S,
    )
    return Scenario(
        name=f"rebalance on a {event}",
        workload=Workload(rate_per_s=100.0, duration_s=end_s),
        topology=Topology(log=Log(partitions=partitions, network_delay_ms=1.0)),
        consumers=Consumers(groups=(group,)),
        faults=(fault,),
        drain_s=0.0,
    )


def pauses(seed: int = 0, **values) -> dict[str, dict[str, float]]:
    """Per protocol: ``stopped`` (partitions without an owner after the event, counted per
    span), ``partition_s`` (their total time without an owner) and ``longest_s``."""
    import sim

    out = {}
    for protocol in PROTOCOLS:
        m = sim.run(membership_change(protocol=protocol, **values), seed=seed).metrics
        out[protocol] = {
            "stopped": m.get("unowned_spans:group:0", 0.0),
            "partition_s": m.get("unowned_partition_s:group:0", 0.0),
            "longest_s": m.get("max_unowned_s:group:0", 0.0),
        }
    return out


def pause_figure(**values) -> Figure:
    """Partitions that stop and their partition-seconds without an owner, per protocol, for
    the :func:`membership_change` of ``values``."""
    got = pauses(**values)
    event = values.get("event", "join")
    static = " (static members)" if values.get("static_membership") else ""
    fig, axes = figure("rebalance-pauses", (9.0, 3.4), ncols=2)
    colors = series_colors(len(PROTOCOLS))
    names = list(PROTOCOLS)
    for ax, what, label in (
        (axes[0, 0], "stopped", "partition stops (count)"),
        (axes[0, 1], "partition_s", "time without an owner (partition-s)"),
    ):
        ax.bar(names, [got[p][what] for p in names], color=colors)
        ax.set(xlabel="protocol", ylabel=label)
    axes[0, 0].set_title("how many partitions stop")
    axes[0, 1].set_title("for how long, summed over partitions")
    shown = ", ".join(f"{p} {got[p]['stopped']:.0f}" for p in names)
    fig.suptitle(f"A member's {event}{static}: partition stops -- {shown}")
    return fig
