"""The throughput twin against the real brokers (about 3 minutes): the simulator, calibrated
on the sweep's lowest rates and a burst, predicts p50 and p99 at the higher rates within
±25 % and the saturation rate within ±30 %, for Redis Pub/Sub and Kafka acks=1. A missing
broker fails this test; it never skips it.
"""

from __future__ import annotations

import json

import pytest

from labs.twins.cli import main
from labs.twins.throughput import TWIN_CONFIGS

pytestmark = pytest.mark.brokers


def test_twin_throughput_agrees_on_the_command_line(capsys):
    code = main(["twin", "throughput", "--json"])
    data = json.loads(capsys.readouterr().out)
    rows = {r["metric"]: r for r in data["rows"]}
    table = "\n".join(f"{k}: {r}" for k, r in rows.items())
    for label in TWIN_CONFIGS:
        assert f"{label} saturation rate (msg/s)" in rows, table
        assert any(k.startswith(f"{label} p99 at") for k in rows), table
    assert data["agrees"] is True, table
    assert code == 0
