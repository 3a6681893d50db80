"""Alert rules on a reader's lag, its rate or its acceleration.

:class:`AlertRule` and :func:`fires_at` evaluate a threshold rule on a lag series, its
rate or its *acceleration*, and say when it would fire (as a Prometheus rule with a
``for:`` clause would).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.analysis.result import Result, Series

SIGNALS = ("lag", "lag_rate", "lag_accel")
_UNITS = {"lag": "events", "lag_rate": "events/s", "lag_accel": "events/s²"}


@dataclass(frozen=True)
class AlertRule:
    """Fire when ``signal`` (the lag, its rate or its acceleration) stays at or above
    ``threshold`` for ``for_s`` seconds -- like a Prometheus rule's ``for:`` clause. Rates
    are taken over a trailing ``window_s`` (like ``deriv(lag[2s])``)."""

    name: str
    signal: str
    threshold: float
    for_s: float = 0.0
    window_s: float = 2.0

    def __post_init__(self) -> None:
        if self.signal not in SIGNALS:
            raise ValueError(
                f'AlertRule "signal" must be one of {list(SIGNALS)}, got {self.signal!r}.'
            )
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float):
            raise ValueError(f'AlertRule "threshold" must be a number, got {self.threshold!r}.')
        if (
            isinstance(self.for_s, bool)
            or not isinstance(self.for_s, int | float)
            or self.for_s < 0
        ):
            raise ValueError(f'AlertRule "for_s" must be a number >= 0, got {self.for_s!r}.')
        w = self.window_s
        if isinstance(w, bool) or not isinstance(w, int | float) or not w > 0:
            raise ValueError(f'AlertRule "window_s" must be a number > 0, got {w!r}.')


def signals(result: Result, reader: str, window_s: float = 2.0) -> dict[str, Series]:
    """The lag of ``reader``, its rate and its acceleration.

    Like a dashboard's ``deriv()`` over a window, the rate at ``t`` is the change of the lag
    over the trailing ``window_s`` seconds divided by ``window_s``, and the acceleration is
    the same difference taken on the rate -- causal (an alert cannot see the future) and
    smooth enough that arrival noise does not look like a trend. Both are 0 until a full
    window has passed. Works on simulator and lab results alike (any result with a
    ``lag:<reader>`` series).
    """
    s = result.series.get(f"lag:{reader}")
    if s is None:
        have = sorted(n for n in result.series if n.startswith("lag:"))
        raise KeyError(f"no lag series for reader {reader!r}; lag series: {have}")
    rate = _windowed(s.t, s.value, window_s)
    accel = _windowed(s.t, rate, window_s)
    return {
        "lag": Series("lag", s.t, s.value, "events"),
        "lag_rate": Series("lag_rate", s.t, rate, "events/s"),
        "lag_accel": Series("lag_accel", s.t, accel, "events/s²"),
    }


def _windowed(t: np.ndarray, v: np.ndarray, window_s: float) -> np.ndarray:
    """(v(t) - v(t - window)) / window on a sampled series (step-function lookup)."""
    out = np.zeros(v.size)
    if v.size < 2 or window_s <= 0:
        return out
    j = np.searchsorted(t, t - window_s, side="right") - 1
    ok = j >= 0
    out[ok] = (v[ok] - v[j[ok]]) / window_s
    return out


def fires_at(rule: AlertRule, result: Result, reader: str) -> float:
    """The time (s) at which ``rule`` fires on ``reader`` of ``result``; NaN if it never does."""
    s = signals(result, reader, rule.window_s)[rule.signal]
    above = s.value >= rule.threshold
    start = None
    for t, a in zip(s.t, above, strict=True):
        if not a:
            start = None
            continue
        start = t if start is None else start
        if t - start >= rule.for_s:
            return float(t)
    return float("nan")
