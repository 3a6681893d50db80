"""The simulator twin of the durability lab: the same schedules and settings, the loss its
rules predict, and the directions that must hold."""

from __future__ import annotations

import numpy as np
import pytest

from sim.core.faults import Fault
from sim.course.durability import FROZEN_FOLLOWERS, lost_mask, plot_timeline, simulate_durability


@pytest.mark.parametrize("schedule", ["leader-kill", "frozen-followers"])
def test_acks_all_with_min_isr_2_loses_nothing(schedule):
    row = simulate_durability(acks="all", schedule=schedule).report["drain"]
    assert row.lost == 0 and row.duplicated == 0 and row.acknowledged > 0


def test_acks_1_loses_what_the_leader_acknowledged_alone():
    """Followers frozen at 3 s, leader killed at 4 s: the writes of that second
    (rate x 1 s) were only on the leader."""
    r = simulate_durability(acks=1, schedule="frozen-followers", rate_per_s=100, duration_s=10)
    assert r.report["drain"].lost == 100
    lost_t = r.history.publish_time[lost_mask(r)]
    assert lost_t.min() >= 3.0 and lost_t.max() < 4.0


def test_fenced_followers_lose_acks_1_writes_only_with_eligible_leader_replicas():
    """Frozen 5 s, the followers are fenced and leave the ISR. Kafka 4.1 keeps them as
    eligible leader replicas and elects one once thawed: the writes the leader took alone
    (2 s to 4 s) are lost -- as measured on the lab's cluster (199 of 1000). Without ELR
    the partition waits for the old leader, which has them all."""
    schedule = (
        Fault("freeze-followers", "partition:0", 2.0, 5.0),
        Fault("kill-leader", "partition:0", 4.0),
        Fault("restart-all", "cluster", 9.0),
    )
    elr = simulate_durability(acks=1, schedule=schedule)
    assert elr.report["drain"].lost == 200
    assert elr.settings["eligible_leader_replicas"] is True
    no_elr = simulate_durability(acks=1, schedule=schedule, eligible_leader_replicas=False)
    assert no_elr.report["drain"].lost == 0
    assert simulate_durability(acks="all", schedule=schedule).report["drain"].lost == 0


def test_the_later_the_kill_in_the_freeze_the_more_acks_1_loses():
    def lost(kill_s):
        schedule = (
            FROZEN_FOLLOWERS[0],
            Fault("kill-leader", "partition:0", kill_s),
            Fault("restart-all", "cluster", 9.0),
        )
        return simulate_durability(acks=1, schedule=schedule).report["drain"].lost

    assert lost(3.2) < lost(3.8) < lost(4.4)


def test_same_seed_same_result_and_the_plot_has_its_parts():
    a = simulate_durability(acks=1, seed=7)
    b = simulate_durability(acks=1, seed=7)
    assert np.array_equal(a.history.keys, b.history.keys)
    assert a.report.table() == b.report.table()
    fig = plot_timeline(a)
    ax = fig.axes[0]
    assert ax.get_title() and ax.get_ylabel() and "(s)" in fig.axes[-1].get_xlabel()
    assert "(s)" in fig.axes[-1].get_ylabel()  # the time to acknowledge, in seconds
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "followers frozen" in labels and "leader killed" in labels
    assert any(label.startswith("acknowledged, LOST") for label in labels)


def test_bad_parameters_name_themselves():
    with pytest.raises(ValueError, match='"acks"'):
        simulate_durability(acks=2)
    with pytest.raises(ValueError, match='"enable_idempotence"'):
        simulate_durability(acks=1, enable_idempotence=True)
    with pytest.raises(ValueError, match='"rate_per_s"'):
        simulate_durability(rate_per_s=0)
