"""The decision record's drills on the real brokers (``python -m labs decide``)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from labs.decide import MAX_OUTAGE_S, drill, with_real_drills
from sim.course.decision import decide
from sim.course.decision.events_file import parse

pytestmark = pytest.mark.brokers

EVENTS = {
    "title": "drill test",
    "redis_persistence": "aof_always",
    "events": [
        {"name": "Tick", "rate_per_s": 200, "downtime_s": 1, "max_loss_fraction": 0.01},
        {"name": "Order", "critical": True, "needs_replay": True, "rate_per_s": 200,
         "downtime_s": 30},
        {"name": "Mail", "critical": True, "rate_per_s": 50, "downtime_s": 10},
    ],
}  # fmt: skip


def test_each_tool_is_drilled_on_its_real_broker():
    record = decide(parse(EVENTS), seed=3)
    assert [d.tool for d in record.decisions] == ["pubsub", "kafka", "streams"]
    tick, order, mail = (drill(d, seed=3) for d in record.decisions)
    # Pub/Sub: the subscriber misses about rate x outage (the loss lesson's bounds: at
    # least half of it -- reconnects take time on a loaded machine, never a negative loss)
    assert 0.5 * 200 * 1 <= tick.lost <= 200 * (1 + 1)
    # Kafka: nothing lost, the backlog of the shortened outage drains
    assert order.lost == 0 and order.fault.startswith(f"consumer away {MAX_OUTAGE_S:g} s")
    assert order.peak_lag >= 0.5 * 200 * MAX_OUTAGE_S
    # Streams: the crashed consumer's pending entries are claimed: none lost
    assert mail.lost == 0 and mail.source == "real: streams lab"


def test_the_record_carries_the_real_drills():
    spec = parse({**EVENTS, "events": EVENTS["events"][:1]})
    record = with_real_drills(decide(spec, seed=1), seed=1)
    text = record.markdown()
    assert "## Drills on the real brokers" in text
    assert "| Tick | consumer away 1 s at 200/s |" in text
    assert "| Tick | the same drill, simulated (1 s at 200/s) |" in text


def test_the_command_line_rejects_a_bad_file_before_any_broker(tmp_path):
    bad = tmp_path / "events.yaml"
    bad.write_text("events:\n  - name: X\n    ordering: total\n")
    done = subprocess.run(
        [sys.executable, "-m", "labs", "decide", str(bad)],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 2
    assert 'events[0] (X): EventClass "ordering" must be one of' in done.stderr
