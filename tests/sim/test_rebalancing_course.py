"""Lesson 16's simulated membership changes: the partitions that stop per protocol, and a
static member's restart that stops none (offline)."""

from __future__ import annotations

import pytest

from sim.course.rebalancing import membership_change, pauses
from sim.models.rebalance import moved_on


@pytest.mark.parametrize("event", ["join", "leave"])
def test_the_partitions_that_stop_are_the_theorys(event):
    got = pauses(event=event, partitions=8, members=3)
    for protocol, row in got.items():
        assert row["stopped"] == moved_on(protocol, event, 8, 3), (protocol, row)


def test_a_dynamic_restart_is_a_leave_and_a_join_and_a_static_one_stops_nothing():
    dynamic = pauses(event="restart", partitions=6, members=2)
    static = pauses(event="restart", partitions=6, members=2, static_membership=True)
    assert dynamic["eager"]["stopped"] == 2 * 6  # two rebalances, every partition each time
    assert dynamic["cooperative"]["stopped"] == 2 * 3  # the restarted member's 3, twice
    assert all(row["stopped"] == 0 == row["partition_s"] for row in static.values()), static


def test_a_static_member_away_past_the_session_timeout_is_rebalanced():
    late = pauses(event="restart", restart_s=3.0, static_membership=True, session_timeout_ms=1000)
    assert late["eager"]["stopped"] > 0


def test_bad_input_names_the_parameter():
    with pytest.raises(ValueError, match='"event"'):
        membership_change(event="crash")
    with pytest.raises(ValueError, match='"members"'):
        membership_change(event="leave", members=1)
