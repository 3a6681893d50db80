"""Twins over the ranges a learner tries: 2,000 msg/s for 30 s (loss, lag), and a rate the
lab's client cannot send on this machine refused with the measured limit. Real brokers; a
missing broker fails these tests. The tolerances are the twins' own (unchanged): loss
fraction +-0.03 real vs simulator and +-0.05 vs theory, Kafka loses nothing; peak lag +-15 %
and catch-up time +-25 % real vs simulator. The 100,000-message hot-partitions run is in
``test_twin_ranges_hot.py`` (each file stays near a minute).
"""

from __future__ import annotations

import pytest
from lag_checks import assert_lag_agrees

from labs.twins import LagTwin, LossTwin
from labs.twins.cli import main
from labs.twins.send_limit import BeyondThisMachine, check_rate, send_limit

pytestmark = pytest.mark.brokers


def test_loss_twin_agrees_at_2000_per_s_for_30_s():
    t = LossTwin(
        rate_per_s=2000.0,
        window_s=30.0,
        down_from_s=10.0,
        down_for_s=9.0,
        service_rate_per_s=3000.0,
    )
    res = t.run()
    assert res.real.history.messages == 60_000, res  # (its table, calibration and notes)
    real = res.real.report["subscriber:0"].loss_fraction
    sim = res.simulator.report["subscriber:0"].loss_fraction
    assert abs(real - sim) <= 0.03 and abs(real - 0.3) <= 0.05, res
    assert res.real.report["group:0"].lost == 0 == res.simulator.report["group:0"].lost
    assert res.agrees, res


def test_lag_twin_agrees_over_a_30_s_window_at_1000_per_s():
    res = LagTwin(
        rate_per_s=1000.0,
        window_s=30.0,
        down_from_s=10.0,
        down_for_s=5.0,
        service_rate_per_s=2500.0,
        seed=4,
    ).run()
    assert_lag_agrees(res)


def test_a_rate_beyond_the_measured_send_limit_is_refused_with_the_limit(capsys):
    """The top of the declared range (10,000 msg/s) is beyond what one lab thread sends on
    this kind of machine when it is busy -- but a quiet one has measured 10,470 and 11,252.
    So the refused rate is the top of the range when the machine is slower than that, and
    otherwise the top of the range is shown to run unrefused, and the refusal is checked
    one message per second above the measured limit, where the range allows no twin."""
    limit = send_limit("redis+kafka")
    top = 10_000.0
    if limit.rate_per_s >= top:  # a fast machine: the whole range is sendable here
        check_rate(top, limit)  # no error: the declared range is all this machine can do
        above = float(int(limit.rate_per_s) + 1)
        with pytest.raises(BeyondThisMachine) as exc:
            check_rate(above, limit)
        assert f"Choose rate_per_s <= {int(limit.rate_per_s)}" in str(exc.value)
        return
    with pytest.raises(BeyondThisMachine) as exc:
        LossTwin(rate_per_s=top, service_rate_per_s=15_000.0).run()
    text = str(exc.value)
    assert '"rate_per_s" = 10000 msg/s' in text and "measured limit" in text
    assert f"Choose rate_per_s <= {int(limit.rate_per_s)}" in text
    # the command line says the same, as a usage error (exit 2), before any lab runs
    with pytest.raises(SystemExit) as cli:
        main(["twin", "loss", "--rate_per_s", "10000", "--service_rate_per_s", "15000"])
    assert cli.value.code == 2
    assert f"measured limit {limit.rate_per_s:.0f} msg/s" in capsys.readouterr().err
