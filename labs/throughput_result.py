"""The throughput lab's result: points, per-configuration curves, JSON and a table.

A :class:`Point` is one configuration at one target rate (what was planned, sent and
received, the achieved rate, the latency percentiles from the intended send time, the CPU
per message of the sending and receiving threads); a :class:`Curve` is one configuration's
sweep (the rates tried and the sustainable rate for the SLO); a :class:`ThroughputResult`
holds them all. ``as_dict()`` is JSON-ready (an infinite latency -- a message never
received within its point -- becomes ``null``); ``table()`` is the text form. For the labs'
command line it answers ``to_dict()`` and ``summary()`` as a :class:`sim.Result` does.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from labs.experiments.throughput import Config
from labs.steal import percents, stolen


@dataclass(frozen=True)
class Described:
    """Which configuration a point or curve is of (see :class:`Config`)."""

    config: str
    system: str
    client: str
    acks: str
    linger_ms: int
    compression: str
    size_bytes: int
    replicas: int


def described(config: Config) -> dict[str, Any]:
    """The :class:`Described` fields of ``config`` (its size fixed)."""
    return dict(
        config=config.name,
        system=config.system,
        client=config.client,
        acks=config.acks,
        linger_ms=config.linger_ms,
        compression=config.compression,
        size_bytes=int(config.size_bytes or 0),
        replicas=config.replicas,
    )


@dataclass(frozen=True)
class Point(Described):
    """One configuration at one target rate (latencies in ms; ``inf``: not received)."""

    target_rate_per_s: float
    planned: int
    sent: int
    received: int
    achieved_rate_per_s: float
    p50_ms: float
    p95_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    #: Intended send time -> the broker's acknowledgement (PUBLISH/XADD reply, produce response).
    ack_p50_ms: float
    ack_p99_ms: float
    #: Thread CPU (``time.thread_time``) of the sending thread per message sent, of the
    #: receiving thread per message received; the whole process's per message received.
    send_cpu_us_per_msg: float
    recv_cpu_us_per_msg: float
    process_cpu_us_per_msg: float
    consumer_pause_ms: float
    #: Achieved >= 95 % of the target and p99 within the SLO.
    meets_slo: bool
    #: Achieved < 95 % of the target or p50 over the SLO: the queue grew (the sweep ends).
    saturated: bool
    #: Wall time of one wake-up of the sending thread (its ``send`` call: for Redis the
    #: pipeline's round trip, for Kafka handing the batch to the producer), per wake-up.
    send_busy_us_per_wake: float = math.nan
    #: Wake-ups of the sending thread (batches it sent).
    send_wakes: int = 0
    #: The spread of its wake-ups' wall times (``labs.throughput.spread``: the body's
    #: coefficient of variation, ``(p90 - p10) / (2.563 x median)``).
    send_busy_cv: float = math.nan
    #: Receive calls that brought messages of this point (``received / recv_batches``: how
    #: many a fetch or a socket read carried).
    recv_batches: int = 0
    #: Requests the client's own batching sent the messages in (kafka-python's produce
    #: batches; 0: each send call is one request -- Redis -- or the client does not say).
    send_requests: int = 0


@dataclass(frozen=True)
class Curve(Described):
    """One configuration's sweep: the rates tried, lowest first, and what each achieved."""

    rates_per_s: tuple[float, ...]
    achieved_per_s: tuple[float, ...]
    p99_ms: tuple[float, ...]
    #: Highest target rate whose point met the SLO (0 when none did).
    sustainable_rate_per_s: float
    #: The first saturated target rate (None: the sweep ended first).
    saturated_at_per_s: float | None
    #: Why the sweep ended: "saturated", "last rate" (the series ran out) or "bytes cap"
    #: (the next rate would move more than MAX_BYTES_PER_S).
    ended_by: str
    #: The host's steal share during the sweep (:mod:`labs.steal`; NaN: unknown).
    steal_share: float = math.nan


def curve_of(config: Config, points: Sequence[Point], ended_by: str) -> Curve:
    """The curve of ``config``'s points (in the order tried)."""
    ok = [p.target_rate_per_s for p in points if p.meets_slo]
    bad = [p.target_rate_per_s for p in points if p.saturated]
    return Curve(
        **described(config),
        rates_per_s=tuple(p.target_rate_per_s for p in points),
        achieved_per_s=tuple(p.achieved_rate_per_s for p in points),
        p99_ms=tuple(p.p99_ms for p in points),
        sustainable_rate_per_s=max(ok, default=0.0),
        saturated_at_per_s=min(bad, default=None),
        ended_by=ended_by,
    )


def json_ready(value: Any) -> Any:
    """``value`` for JSON: infinite or missing latencies as null, floats to 4 decimals."""
    if isinstance(value, float):
        return None if math.isinf(value) or math.isnan(value) else round(value, 4)
    if isinstance(value, list | tuple):
        return [json_ready(v) for v in value]
    if isinstance(value, dict):
        return {k: json_ready(v) for k, v in value.items()}
    return value


def _verdict(p: Point) -> str:
    return "saturated" if p.saturated else "SLO met" if p.meets_slo else "over SLO"


def _ms(v: float) -> str:
    return "lost" if math.isinf(v) else f"{v:.1f}"


@dataclass(frozen=True)
class ThroughputResult:
    """Every point and curve of one run of the throughput lab."""

    seed: int
    params: dict[str, Any]
    settings: dict[str, Any]
    points: tuple[Point, ...]
    curves: tuple[Curve, ...]
    wall_s: float
    name: str = "throughput"

    def curve(self, config: str) -> Curve:
        """The curve of the configuration named ``config``."""
        for c in self.curves:
            if c.config == config:
                return c
        raise KeyError(f"no configuration {config!r}; have {[c.config for c in self.curves]}")

    def points_of(self, config: str) -> tuple[Point, ...]:
        return tuple(p for p in self.points if p.config == config)

    @property
    def metrics(self) -> dict[str, float]:
        """``sustainable_rate_per_s:<config>`` for every curve (the lesson checks read it)."""
        return {f"sustainable_rate_per_s:{c.config}": c.sustainable_rate_per_s for c in self.curves}

    def as_dict(self) -> dict[str, Any]:
        return json_ready(
            {
                "name": self.name,
                "seed": self.seed,
                "params": self.params,
                "settings": self.settings,
                "wall_s": self.wall_s,
                "curves": [asdict(c) for c in self.curves],
                "points": [asdict(p) for p in self.points],
            }
        )

    def table(self) -> str:
        head = (
            f"{'configuration':<40} {'rate/s':>8} {'achieved':>9} {'p50':>7} {'p95':>7} "
            f"{'p99':>7} {'p99.9':>7} {'max':>7}  verdict"
        )
        lines = [f"throughput, SLO p99 <= {self.params['slo_p99_ms']:g} ms (latency in ms)", head]
        for p in self.points:
            lines.append(
                f"{p.config:<40} {p.target_rate_per_s:>8g} {p.achieved_rate_per_s:>9.0f} "
                f"{_ms(p.p50_ms):>7} {_ms(p.p95_ms):>7} {_ms(p.p99_ms):>7} "
                f"{_ms(p.p999_ms):>7} {_ms(p.max_ms):>7}  {_verdict(p)}"
            )
        lines.append("sustainable rate for the SLO:")
        for c in self.curves:
            steal = f", host steal {percents([c.steal_share])}" if stolen(c.steal_share) else ""
            lines.append(
                f"  {c.config:<40} {c.sustainable_rate_per_s:>8g} msg/s  (ended: {c.ended_by}"
                f"{steal})"
            )
        if any(stolen(c.steal_share) for c in self.curves):
            lines.append(
                "host steal: the VM's host ran something else on its cores for that share of "
                "the sweep's CPU time; every message due meanwhile waited, so that sweep's "
                "tail is partly the host's -- re-run it when the host is quieter."
            )
        lines.append(f"seed={self.seed}, {self.wall_s:.0f} s, run {self.settings['run_id']}")
        return "\n".join(lines)

    # The labs' command line prints any lab's result with these (as sim.Result's).
    to_dict = as_dict
    summary = table
