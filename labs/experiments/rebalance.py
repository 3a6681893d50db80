"""The rebalance experiment: how long partitions stop when a member joins or leaves.

Declared once here: the lab's parameters (:data:`PARAMS`) and the twin's (:data:`TWIN`).
Lab: :func:`labs.rebalance.run_rebalance`; lessons: ``06_delivery_guarantees`` (consumer
groups), ``16_rebalancing``. Theory (:mod:`sim.models.rebalance`): ``eager`` stops every
partition for one round; ``cooperative`` stops only the partitions that move (a joiner's share
floor(P/(m+1)), a leaver's partitions), for one round; ``consumer`` (KIP-848) stops the
same ones, each until its new owner's next heartbeat (at most the heartbeat interval). A
restart is a leave and a join -- unless the members are ``static`` (KIP-345): the restarted
member gets its partitions back without a rebalance, and no other member stops.
With ``process_ms`` per record a member takes part in a rebalance only after its batch (up
to ``max_poll_records`` records): eager's partitions that do not move then stop for up to a
batch's processing time; cooperative and consumer never stop them.
The simulator's model is the twin's (:meth:`labs.twins.rebalance.RebalanceTwin.scenario`).
"""

from __future__ import annotations

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

#: The longest poll batch a run may process (``max_poll_records * process_ms``): a member
#: finishes its batch before it rejoins or stops, and a run must fit the lesson.
MAX_BATCH_S = 2.0

PARAMS = Params(
    (
        Param("protocol", "eager", "rebalance protocol",
              choices=("eager", "cooperative", "consumer")),
        Param("event", "join", "a member joins, the last one leaves, or it restarts",
              choices=("join", "leave", "restart")),
        Param("partitions", 6, "partitions of the topic", 1, 24),
        Param("members", 2, "members before the event", 1, 6),
        Param("rate_per_s", 100, "messages published per second", 1, 2000, unit="msg/s"),
        Param("after_s", 1.0, "seconds of consuming after the group settled", 0, 30, step=0.5,
              unit="s"),
        Param("static", False, "group.instance.id per member (KIP-345 static membership)"),
        Param("process_ms", 0.0, "processing time per record", 0, 50, step=0.5, unit="ms"),
        Param("max_poll_records", 500, "records per poll at most (max.poll.records)", 1, 500),
    ),
    (Bound("members", "a leave or a restart needs 2 members or more",
           low=lambda v: 2 if v["event"] != "join" else 1),
     Bound("max_poll_records", f"a poll batch must take {MAX_BATCH_S:.0f} s at most "
           "(max_poll_records * process_ms)",
           high=lambda v: min(500, int(1000 * MAX_BATCH_S / v["process_ms"]))
           if v["process_ms"] > 0 else 500)),
)  # fmt: skip

#: The twin: small groups and topics (each member is a thread polling a real consumer).
TWIN = PARAMS.select("protocol", "event", "partitions", "members").narrow(
    event={"choices": ("join", "leave")}, partitions={"low": 2, "high": 12}, members={"high": 4}
)


REBALANCE = Experiment(
    name="rebalance",
    summary="rebalance pause per protocol (eager, cooperative, consumer): join, leave, restart",
    params=PARAMS,
    lab="labs.rebalance:run_rebalance",
    lesson="16_rebalancing",
    theory="eager: all partitions stop one round; cooperative/consumer: only the moved ones",
    twins={"rebalance": ("labs.twins.rebalance:RebalanceTwin", TWIN)},
)
