"""Rebalance protocols, static membership and zombies in the simulator, against closed forms.

The group has P partitions and m members; a member joins (it was away from before the
group joined) or leaves at instant t. ``rebalance_ms`` = R (one round),
``heartbeat_interval_ms`` = H (``consumer`` protocol; every member joined at the group's
join instant J, so its heartbeats fall at J + kH). The model's closed forms
(:mod:`sim.models.rebalance`) for one event:

- eager: every partition is unowned for R (P spans);
- cooperative: a join moves the new member's share floor(P/(m+1)) partitions, each unowned
  for one round R (revoked at t+R, assigned at t+2R); a leave frees the leaver's share
  (its partitions), each unowned for R;
A member that leaves comes back BACK_S later (a join: the run lasts as long as its
faults). Pauses per protocol:

- consumer: a join -- the old owners release at their next heartbeat t_r = J + ceil((t-J)/H)H,
  the new member (heartbeats at t + kH) takes them at t + H: each unowned t + H - t_r; a
  leave -- the survivors take the leaver's partitions at their next heartbeat t_r: each
  unowned t_r - t.

The pauses are exact (no randomness in the control timeline): the tolerance is float
rounding only.
"""

import math

import numpy as np
import pytest

import sim
from sim.models.rebalance import sticky

P, M, R_MS, H_MS, J, T = 6, 2, 1000.0, 5000.0, 0.5, 12.3
BACK_S = 10.0


def _scenario(protocol: str, event: str, partitions=P, members=M, t=T, faults=(), **group):
    if event == "join":  # member ``members`` is away until t
        consumers = members + 1
        ev = [["consumer_leave", f"group:0:{members}", 0.0, t]]
    else:  # the last member leaves at t and comes back (joins) at t + BACK_S
        consumers = members
        ev = [["consumer_leave", f"group:0:{members - 1}", t, BACK_S]]
    g = dict(
        consumers=consumers,
        protocol=protocol,
        rebalance_ms=R_MS,
        heartbeat_interval_ms=H_MS,
        join_at_s=J,
        **group,
    )
    return sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 200, "duration_s": 30},
            "topology": {"log": {"partitions": partitions, "network_delay_ms": 0}},
            "consumers": {"groups": [g]},
            "faults": ev + list(faults),
            "drain_s": 5,
        }
    )


def _pauses(r):
    m = r.metrics  # (reported once the group has rebalanced)
    return (
        int(m.get("unowned_spans:group:0", 0)),
        m.get("unowned_partition_s:group:0", 0.0),
        m.get("max_unowned_s:group:0", 0.0),
    )


def theory(protocol: str, event: str, partitions=P, members=M, t=T):
    """(number of partitions that stop, each one's stop in s) per the module docstring."""
    r, h = R_MS / 1000, H_MS / 1000
    if protocol == "eager":
        return partitions, r
    # A joiner's balanced share; a leaver's share (range over m members: floor(P/m)).
    moved = partitions // (members + 1) if event == "join" else partitions // members
    if protocol == "cooperative":
        return moved, r
    t_r = J + math.ceil((t - J) / h) * h
    return moved, (t + h - t_r) if event == "join" else (t_r - t)


@pytest.mark.parametrize("protocol", ["eager", "cooperative", "consumer"])
@pytest.mark.parametrize("event", ["join", "leave"])
@pytest.mark.parametrize(("partitions", "members"), [(6, 2), (4, 2), (12, 3)])
def test_pause_per_protocol_matches_closed_form(protocol, event, partitions, members):
    r = sim.run(_scenario(protocol, event, partitions, members), seed=3)
    n, total, longest = _pauses(r)
    stops = [theory(protocol, event, partitions, members)]
    if event == "leave":  # and it joins again BACK_S later
        stops.append(theory(protocol, "join", partitions, members - 1, T + BACK_S))
    assert n == sum(k for k, _ in stops)
    assert longest == pytest.approx(max(s for _, s in stops), abs=1e-9)
    assert total == pytest.approx(sum(k * s for k, s in stops), abs=1e-9)
    row = r.report["group:0"]
    assert row.lost == 0  # a rebalance commits on revocation: nothing is skipped


def test_cooperative_keeps_unmoved_partitions_flowing():
    # Cooperative join: only the moved partitions stop; eager stops all. The lag of a kept
    # partition never grows by more than the records of one round's worth of its own flow
    # under cooperative, while under eager all partitions stop for R.
    eager = sim.run(_scenario("eager", "join"), seed=1)
    coop = sim.run(_scenario("cooperative", "join"), seed=1)
    assert _pauses(coop)[1] < _pauses(eager)[1]
    assert _pauses(eager)[1] == pytest.approx(P * R_MS / 1000)


def _static(away_s: float, static: bool = True, drain_s: float = 20):
    return sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 200, "duration_s": 30},
            "topology": {"log": {"partitions": 4, "network_delay_ms": 0}},
            "consumers": {"groups": [dict(consumers=2, join_at_s=J, static_membership=static)]},
            "faults": [["consumer_leave", "group:0:1", 10.0, away_s]],
            "drain_s": drain_s,
        }
    )


def test_static_member_back_within_session_timeout_causes_no_rebalance():
    # A static member away for 10 s (< session_timeout_ms 45 s): no rebalance, nothing
    # unowned; its partitions wait (lag), nothing lost or duplicated.
    r = sim.run(_static(10.0), seed=2)
    assert r.metrics["rebalances:group:0"] == 0
    assert _pauses(r)[0] == 0
    row = r.report["group:0"]
    assert row.lost == 0 and row.duplicated == 0 and row.unseen == 0
    # Its 2 of 4 partitions get 100 msg/s for 10 s while it is away: Poisson count, sd 32.
    assert abs(r.metrics["peak_lag:group:0"] - 1000) < 4 * 32 + 10
    # Away longer than the session timeout: removed (one rebalance), then rejoins (one more).
    assert sim.run(_static(50.0, drain_s=60), seed=2).metrics["rebalances:group:0"] == 2
    # Without static membership the same 10 s away is a leave and a rejoin: two rebalances.
    assert sim.run(_static(10.0, static=False), seed=2).metrics["rebalances:group:0"] == 2


@pytest.mark.parametrize(("batch", "stall_at"), [(50, 2.005), (20, 3.055), (100, 5.555)])
def test_zombie_duplicates_are_the_rest_of_its_batch(batch, stall_at):
    # One partition, backlog of 2000 records, one member processing 10 ms/record, polls
    # of ``batch`` records, commit after each batch. It stalls at ``stall_at`` for 10 s,
    # past max_poll_interval_ms (2 s): a second member takes over from the last commit;
    # the zombie wakes and finishes its batch. Theory: record i (1-based) completes at
    # J + 10 ms * i, so at the stall k = floor((stall_at - J) / 10 ms) are done, and the
    # zombie holds the rest of its batch: batch - (k mod batch) records (the record in hand
    # included). Those are processed twice.
    step = 0.01
    s = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 10000, "messages": 2000, "arrivals": "constant"},
            "topology": {"log": {"partitions": 1, "network_delay_ms": 0}},
            "consumers": {
                "groups": [
                    dict(
                        consumers=2,
                        join_at_s=J,
                        auto_offset_reset="earliest",
                        max_poll_records=batch,
                        service={"kind": "constant", "mean_ms": step * 1000},
                        max_poll_interval_ms=2000,
                        rebalance_ms=R_MS,
                    )
                ]
            },
            "faults": [["consumer_stall", "group:0:0", stall_at, 10.0]],
            "drain_s": 40,
        }
    )
    r = sim.run(s, seed=0)
    k = math.floor((stall_at - J) / step + 1e-9)
    want = batch - (k % batch)
    assert r.metrics["zombie_duplicates:group:0"] == want
    row = r.report["group:0"]
    assert row.lost == 0
    # Every record the zombie finished was also processed by the new owner (from the last
    # commit, k - k mod batch): duplicates = the ones done before the stall since that
    # commit (k mod batch, redelivered) + the zombie's.
    assert row.duplicated == (k % batch) + want


def test_short_stall_only_delays():
    # A stall shorter than max_poll_interval_ms: no rebalance, no duplicate, no loss.
    s = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 50, "duration_s": 20},
            "topology": {"log": {"partitions": 2, "network_delay_ms": 0}},
            "consumers": {"groups": [dict(consumers=2, join_at_s=J, max_poll_interval_ms=5000)]},
            "faults": [["consumer_stall", "group:0:0", 5.0, 3.0]],
            "drain_s": 10,
        }
    )
    r = sim.run(s, seed=0)
    assert r.metrics["rebalances:group:0"] == 0
    assert r.metrics["zombie_duplicates:group:0"] == 0
    row = r.report["group:0"]
    assert row.lost == 0 and row.duplicated == 0 and row.unseen == 0


def test_sticky_keeps_what_it_can_of_a_balanced_share():
    # A third member joins 3 + 3: each old member keeps its first two, the joiner gets one
    # of each; one member left holding partitions of a leaver takes them all.
    assert sticky([0, 1, 2], np.array([0, 0, 0, 1, 1, 1]), 6).tolist() == [0, 0, 2, 1, 1, 2]
    assert sticky([0], np.array([0, 1, 1, 0]), 4).tolist() == [0, 0, 0, 0]
    assert sticky([1, 2], np.array([-1, 1, 1, 1, 1]), 5).tolist() == [2, 1, 1, 1, 2]
    assert sticky([], np.array([0, 1]), 2).tolist() == [-1, -1]


def test_new_settings_are_checked():
    with pytest.raises(ValueError, match="protocol"):
        sim.Group(protocol="sticky")
    with pytest.raises(ValueError, match="max_poll_interval_ms"):
        sim.Group(max_poll_interval_ms=0)
    with pytest.raises(ValueError, match="heartbeat_interval_ms"):
        sim.Group(heartbeat_interval_ms=-1)


@pytest.mark.parametrize("protocol", ["eager", "cooperative", "consumer"])
def test_a_stall_overlapping_other_outages_ends_cleanly(protocol):
    # A stall inside a crash inside another stall (the first outage decides; its end wakes
    # the member): every record is still processed (commit after: nothing lost or unseen).
    s = sim.Scenario.from_dict(
        {
            "workload": {"rate_per_s": 100, "duration_s": 30},
            "topology": {"log": {"partitions": 3, "network_delay_ms": 0}},
            "consumers": {
                "groups": [dict(consumers=2, protocol=protocol, max_poll_interval_ms=1000)]
            },
            "faults": [
                ["consumer_stall", "group:0:0", 0.5, 5.0],
                ["consumer_crash", "group:0:0", 2.0, 13.7],
                ["consumer_stall", "group:0:0", 2.1, 12.4],
                ["network_flap", "group:0:1", 5.0, 1.0],
            ],
            "drain_s": 30,
        }
    )
    row = sim.run(s, seed=1).report["group:0"]
    assert row.lost == 0 and row.unseen == 0
