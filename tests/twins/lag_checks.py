"""The lag twin's own tolerances, asserted the same way wherever a test runs it."""

from __future__ import annotations

from labs.twins.result import TwinResult


def assert_lag_agrees(res: TwinResult) -> None:
    """Peak lag within 15 % and catch-up time within 25 % (real vs simulator), and every
    row of the twin agrees; the message is the twin's table (calibration and notes too)."""
    peak, catch_up = res["peak lag (messages)"], res["catch-up time (s)"]
    assert abs(peak.real - peak.simulator) <= 0.15 * peak.simulator, res
    assert abs(catch_up.real - catch_up.simulator) <= 0.25 * catch_up.simulator, res
    assert res.agrees, res
