"""Partitioners: the same keys land on different partitions depending on the client.

One key sequence (``messages`` keys over ``num_keys`` keys, drawn from the seed) is sent by
three producers, each to its own topic of ``partitions`` partitions:

- kafka-python 3.0.12 with its ``DefaultPartitioner`` (murmur2, as the Java producer);
- confluent-kafka 2.16.1 (librdkafka 2.16.0) with its default ``consistent_random`` (CRC32);
- confluent-kafka with ``partitioner=murmur2_random`` (librdkafka's Java-compatible murmur2).

Every delivery report says which partition a message went to; the per-partition counts are
the topics' end offsets. kafka-python and ``murmur2_random`` place every key on the same
partition; the default librdkafka producer places most keys elsewhere -- mixing producers in
two languages on one keyed topic breaks per-key order unless both use murmur2.

:func:`run_java_console_producer` sends the same keys with Kafka's own Java producer (the
``kafka-console-producer`` tool, ``org.apache.kafka.tools.ConsoleProducer`` of Kafka
4.1.1, with ``parse.key=true``) and returns the topic's per-partition counts: the Java
client's own murmur2, not a port of it. The tool's jar (``kafka-tools``) is fetched with
Maven once, next to the broker's jars in the stack's cache folder.

:func:`run_add_partitions` adds partitions to a live topic (the admin API's
``create_partitions``) between two sends of the same keys by kafka-python and counts the
keys whose partition changed: exactly the keys with ``murmur2(key) mod N != mod M``.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

import sim.progress as progress
from labs.clients import WaitTimeout
from labs.consume import end_offsets, topic_partitions
from labs.experiments.partitioners import CLIENTS, PARTITIONERS, workload
from labs.naming import scratch
from labs.recording import Sends
from labs.stack import config
from labs.stack.config import endpoints
from labs.workload import draw, payload
from sim.analysis.result import Result
from sim.core.history import FAILED, OK
from sim.models.partitioner import key_bytes, partitions_for, remapped_share

SOURCE = "kafka"
#: Seconds a producer may take to deliver everything before the lab gives up.
DELIVERY_TIMEOUT_S = 20.0
#: Seconds the Java console producer may run (JVM start, metadata, sends, close).
JAVA_TIMEOUT_S = 60.0
#: Seconds the new partitions may take to show in the topic's metadata.
METADATA_TIMEOUT_S = 10.0


def _version(package: str) -> str:
    """The installed version of ``package`` (what this run really used)."""
    from importlib.metadata import version

    return version(package)


def _ck() -> str:
    """confluent-kafka's version and the librdkafka it carries."""
    import confluent_kafka

    librdkafka = confluent_kafka.libversion()[0]
    return f"confluent-kafka {_version('confluent-kafka')} (librdkafka {librdkafka})"


@progress.task("partitioners lab on the real brokers")
def run_partitioners(
    *,
    partitions: int = 6,
    num_keys: int = 1000,
    messages: int = 3000,
    key_distribution: str = "uniform",
    seed: int = 0,
) -> Result:
    """Run the partitioners lab; see the module docstring."""
    PARTITIONERS.check(locals())  # ranges and defaults: labs/experiments/partitioners.py
    params = dict(
        partitions=partitions,
        num_keys=num_keys,
        messages=messages,
        key_distribution=key_distribution,
    )
    keys = draw(workload(**params), seed).keys
    metrics: dict[str, float] = {}
    placed: dict[str, np.ndarray] = {}
    start = time.monotonic()
    with scratch("part", redis_needed=False) as s:
        topics = {c: s.topic(c, partitions=partitions) for c in CLIENTS}
        sends = _send_kafka_python(s, topics["kafka-python"], keys)
        placed["kafka-python"] = sends.array("partition")
        for client, partitioner in CLIENTS.items():
            if client != "kafka-python":
                placed[client] = _send_confluent(topics[client], keys, partitioner)
        probe = s.consumer()
        for client, topic in topics.items():
            tps = topic_partitions(topic, partitions)
            counts = end_offsets(probe, tps)
            for p, tp in enumerate(tps):
                metrics[f"messages:{client}:partition:{p}"] = float(counts[tp])
        probe.close()
    end = time.monotonic() - start
    for client, where in placed.items():
        metrics[f"delivered:{client}"] = float((where >= 0).sum())
    metrics["keys_moved:kafka-python:confluent-default"] = float(
        moved_keys(keys, placed["kafka-python"], placed["confluent-default"])
    )
    metrics["keys_moved:kafka-python:confluent-murmur2_random"] = float(
        moved_keys(keys, placed["kafka-python"], placed["confluent-murmur2_random"])
    )
    history = sends.history([], end_time=end)
    return Result.from_history(
        "partitioners",
        SOURCE,
        history,
        seed=seed,
        params=params,
        settings={
            "run_id": s.run_id,
            "kafka.partitions": partitions,
            "kafka-python": f"{_version('kafka-python')}, DefaultPartitioner (murmur2)",
            "confluent-default": f"{_ck()}, partitioner=consistent_random (CRC32)",
            "confluent-murmur2_random": f"{_ck()}, partitioner=murmur2_random",
            "keys": f"{key_distribution} over {num_keys} keys",
        },
        metrics=metrics,
    )


def lesson_failures(result: Result) -> list[str]:
    """What the run failed to show (``[]``: the lesson held): each producer's counts are its
    hash's prediction, kafka-python and ``murmur2_random`` agree on every key, and the
    default librdkafka producer places some keys elsewhere (with 2+ partitions and 20+
    distinct keys; the chance that 20 keys all agree is at most 2^-20)."""
    failures = []
    keys, n = result.history.keys, result.params["partitions"]
    for client, partitioner in CLIENTS.items():
        got = [result.metrics[f"messages:{client}:partition:{p}"] for p in range(n)]
        want = np.bincount(partitions_for(keys, n, partitioner), minlength=n)
        if not np.array_equal(got, want):
            failures.append(f"{client}: partition counts {got} differ from {partitioner}'s {want}")
    if result.metrics["keys_moved:kafka-python:confluent-murmur2_random"] != 0:
        failures.append("kafka-python and confluent-kafka murmur2_random placed keys differently")
    moved = result.metrics["keys_moved:kafka-python:confluent-default"]
    if n > 1 and np.unique(keys).size >= 20 and moved == 0:
        failures.append("kafka-python and confluent-kafka's default placed every key alike")
    return failures


def moved_keys(keys: np.ndarray, a: np.ndarray, b: np.ndarray) -> int:
    """Distinct keys that placement ``a`` and placement ``b`` put on different partitions
    (messages not delivered, partition -1, are left out)."""
    keys = np.asarray(keys)
    ok = (np.asarray(a) >= 0) & (np.asarray(b) >= 0)
    return int(np.unique(keys[ok & (np.asarray(a) != np.asarray(b))]).size)


def _send_kafka_python(s, topic: str, keys: np.ndarray) -> Sends:
    producer = s.producer(acks="all", enable_idempotence=True, linger_ms=5)
    sends = Sends()
    t0 = time.monotonic()
    for i, k in enumerate(keys):
        future = producer.send(topic, key=key_bytes(k), value=payload(i))
        sends.add_kafka(int(k), time.monotonic() - t0, future)
    sends.settle(producer, timeout_s=DELIVERY_TIMEOUT_S)
    if (sends.array("outcome") != OK).any():
        bad = int((sends.array("outcome") != OK).sum())
        raise WaitTimeout(f"kafka-python: {bad} of {len(sends)} sends to {topic} not acknowledged")
    return sends


def _send_confluent(topic: str, keys: np.ndarray, partitioner: str) -> np.ndarray:
    """Send ``keys`` with confluent-kafka using ``partitioner``; the partition of each
    message from its delivery report (-1 if it failed)."""
    from confluent_kafka import KafkaException, Producer

    where = np.full(keys.size, -1, np.int64)
    outcome = np.full(keys.size, FAILED, np.int8)

    def delivered(err, msg, i):
        if err is None:
            where[i], outcome[i] = msg.partition(), OK

    producer = Producer(
        {
            "bootstrap.servers": endpoints().kafka_bootstrap_servers,
            "partitioner": partitioner,
            "linger.ms": 5,
            "enable.idempotence": True,
            "message.timeout.ms": int(DELIVERY_TIMEOUT_S * 1000),
            "socket.connection.setup.timeout.ms": 5000,
        }
    )
    try:
        for i, k in enumerate(keys):
            while True:
                try:
                    producer.produce(
                        topic,
                        key=key_bytes(k),
                        value=payload(i),
                        on_delivery=lambda err, msg, i=i: delivered(err, msg, i),
                    )
                    break
                except BufferError:  # local queue full: serve delivery reports, retry
                    producer.poll(0.05)
            producer.poll(0)
        left = producer.flush(DELIVERY_TIMEOUT_S)
    except KafkaException as exc:
        why = f"confluent-kafka ({partitioner}) failed sending to {topic}: {exc}"
        raise WaitTimeout(why) from exc
    if left or (outcome != OK).any():
        raise WaitTimeout(
            f"confluent-kafka ({partitioner}): {int((outcome != OK).sum())} of {keys.size} sends "
            f"to {topic} not delivered within {DELIVERY_TIMEOUT_S:g} s; is Kafka at "
            f"{endpoints().kafka_bootstrap_servers} up? (python -m labs.stack up)"
        )
    return where


# --------------------------------------------------------------------------- Java check


@dataclass(frozen=True)
class JavaPlacement:
    """Per-partition counts of a topic written by Kafka's Java console producer."""

    partitions: int
    keys: np.ndarray
    counts: np.ndarray
    seconds: float


def console_producer_classpath() -> str:
    """The broker's jars plus ``kafka-tools`` (which holds ``ConsoleProducer``), fetched
    with Maven into the stack's cache folder on first use."""
    from labs.stack.native import kafka_libs

    libs = kafka_libs()
    tools = java_tools_dir()
    jar = tools / f"kafka-tools-{config.KAFKA_VERSION}.jar"
    if not jar.exists():
        mvn = shutil.which("mvn")
        if mvn is None:
            raise RuntimeError("Maven (mvn) fetches kafka-tools once; run scripts/setup.sh")
        partial = tools.with_name(tools.name + ".partial")
        shutil.rmtree(partial, ignore_errors=True)
        cmd = [
            mvn, "-q", "-B", "dependency:copy",
            f"-Dartifact=org.apache.kafka:kafka-tools:{config.KAFKA_VERSION}",
            f"-DoutputDirectory={partial}",
        ]  # fmt: skip
        out = subprocess.run(
            cmd, capture_output=True, text=True, timeout=300, cwd=config.cache_dir()
        )
        if out.returncode != 0 or not (partial / jar.name).exists():
            tail = (out.stdout + out.stderr)[-2000:]
            raise RuntimeError(f"Maven could not fetch kafka-tools:\n{tail}")
        shutil.rmtree(tools, ignore_errors=True)
        partial.rename(tools)
    return f"{libs / '*'}:{jar}"


def run_java_console_producer(
    *, partitions: int, num_keys: int = 1000, messages: int = 3000, seed: int = 0
) -> JavaPlacement:
    """Send the lab's key sequence with ``kafka-console-producer`` (Java, Kafka 4.1.1) to a
    fresh topic of ``partitions`` partitions; return its per-partition counts."""
    PARTITIONERS.check({"partitions": partitions, "num_keys": num_keys, "messages": messages})
    keys = draw(
        workload(messages=messages, num_keys=num_keys, key_distribution="uniform"), seed
    ).keys
    java = shutil.which("java")
    if java is None:
        raise RuntimeError("no java on PATH; run scripts/setup.sh (a Java runtime >= 17)")
    classpath = console_producer_classpath()
    lines = "".join(f"{key_bytes(k).decode()}\t{i}\n" for i, k in enumerate(keys))
    start = time.monotonic()
    with scratch("partjava", redis_needed=False) as s:
        topic = s.topic("java", partitions=partitions)
        cmd = [
            java, "-XX:-UsePerfData", "-Xms64m", "-Xmx256m", "-cp", classpath,
            "org.apache.kafka.tools.ConsoleProducer",
            "--bootstrap-server", endpoints().kafka_bootstrap_servers,
            "--topic", topic,
            "--property", "parse.key=true",
            "--property", "key.separator=\t",
            "--producer-property", "max.block.ms=10000",
            "--producer-property", "delivery.timeout.ms=20000",
            "--producer-property", "request.timeout.ms=10000",
        ]  # fmt: skip
        try:
            out = subprocess.run(
                cmd, input=lines, capture_output=True, text=True, timeout=JAVA_TIMEOUT_S
            )
        except subprocess.TimeoutExpired as exc:
            raise WaitTimeout(
                f"the Java console producer did not finish within {JAVA_TIMEOUT_S:g} s; is Kafka "
                f"at {endpoints().kafka_bootstrap_servers} up? (python -m labs.stack up)"
            ) from exc
        if out.returncode != 0:
            raise RuntimeError(f"the Java console producer failed:\n{out.stderr[-2000:]}")
        probe = s.consumer()
        tps = topic_partitions(topic, partitions)
        offsets = end_offsets(probe, tps)
        probe.close()
    counts = np.array([offsets[tp] for tp in tps], np.int64)
    return JavaPlacement(partitions, keys, counts, time.monotonic() - start)


def java_tools_dir() -> Path:
    """Where the ``kafka-tools`` jar is kept."""
    return config.cache_dir() / f"kafka-tools-{config.KAFKA_VERSION}"


# --------------------------------------------------------------------- adding partitions


@dataclass(frozen=True)
class Repartition:
    """The same keys sent to a topic of ``before`` partitions, then -- partitions added --
    of ``after``: ``moved`` distinct keys landed elsewhere the second time (delivery
    reports), ``expected_moved`` keys have ``murmur2(key) mod before != mod after``
    (:mod:`sim.models.partitioner`), ``theory_share`` is ``1 - gcd/after`` for evenly spread
    hashes."""

    before: int
    after: int
    keys: int
    moved: int
    expected_moved: int
    theory_share: float
    seconds: float


@progress.task("adding partitions to a live topic")
def run_add_partitions(*, before: int = 6, after: int = 8, num_keys: int = 200) -> Repartition:
    """Send keys ``0 .. num_keys-1`` once each with kafka-python to a topic of ``before``
    partitions, add partitions up to ``after``, send the same keys again with a producer
    that sees the new count, and count the keys whose partition changed."""
    if not 1 <= before <= 63:
        raise ValueError(f'"before" must be in [1, 63], got {before!r}.')
    if not before < after <= 64:
        raise ValueError(
            f'"after" must be in [{before + 1}, 64] (more than "before"), got {after!r}.'
        )
    if not 1 <= num_keys <= 10000:
        raise ValueError(f'"num_keys" must be in [1, 10000], got {num_keys!r}.')
    keys = np.arange(num_keys, dtype=np.int64)
    start = time.monotonic()
    with scratch("repart", redis_needed=False) as s:
        topic = s.topic("keys", partitions=before)
        first = _send_kafka_python(s, topic, keys).array("partition")
        s.admin.create_partitions({topic: after}, timeout_ms=5000)
        deadline = time.monotonic() + METADATA_TIMEOUT_S
        while len(s.admin.describe_topics([topic])[0]["partitions"]) < after:
            if time.monotonic() > deadline:
                raise WaitTimeout(
                    f"{topic} did not show {after} partitions within {METADATA_TIMEOUT_S:g} s"
                )
            time.sleep(0.1)
        second = _send_kafka_python(s, topic, keys).array("partition")  # a new producer
    expected = partitions_for(keys, before) != partitions_for(keys, after)
    return Repartition(
        before=before,
        after=after,
        keys=num_keys,
        moved=moved_keys(keys, first, second),
        expected_moved=int(expected.sum()),
        theory_share=remapped_share(before, after),
        seconds=time.monotonic() - start,
    )
