"""The retention twin against the real Kafka: the defaults (through the command line, as
JSON) and three other parameter sets. A missing broker fails these tests.

Each run is about 10 s of sending and watching plus a 2 s calibration. Tolerances are the
twin's (:mod:`labs.twins.retention`): jump times within one broker retention check
interval plus the probe's polling period (the broker's check phase is unknown), the late
group's count within one segment's records, segment boundaries within a producer batch.
"""

from __future__ import annotations

import json

import pytest

from labs.twins.cli import main
from labs.twins.retention import RetentionTwin

pytestmark = pytest.mark.brokers

SETS = [
    # fast segments at a high rate, the late group joins while records still arrive
    {"rate_per_s": 200.0, "duration_s": 5.0, "segment_ms": 500, "retention_ms": 1000,
     "join_after_s": 3.0, "observe_s": 7.0, "seed": 1},
    # slow records, long segments; the late group joins after the last send
    {"rate_per_s": 20.0, "duration_s": 6.0, "segment_ms": 2000, "retention_ms": 2500,
     "join_after_s": 7.0, "observe_s": 11.0, "seed": 2},
    # segment.ms longer than retention.ms: each segment outlives retention by its own span
    {"rate_per_s": 100.0, "duration_s": 6.0, "segment_ms": 1500, "retention_ms": 500,
     "join_after_s": 4.5, "observe_s": 8.0, "seed": 3},
]  # fmt: skip


def _check(res) -> None:
    table = "\n" + res.table()
    assert res.agrees, table
    assert res.row("log start offset jumps seen").real >= 2, table  # retention really acted
    assert res.row("deletions before retention.ms (count)").real == 0, table


def test_retention_twin_defaults_agree_as_json(capsys):
    code = main(["twin", "retention", "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["agrees"] is True, [r for r in data["rows"] if not r["agrees"]]
    jumps = next(r for r in data["rows"] if r["metric"] == "log start offset jumps seen")
    assert jumps["real"] >= 2, data["rows"]


@pytest.mark.parametrize("params", SETS, ids=["fast", "join-after-sending", "long-segments"])
def test_retention_twin_agrees(params):
    _check(RetentionTwin(**params).run())
