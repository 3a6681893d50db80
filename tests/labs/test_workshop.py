"""Workshop mode: four learners run every lab and twin at once on the same brokers.

Each learner is its own process with its own ``COURSE_LEARNER``; the lessons are checked
with the lab tests' own checks (:mod:`labs.lessons`). Asserted: every learner finishes all
nine labs and four twins within its budget, the report is consistent with the outcomes, the
count lessons (:data:`labs.workshop.COUNT_LABS`: a crash, commits, retries, a PEL -- numbers
a shared cluster must not change) hold for every learner, and no name of any learner is left
on the brokers. The rate and timing lessons (a publisher keeping 200 msg/s, a backlog of
a given size) and the twins are reported, not asserted: on a 2-core machine four learners
starve each other's publishers, which is what the report is for.
"""

from __future__ import annotations

import json
import subprocess
import sys

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


@pytest.mark.brokers
def test_four_learners_at_once():
    proc = subprocess.run(
        [sys.executable, "-m", "labs", "workshop", "--learners", "4", "--json"],
        capture_output=True,
        text=True,
        timeout=1800,
        cwd=config.PROJECT_ROOT,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    report = json.loads(proc.stdout)
    assert report["learners"] == 4
    details = {d["name"]: d for d in report["details"]}
    assert len(details) == 4
    for name, d in details.items():
        assert not d["timed_out"], name
        assert sorted(o["item"] for o in d["outcomes"]) == sorted(workshop.ITEMS), name
        assert d["exit_code"] == 0, (name, d["stderr_tail"])
        held = {o["item"]: o for o in d["outcomes"]}
        for lab in workshop.COUNT_LABS:
            assert held[f"lab:{lab}"]["held"], (name, held[f"lab:{lab}"]["failures"])
        every_lab = all(o["held"] for k, o in held.items() if k.startswith("lab:"))
        assert (name in report["passed"]) == every_lab
        assert (name in report["failed"]) == (not every_lab)
    assert report["leftover_names"] == []
    assert proc.returncode == (0 if not report["failed"] else 1), proc.stderr
