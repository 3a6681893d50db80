"""Rebalance lab on the real broker: a rolling restart of one member, dynamic vs static
membership (KIP-345), and the pause per protocol on a join -- with members that take time to
process their batches, the pause of the partitions that do not move. A missing broker fails
these."""

from __future__ import annotations

import pytest

from labs.lessons import check
from labs.rebalance import run_rebalance

pytestmark = pytest.mark.brokers

SMALL = dict(partitions=6, members=2, rate_per_s=50, after_s=0)
#: Lesson 16's setting: 20 ms per record, batches of up to 50 records (up to 1 s of work).
PROCESSING = dict(SMALL, rate_per_s=100, process_ms=20, max_poll_records=50)


@pytest.mark.parametrize("protocol", ["eager", "cooperative"])
def test_a_static_member_restarts_without_rebalancing_the_others(protocol):
    static = run_rebalance(protocol=protocol, event="restart", static=True, **SMALL)
    dynamic = run_rebalance(protocol=protocol, event="restart", static=False, seed=1, **SMALL)
    assert check("rebalance", static) == [] and check("rebalance", dynamic) == []
    # static: only the restarted member's own 3 partitions wait for it, nobody else moves
    assert static.metrics["others_callbacks"] == 0
    assert static.metrics["stopped_partitions"] == 3 == static.metrics["unowned_spans"]
    # dynamic: the leave and the join are two rebalances the other member takes part in
    assert dynamic.metrics["others_callbacks"] > 0
    assert dynamic.metrics["unowned_spans"] > static.metrics["unowned_spans"]
    assert static.settings["group.instance.id"] == "per member"
    for r in (static, dynamic):
        assert r.report["group:members"].lost == 0


def test_cooperative_stops_fewer_partitions_than_eager_on_a_join():
    runs = {p: run_rebalance(protocol=p, event="join", **SMALL) for p in ("eager", "cooperative")}
    for r in runs.values():
        assert check("rebalance", r) == []
    assert runs["eager"].metrics["stopped_partitions"] == 6
    assert runs["cooperative"].metrics["stopped_partitions"] == 2
    assert runs["eager"].metrics["others_callbacks"] > 0  # the old members were rebalanced


def test_with_processing_time_only_eager_stops_the_partitions_that_do_not_move():
    runs = {}
    for seed, protocol in enumerate(("eager", "cooperative", "consumer")):
        runs[protocol] = run_rebalance(protocol=protocol, event="join", seed=seed, **PROCESSING)
    for r in runs.values():
        assert check("rebalance", r) == []
    eager = runs["eager"].metrics
    # the range assignor leaves each old member some of its partitions; eager revoked them
    # anyway, and they waited for the other member's batch and the round
    assert eager["kept_partitions"] >= 1 and eager["kept_unowned_partition_s"] > 0
    for protocol in ("cooperative", "consumer"):
        m = runs[protocol].metrics
        assert m["kept_partitions"] == 4, protocol  # 6 less the joiner's 2
        assert m["kept_unowned_partition_s"] == 0, protocol
        assert m["kept_unowned_partition_s"] < eager["kept_unowned_partition_s"]


def test_bad_parameters_name_the_parameter():
    with pytest.raises(ValueError, match='"static"'):
        run_rebalance(protocol="consumer", event="restart", static=True)
    with pytest.raises(ValueError, match="members"):
        run_rebalance(event="restart", members=1)
    with pytest.raises(ValueError, match="max_poll_records"):  # a batch of 10 s
        run_rebalance(process_ms=20, max_poll_records=500)
