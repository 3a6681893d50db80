"""On a shared (workshop) cluster, one learner's ``reset`` deletes their names only.

Against the course's real brokers: two learners each get a topic, a consumer group and
Redis keys named as the labs name them (:class:`labs.naming.Scratch`); a third learner whose
name starts like the first (``alice`` / ``alice-2``) guards against a prefix mix-up. Each
``python -m labs.stack reset`` (run as that learner, or with ``--learner``) must delete
exactly that learner's names and the course names of nobody, and leave the others -- and
names that are not the course's -- alone.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid

import pytest
import redis
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.structs import OffsetAndMetadata

from labs.clients import BrokerUnavailable, require_brokers
from labs.naming import Scratch
from labs.stack import config

pytestmark = pytest.mark.brokers


@pytest.fixture
def brokers():
    try:
        require_brokers()
    except BrokerUnavailable as exc:
        pytest.fail(str(exc), pytrace=False)
    ep = config.endpoints()
    admin = KafkaAdminClient(bootstrap_servers=ep.kafka_bootstrap_servers)
    r = redis.Redis.from_url(ep.redis_url)
    yield admin, r
    admin.close()
    r.close()


def _make_names(admin, r, who: str) -> dict[str, set[str]]:
    """A topic, a committed consumer group and two Redis keys of learner ``who``."""
    s = Scratch("reset", uuid.uuid4().hex[:12], who)
    topic = s.topic("events")
    group = s.group("group")
    consumer = KafkaConsumer(
        bootstrap_servers=config.endpoints().kafka_bootstrap_servers,
        group_id=group,
        enable_auto_commit=False,
    )
    # A committed offset keeps the group listed once its consumer has gone. (Subscribing
    # and committing nothing left it to chance: a consumer that joined before the new
    # topic's metadata reached it got no partition, its empty group vanished on close, and
    # the test failed on a fresh clone before any reset ran.)
    consumer.assign([TopicPartition(topic, 0)])
    consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(0, "", -1)})
    consumer.close()
    keys = {s.redis_name("a"), s.redis_name("stream")}
    for key in keys:
        r.set(key, 1)
    s.admin.close()
    return {"topics": {topic}, "groups": {group}, "keys": keys}


def _present(admin, r, names: dict[str, set[str]]) -> dict[str, set[str]]:
    topics = set(admin.list_topics())
    groups = {g["group_id"] for g in admin.list_groups()}
    keys = {k.decode() for k in r.keys("course:*")}
    return {
        "topics": names["topics"] & topics,
        "groups": names["groups"] & groups,
        "keys": names["keys"] & keys,
    }


def _reset(*args: str, learner: str) -> subprocess.CompletedProcess:
    env = dict(os.environ, COURSE_LEARNER=learner)
    out = subprocess.run(
        [sys.executable, "-m", "labs.stack", "reset", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        cwd=config.PROJECT_ROOT,
    )
    assert out.returncode == 0, out.stderr
    return out


def test_two_learners_resets_do_not_touch_each_other(brokers):
    admin, r = brokers
    tag = uuid.uuid4().hex[:6]
    alice, alice2, bob = f"alice{tag}", f"alice{tag}-2", f"bob{tag}"
    names = {who: _make_names(admin, r, who) for who in (alice, alice2, bob)}
    # Not the course's: never deleted. A course name of nobody: deleted by any reset.
    r.set(f"mine-{tag}", 1)
    r.set(f"course:nobody-{tag}", 1)
    for who in names:
        assert _present(admin, r, names[who]) == names[who]

    out = _reset(learner=alice)
    # (counts also include course names of nobody other tests may have left)
    assert out.stdout.startswith("deleted ") and out.stdout.strip().endswith(f"({alice})")
    assert _present(admin, r, names[alice]) == {"topics": set(), "groups": set(), "keys": set()}
    assert _present(admin, r, names[alice2]) == names[alice2]  # a longer name, same start
    assert _present(admin, r, names[bob]) == names[bob]
    assert r.exists(f"mine-{tag}") and not r.exists(f"course:nobody-{tag}")

    # The instructor resets two learners by name; the learner in the environment is unused.
    _reset("--learner", bob, "--learner", alice2, learner="someone-else")
    for who in (alice2, bob):
        assert _present(admin, r, names[who]) == {"topics": set(), "groups": set(), "keys": set()}
    assert r.exists(f"mine-{tag}")
    r.delete(f"mine-{tag}")


def test_learner_names_are_sanitised_and_bounded(monkeypatch):
    monkeypatch.setenv("COURSE_LEARNER", "  Dr. Who: the 13th / Jodie Whittaker  ")
    name = config.learner()
    assert name == "dr-who-the-13th-jodie-wh"
    assert len(name) <= config.LEARNER_MAX
    s = Scratch("loss", "abc123")
    assert s.kafka_name("events") == f"course-{name}.loss-events-abc123"
    assert config.owner(s.kafka_name("events")) == name
    assert config.owner(s.redis_name("events")) == name
    monkeypatch.delenv("COURSE_LEARNER")
    assert config.learner()  # the user name, or a fallback: never empty
