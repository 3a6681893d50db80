"""Workshop mode: four learners at once on the same brokers, every lab and twin dealt out.

``make test`` runs the workshop dealt (``--deal``: each lab and twin once, beside three
other learners' items): every learner running every item takes a learner's whole sequence
(over two minutes) and tests the same isolation; ``python -m labs workshop --learners 8``
(every learner everything) is the rehearsal before a room.

Each learner is its own process with its own ``COURSE_LEARNER``; the lessons are checked
with the lab tests' own checks (:mod:`labs.lessons`), which judge every run against what it
actually did (the rate its publisher achieved, the outage it recorded). Asserted: every
learner finishes every lab and twin of the workshop within its budget, every lab's lesson held for
every learner (a failure names the check and, where the machine could not keep up, the
achieved and asked rate), the report is consistent with the outcomes, and no name of any
learner is left on the brokers. The twins are reported, not asserted: their agreement
with the simulator is the twin tests' business.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time

import pytest

from labs import workshop
from labs.stack import config


def test_learner_names_are_distinct_valid_and_bounded():
    names = workshop.learner_names(12, base="a-very-long-user-name-indeed-yes")
    assert len(set(names)) == 12
    assert all(config.sanitize_learner(n) == n and len(n) <= config.LEARNER_MAX for n in names)
    # No learner's names are a prefix-match of another's (``-ws1`` vs ``-ws10``).
    assert all(config.owner(config.kafka_prefix(n) + "x") == n for n in names)


@pytest.mark.parametrize("count", [0, 65, 2.5, True])
def test_bad_learner_count_is_a_value_error(count):
    with pytest.raises(ValueError, match='"learners" must be an integer in 1..64'):
        workshop.run_workshop(count)


def test_dealt_items_cover_every_lab_and_twin_once_and_rotated_ones_all():
    for count in (1, 3, 4, len(workshop.ITEMS)):
        dealt = [workshop.items_of(i, count, deal=True) for i in range(count)]
        assert sorted(sum(dealt, ())) == sorted(workshop.ITEMS), count
        assert all(dealt), count  # nobody idle
    firsts = {workshop.items_of(i, 4)[0] for i in range(4)}
    assert len(firsts) == 4 and all(sorted(workshop.items_of(i, 4)) == sorted(workshop.ITEMS)
                                    for i in range(4))  # fmt: skip
    with pytest.raises(ValueError, match='"learners" must be at most'):
        workshop.run_workshop(len(workshop.ITEMS) + 1, deal=True)


@pytest.mark.brokers
def test_four_learners_at_once():
    proc = subprocess.run(
        [sys.executable, "-m", "labs", "workshop", "--learners", "4", "--deal", "--json"],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=config.PROJECT_ROOT,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert report["learners"] == 4 and report["dealt"] is True
    details = {d["name"]: d for d in report["details"]}
    assert len(details) == 4
    for name, d in details.items():
        assert not d["timed_out"], name
        assert sorted(o["item"] for o in d["outcomes"]) == sorted(d["items"]), name
        assert d["exit_code"] == 0, (name, d["stderr_tail"])
        held = {o["item"]: o for o in d["outcomes"]}
        failed = {
            k: o["failures"] for k, o in held.items() if k.startswith("lab:") and not o["held"]
        }
        assert failed == {}, (name, failed)
        assert name in report["passed"] and name not in report["failed"], name
    ran = sorted(o["item"] for d in details.values() for o in d["outcomes"])
    assert ran == sorted(workshop.ITEMS)  # every lab and twin, once
    assert sorted(report["passed"]) == sorted(details) and report["failed"] == []
    assert report["leftover_names"] == []
    assert proc.returncode == 0, proc.stderr


def test_rate_labs_take_turns_for_one_slot(tmp_path, monkeypatch):
    # One slot file: while one rate lab holds it, another waits until it is released.
    (tmp_path / "slot-0").touch()
    monkeypatch.setenv(workshop.SLOTS_ENV, str(tmp_path))
    waited = []
    with workshop._rate_slot("lab:loss") as first:
        assert first < 1.0
        th = threading.Thread(target=_take, args=("lab:hybrid", waited))
        th.start()
        time.sleep(0.5)
        assert waited == []  # still waiting for the slot
    th.join(5)
    assert len(waited) == 1 and waited[0] >= 0.4
    # Count labs and twins do not take a slot.
    with workshop._rate_slot("lab:loss"), workshop._rate_slot("lab:poison") as none:
        assert none == 0.0


def _take(item, waited):
    with workshop._rate_slot(item) as w:
        waited.append(w)
