"""The broker models a scenario may use, in order: one line per model.

The order is the order of the topology's and the consumers' fields, of the readers in
every checker table, and of the SimPy processes each model starts (which decides ties on
the timeline): appending a model changes no earlier result.
"""

from __future__ import annotations

from sim.models.base import Model
from sim.models.kafka import KafkaModel
from sim.models.pubsub import PubSubModel
from sim.models.streams import StreamsModel

MODELS: tuple[Model, ...] = (
    PubSubModel(),
    KafkaModel(),
    StreamsModel(),
)
