"""The throughput experiment: the latency-throughput envelope of each way to deliver events.

Declared once here: the lab's parameters (:data:`PARAMS`), the configurations it measures
(:class:`Config`) and their named sets (:data:`CONFIGS`). Lab:
:func:`labs.throughput.run_throughput`.

Each configuration -- Redis Pub/Sub, Redis Streams (XADD + XREADGROUP + XACK), Kafka through
kafka-python or confluent-kafka with a producer's ``acks``, ``linger.ms`` and
``compression.type``, at one message size -- is loaded open-loop at a geometric series of
rates from ``min_rate_per_s`` to ``max_rate_per_s``, each point for ``point_s`` seconds,
until the first point it does not sustain. The default set varies one factor at a time from
a baseline (as the OpenMessaging Benchmark does), not the whole cartesian product.

Theory: below saturation the end-to-end latency is the fixed path (client, broker, fetch)
plus batching (up to ``linger.ms``); near the service rate of the slowest stage (the Python
client's CPU per message, the bytes per second for large messages) the queues grow and the
tail rises without bound: the sustainable rate is the highest rate whose p99 stays under the
SLO. On the course's single broker (replication factor 1) the in-sync replicas are the leader
alone, so ``acks=all`` waits for nothing more than ``acks=1``; the ``acks`` set runs on the
3-broker cluster (replication 3, ``min.insync.replicas=2``), where it waits for a follower --
in the producer's acknowledgement (``ack_p50_ms``), since a consumer reads a record only once
every in-sync replica has it, whatever ``acks`` the producer asked for.
"""

from __future__ import annotations

from dataclasses import dataclass

from labs.experiments.base import Experiment
from labs.params import Bound, Param, Params

SYSTEMS = ("pubsub", "streams", "kafka")
CLIENTS = ("redis-py", "kafka-python", "confluent-kafka")
COMPRESSIONS = ("none", "lz4", "zstd")
#: Message sizes of the default set's size factor, bytes (100 B to 100 KB).
SIZES = (100, 1_000, 10_000, 100_000)
#: The smallest message: the header every payload carries (point, id, intended time).
MIN_SIZE = 24
#: At most this many bytes a second in one point: larger messages stop their sweep here
#: (the machine's memory and disk, not the broker, would be measured beyond it).
MAX_BYTES_PER_S = 400_000_000
#: Target rates a point may have, msg/s.
RATE_RANGE = (10.0, 200_000.0)


@dataclass(frozen=True)
class Config:
    """One way to deliver: the system, its client and (Kafka) the producer's settings.
    ``size_bytes`` None takes the run's ``size_bytes`` parameter."""

    system: str
    client: str = "redis-py"
    acks: str = "1"
    linger_ms: int = 0
    compression: str = "none"
    size_bytes: int | None = None
    #: Kafka: replicas of the topic. 1: the course's broker; 3: the 3-broker cluster
    #: (``python -m labs.stack up --cluster``), ``min.insync.replicas=2``.
    replicas: int = 1

    def __post_init__(self) -> None:
        if self.system not in SYSTEMS:
            raise ValueError(f'"system" must be one of {SYSTEMS}, got {self.system!r}.')
        redis_side = self.system != "kafka"
        if (self.client == "redis-py") != redis_side or self.client not in CLIENTS:
            allowed = ("redis-py",) if redis_side else CLIENTS[1:]
            raise ValueError(f'"client" of {self.system} must be one of {allowed}.')
        if self.acks not in ("0", "1", "all"):
            raise ValueError(f'"acks" must be one of ("0", "1", "all"), got {self.acks!r}.')
        if not 0 <= self.linger_ms <= 1000:
            raise ValueError(f'"linger_ms" must be in [0, 1000] ms, got {self.linger_ms!r}.')
        if self.compression not in COMPRESSIONS:
            raise ValueError(f'"compression" must be one of {COMPRESSIONS}.')
        if self.replicas not in (1, 3) or (self.replicas == 3 and redis_side):
            raise ValueError(f'"replicas" must be 1, or 3 for Kafka, got {self.replicas!r}.')
        if self.size_bytes is not None and not MIN_SIZE <= self.size_bytes <= 1_000_000:
            raise ValueError(f'"size_bytes" must be in [{MIN_SIZE}, 1000000] B.')

    def sized(self, size_bytes: int) -> Config:
        """This configuration with its size fixed (``size_bytes`` if it had none)."""
        from dataclasses import replace

        return self if self.size_bytes is not None else replace(self, size_bytes=size_bytes)

    @property
    def name(self) -> str:
        size = "" if self.size_bytes is None else f" {_size_text(self.size_bytes)}"
        if self.system != "kafka":
            return f"{self.system} {self.client}{size}"
        rf = f" rf{self.replicas}" if self.replicas > 1 else ""
        return (
            f"{self.client} acks={self.acks} linger={self.linger_ms} {self.compression}{size}{rf}"
        )


def _size_text(n: int) -> str:
    for unit, scale in (("MB", 1_000_000), ("KB", 1_000)):
        if n >= scale and n % scale == 0:
            return f"{n // scale}{unit}"
    return f"{n}B"


def _one_factor_at_a_time() -> tuple[Config, ...]:
    """Baselines for each system, then each factor varied alone from the Kafka baseline
    (confluent-kafka, acks=1, linger 0, no compression, the run's size)."""
    base = Config("kafka", "confluent-kafka")
    return (
        Config("pubsub"),
        Config("pubsub", size_bytes=SIZES[-1]),
        Config("streams"),
        Config("streams", size_bytes=SIZES[-1]),
        base,
        Config("kafka", "kafka-python"),
        Config("kafka", "confluent-kafka", acks="all"),
        Config("kafka", "confluent-kafka", linger_ms=5),
        Config("kafka", "confluent-kafka", linger_ms=20),
        Config("kafka", "confluent-kafka", compression="lz4"),
        Config("kafka", "confluent-kafka", compression="zstd"),
        *(Config("kafka", "confluent-kafka", size_bytes=s) for s in SIZES[1:]),
    )


#: The named sets of configurations (the ``configs`` parameter).
CONFIGS: dict[str, tuple[Config, ...]] = {
    "default": _one_factor_at_a_time(),
    # The lesson's and the tests' short run: every system, both clients,
    # both acks, and 100 KB through kafka-python (its consumer decodes in Python: ~20 MB/s).
    "quick": (
        Config("pubsub"),
        Config("streams"),
        Config("kafka", "confluent-kafka"),
        Config("kafka", "confluent-kafka", acks="all"),
        Config("kafka", "kafka-python"),
        Config("kafka", "kafka-python", size_bytes=SIZES[-1]),
    ),
    # The workshop's short run: each learner takes the rate-lab slot for it, so the least
    # that shows the lab's lesson (larger messages, fewer messages a second): Pub/Sub, and
    # kafka-python at the run's size and at 100 KB.
    "workshop": (
        Config("pubsub"),
        Config("kafka", "kafka-python"),
        Config("kafka", "kafka-python", size_bytes=SIZES[-1]),
    ),
    # On the 3-broker cluster, where acks=all waits for a follower (the lab starts the
    # cluster if it is not running and stops the nodes it started).
    "acks": tuple(
        Config("kafka", client, acks=acks, replicas=3)
        for client in ("confluent-kafka", "kafka-python")
        for acks in ("1", "all")
    ),
    "sizes": tuple(
        Config(system, client, size_bytes=s)
        for system, client in (("pubsub", "redis-py"), ("kafka", "confluent-kafka"))
        for s in SIZES
    ),
    "clients": (Config("kafka", "confluent-kafka"), Config("kafka", "kafka-python")),
}

PARAMS = Params(
    (
        Param("configs", "default", "named set of configurations", choices=tuple(CONFIGS)),
        Param("slo_p99_ms", 50.0, "latency SLO: p99 at most this", 1, 5000, step=1, unit="ms"),
        Param("point_s", 1.0, "seconds of sending at each rate", 0.2, 10, step=0.1, unit="s"),
        Param(
            "min_rate_per_s", 250.0, "first rate of each sweep", *RATE_RANGE, step=10, unit="msg/s"
        ),
        Param(
            "max_rate_per_s", 128000.0, "last rate of a sweep", *RATE_RANGE, step=10, unit="msg/s"
        ),
        Param("steps", 10, "rates per sweep (a geometric series)", 1, 20),
        Param(
            "size_bytes",
            100,
            "message size where a configuration names none",
            24,
            1000000,
            unit="B",
        ),
        Param(
            "consumer_pause_ms",
            0.0,
            "the consumer stops once mid-point for this long (0: never)",
            0,
            5000,
            step=10,
            unit="ms",
        ),
    ),
    (
        Bound(
            "max_rate_per_s",
            "at least min_rate_per_s",
            low=lambda v: v["min_rate_per_s"],
        ),
        Bound(
            "consumer_pause_ms",
            "the pause fits in the second half of a point (at most point_s / 2)",
            high=lambda v: 500.0 * v["point_s"],
        ),
    ),
)


def rates(*, min_rate_per_s: float, max_rate_per_s: float, steps: int, **_) -> tuple[float, ...]:
    """The geometric series of target rates of one sweep.

    >>> rates(min_rate_per_s=250.0, max_rate_per_s=2000.0, steps=4)
    (250.0, 500.0, 1000.0, 2000.0)
    """
    if steps == 1 or max_rate_per_s == min_rate_per_s:
        return (float(min_rate_per_s),)
    ratio = (max_rate_per_s / min_rate_per_s) ** (1.0 / (steps - 1))
    return tuple(round(min_rate_per_s * ratio**i, 1) for i in range(steps))


#: The throughput twin (:class:`labs.twins.throughput.ThroughputTwin`): sweeps of 2 s points
#: from 1000 msg/s, high enough to reach Redis Pub/Sub's saturation, rates sqrt(2) apart.
TWIN = PARAMS.select("point_s", "min_rate_per_s", "max_rate_per_s", "steps", "size_bytes").narrow(
    point_s={"low": 0.5, "high": 5, "default": 2.0},
    min_rate_per_s={"low": 100, "high": 4000, "default": 1000.0},
    max_rate_per_s={"low": 8000, "default": 128000.0},
    steps={"low": 4, "default": 15},
    size_bytes={"high": 10000},
)

THROUGHPUT = Experiment(
    name="throughput",
    summary="latency-throughput envelope: rates until saturation, p50..p99.9, sustainable rate",
    params=PARAMS,
    lab="labs.throughput:run_throughput",
    lesson="19_performance",
    theory="latency flat below the service rate, the tail unbounded above it; "
    "sustainable rate = highest rate with p99 <= SLO",
    twins={"throughput": ("labs.twins.throughput:ThroughputTwin", TWIN)},
    short_run={"configs": "workshop", "point_s": 0.5},
)
