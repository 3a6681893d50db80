"""Hybrid lab: notifications are lost during an outage; the view is rebuilt from Kafka."""

from __future__ import annotations

import pytest

from labs.hybrid import run_hybrid

pytestmark = pytest.mark.brokers


def test_view_rebuilt_from_kafka():
    result = run_hybrid()
    m = result.metrics
    rep = result.report
    assert (rep["group:bridge"].lost, rep["group:bridge"].unseen) == (0, 0)
    view = rep["subscriber:0"]
    # Bounds from the bridge's publish times and the view's close / re-subscribe times; see
    # test_lab_loss.
    assert m["lost_min:subscriber:0"] <= view.lost <= m["lost_max:subscriber:0"]
    assert view.lost >= 0.5 * 200 * 1.0
    assert m["wrong_balances:subscriber:0"] > 0
    assert rep["replay:rebuild"].processed == rep["replay:rebuild"].acknowledged
    assert m["wrong_balances:replay:rebuild"] == 0
