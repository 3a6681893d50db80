"""Deciding, and watching: event classes mapped to a tool, SLOs and alert rules.

- :mod:`~sim.course.decision.recommend` -- :class:`EventClass` and :func:`recommend`: the
  simulator run with an event class's numbers, mapped to Pub/Sub, Streams, Kafka or both;
- :mod:`~sim.course.decision.slo` -- :class:`SLO` and :func:`check_slo` for one reader;
- :mod:`~sim.course.decision.alerts` -- :class:`AlertRule` and :func:`fires_at` on lag,
  its rate and its acceleration;
- :mod:`~sim.course.decision.checklist` -- the production-readiness :data:`CHECKLIST`;
- :mod:`~sim.course.decision.schema` -- :func:`schema_problems`, BACKWARD / FORWARD / FULL
  schema compatibility (Avro's resolution rules);
- :mod:`~sim.course.decision.figures` -- :func:`recommendation_figure`, :func:`alerts_figure`;
- :mod:`~sim.course.decision.events_file` -- an architect's event classes from YAML;
- :mod:`~sim.course.decision.settings` -- the configuration a decision implies;
- :mod:`~sim.course.decision.record` -- :func:`decide`: the capstone's decision record.
"""

from sim.course.decision.alerts import SIGNALS, AlertRule, fires_at, signals
from sim.course.decision.checklist import CHECKLIST
from sim.course.decision.events_file import EventsFile, EventSpec
from sim.course.decision.events_file import load as load_events
from sim.course.decision.figures import alerts_figure, recommendation_figure
from sim.course.decision.recommend import (
    REDIS_PERSISTENCE,
    TOOLS,
    EventClass,
    Recommendation,
    Thresholds,
    ToolNumbers,
    recommend,
    scenario_for,
)
from sim.course.decision.record import DecisionRecord, decide
from sim.course.decision.schema import MODES, schema_problems
from sim.course.decision.slo import SLO, SLOCheck, check_slo, peak_lag, slo_table

__all__ = [
    "CHECKLIST",
    "DecisionRecord",
    "EventSpec",
    "EventsFile",
    "decide",
    "load_events",
    "MODES",
    "REDIS_PERSISTENCE",
    "SIGNALS",
    "SLO",
    "TOOLS",
    "AlertRule",
    "EventClass",
    "Recommendation",
    "SLOCheck",
    "Thresholds",
    "ToolNumbers",
    "alerts_figure",
    "check_slo",
    "fires_at",
    "peak_lag",
    "recommend",
    "recommendation_figure",
    "scenario_for",
    "schema_problems",
    "signals",
    "slo_table",
]
